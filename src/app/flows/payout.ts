/**
 * The buyer payout after the escrow was settled (HANDLERS.md §5.1–§5.3, PROTOCOL.md §6.2–§6.3),
 * at most once by construction (upstream #881/#883/#864/#893):
 *
 *  1. Under the order lock, on a fresh read: the order must be `settled-hold-invoice` with no
 *     payout claim, and LND must report its escrow SETTLED (a payout never precedes the settle —
 *     not even after a crash between a release/admin-settle claim and the settle).
 *  2. The target is resolved to a BOLT11 (Lightning address / LNURL first), decoded, amount-checked,
 *     and LND is asked about that payment hash. For the buyer's own BOLT11 a hash LND knows as paid
 *     or in flight is our earlier attempt (at-most-once); a freshly resolved Lightning-address /
 *     LNURL invoice whose hash LND already knows (paid, in flight or failed) is refused (a stale
 *     provider invoice must never "confirm" a payout the buyer never got, nor pay someone else). A
 *     hash that is another order's payout, or another order's buyer invoice, is refused.
 *  3. CLAIM: compare-and-set `payout_payment_hash := hash, payout_claimed_at := now,
 *     payout_claim_seq := seq + 1` on the order still settled-hold-invoice with no claim, the same
 *     buyer invoice and the same `payout_claim_seq` — BEFORE sending. (hash, seq) is the claim's
 *     identity: with a plain invoice every attempt pays the same hash, so the hash alone cannot tell
 *     attempt k from attempt k+1.
 *  4. Send, outside the lock and bounded by `lightning.payment_timeout_seconds`; a timeout or an
 *     ambiguous error leaves the claim in place (the payment may be in flight).
 *  5. Outcome, under the lock. FAILED → failure accounting (§5.3) and the claim cleared, by
 *     compare-and-set on (hash, seq): an answer about another claim changes nothing. SUCCEEDED →
 *     the buyer WAS paid: the order becomes `success` (purchase-completed, 38383 success, rate)
 *     whatever the claim bookkeeping says, so nothing can pay again. A success that cannot
 *     complete the order (already completed by another payment, or no longer awaiting a payout)
 *     is never silent: error log with order id and hash, `payout_lost_success_hash` recorded on the
 *     order for the operator, outcome `lost-success` / ReconcileSummary.lostSuccess.
 *
 * `reconcilePayouts` resolves left-over claims with trackPayment: a SUCCEEDED answer is acted on
 * at once; FAILED / unknown only for a claim older than the grace, re-read under the order lock
 * and still the claim that was asked about. Early aborts (no invoice, zero amount, unresolvable
 * address, LND unreachable) count as failed attempts and tell the buyer (fix of HQ-6/#864): a
 * settled escrow is never left without a payout attempt and a message.
 */
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { casUpdateOrder, claimPayout, findOrders, getOrder } from '../../db/orders.js';
import { deleteRangeRelease } from '../../db/range-releases.js';
import type { OrderRow } from '../../db/types.js';
import type { PaymentResult } from '../../lightning/backend.js';
import { decodeBolt11 } from '../../lightning/bolt11.js';
import { isLightningAddress, isLnurl } from '../../lightning/lnurl.js';
import { recordResolvedInvoice } from '../../db/resolved-invoices.js';
import { routingFeeLimit } from '../../lightning/routing-fee.js';
import { buildMessage } from '../../protocol/build.js';
import { closeDispute } from './dispute-close.js';
import { commitWithNotices, type Notice } from './notices.js';
import { settleEscrow } from './escrow.js';
import { buyerAmount, toSmallOrder } from './order-view.js';
import { publishOrder } from './publish.js';
import { dueRangeChild, insertChild, rangeChildNotice } from './range-child.js';

/** What one payout attempt ended with. */
export type PayoutOutcome =
  /** Nothing to do (not payable, already claimed, escrow not settled, lost a race). */
  | 'skipped'
  | 'succeeded'
  /** A failed attempt was recorded (failure accounting ran). */
  | 'failed'
  /** The payment is (or may be) in flight: the claim stays for reconcilePayouts. */
  | 'pending'
  /**
   * LND reports the payment SUCCEEDED but the order could not be completed by it (already
   * completed by another payment, or no longer awaiting a payout): logged at error and recorded
   * in `payout_lost_success_hash`. An operator must look.
   */
  | 'lost-success';

/** The identity of one payout claim: its payment hash and its `payout_claim_seq`. */
export interface PayoutClaim {
  hash: string;
  seq: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** LND's own path-finding timeout used by mostrod (seconds). */
const LND_PAYMENT_TIMEOUT = 60;

function lockKey(orderId: string): string {
  return `order:${orderId}`;
}

/**
 * Start the buyer payout of `orderId` in the background (tracked by ctx.tasks) and return at once.
 * `requestId` is the release / admin-settle request id: echoed on `rate` after a success and on
 * `payment-failed` / `add-invoice` after a failure.
 */
export function startPayout(ctx: AppContext, orderId: string, requestId: bigint | null): void {
  const run = async (): Promise<PayoutOutcome> => {
    // The durable "payout started" mark: the release paths wrote it before their notices already
    // (then this is a no-op); written here too for any other caller.
    await markPayoutStarted(ctx, orderId);
    return attemptPayout(ctx, orderId, requestId);
  };
  void ctx.tasks.track(
    run().catch((err: unknown) => {
      ctx.logger.error({ err, orderId }, 'payout attempt failed unexpectedly');
      return 'skipped' as const;
    }),
  );
}

/** One payout attempt (steps 1–5 above). Exported for jobs and tests; handlers use startPayout. */
export async function attemptPayout(ctx: AppContext, orderId: string, requestId: bigint | null): Promise<PayoutOutcome> {
  const log = ctx.logger.child({ orderId, flow: 'payout' });
  const prepared = await ctx.locks.run(lockKey(orderId), () => prepareAndClaim(ctx, orderId, requestId));
  if (prepared.kind === 'done') return prepared.outcome;
  const { claim, paymentRequest, amountSats, amountless, priorState } = prepared;
  const { hash } = claim;

  const boundMs = Math.max(1, ctx.settings.lightning.payment_timeout_seconds) * 1000;
  let result: PaymentResult | null;
  try {
    result = await bounded(
      ctx.lightning.sendPayment({
        paymentRequest,
        ...(amountless ? { amountSats } : {}),
        feeLimitSats: routingFeeLimit(amountSats, ctx.settings.mostro.max_routing_fee),
        timeoutSeconds: Math.max(1, Math.min(LND_PAYMENT_TIMEOUT, Math.floor(ctx.settings.lightning.payment_timeout_seconds))),
      }),
      boundMs,
    );
  } catch (err) {
    // Ambiguous: the payment may or may not have reached LND. Ask by hash.
    log.warn({ err, hash, seq: claim.seq }, 'sendPayment failed; asking LND about the payment');
    try {
      result = await ctx.lightning.trackPayment(hash);
    } catch (trackErr) {
      log.error({ err: trackErr, hash }, 'trackPayment failed; the claim stays for reconciliation');
      return 'pending';
    }
    if (result.state === 'unknown') {
      // LND never saw this hash: nothing was sent. Count the attempt, clear the claim.
      result = { hash, state: 'failed', failureReason: `send failed: ${(err as Error).message}` };
    } else if (result.state === 'failed' && priorState === 'failed') {
      // LND's FAILED may be an earlier attempt's on the same invoice, not this one's: leave the
      // claim for reconciliation, which decides after the grace.
      log.warn({ hash, seq: claim.seq }, 'LND reports an earlier failure of this invoice; the claim stays for reconciliation');
      return 'pending';
    }
  }
  if (result === null) {
    log.warn({ hash, boundMs }, 'payout still in flight after the bound; left for reconciliation');
    return 'pending';
  }
  const final = result;
  return ctx.locks.run(lockKey(orderId), () => applyResult(ctx, orderId, claim, final, requestId));
}

type Prepared =
  | { kind: 'done'; outcome: PayoutOutcome }
  | {
      kind: 'send';
      claim: PayoutClaim;
      paymentRequest: string;
      amountSats: number;
      amountless: boolean;
      priorState: PaymentResult['state'];
    };

async function prepareAndClaim(ctx: AppContext, orderId: string, requestId: bigint | null): Promise<Prepared> {
  const log = ctx.logger.child({ orderId, flow: 'payout' });
  const done = (outcome: PayoutOutcome): Prepared => ({ kind: 'done', outcome });

  const o = await getOrder(ctx.db, orderId);
  if (o === undefined || o.status !== 'settled-hold-invoice' || o.payout_payment_hash !== null) return done('skipped');
  // A failure before any claim is written against "no claim, this claim sequence".
  const fail = async (reason: string): Promise<Prepared> => {
    log.warn({ reason }, 'payout attempt failed before sending');
    const recorded = await recordFailure(ctx, orderId, { hash: null, seq: o.payout_claim_seq }, requestId, reason);
    return done(recorded ? 'failed' : 'skipped');
  };
  const refuseForeignHash = (otherOrders: string[]): Promise<Prepared> => {
    log.error({ otherOrders }, 'payout invoice hash belongs to another order’s payout; refused');
    return fail('the invoice was already used for another order’s payout');
  };

  // Never pay before the escrow is settled in LND.
  if (o.hash === null) {
    log.error('settled-hold-invoice order without a hold invoice hash; not paying');
    return done('skipped');
  }
  let escrow: string;
  try {
    escrow = (await ctx.lightning.lookupInvoice(o.hash))?.state ?? 'unknown';
  } catch (err) {
    return fail(`lightning node unreachable: ${(err as Error).message}`);
  }
  if (escrow !== 'settled') {
    log.error({ escrow }, 'escrow not settled in LND; payout postponed (reconcilePayouts settles interrupted claims)');
    return done('skipped');
  }

  const amountSats = buyerAmount(o);
  const target = o.buyer_invoice?.trim() ?? '';
  if (target === '') return fail('order has no buyer invoice');
  if (amountSats <= 0) return fail('payout amount is zero');

  let paymentRequest = target;
  const resolved = isLightningAddress(target) || isLnurl(target);
  if (resolved) {
    try {
      paymentRequest = await ctx.lnurl.resolveInvoice(target, amountSats, {
        nodeNetwork: ctx.lightning.info?.networks[0] ?? null,
        maxFinalCltvDelta: ctx.settings.lightning.max_invoice_final_cltv_delta,
        now: ctx.clock.now(),
      });
    } catch (err) {
      return fail(`could not resolve ${target}: ${(err as Error).message}`);
    }
    // Record which order this invoice was resolved for BEFORE anything else may await (finding
    // F6): a provider that hands the same invoice to two orders must not let the second one claim
    // and pay it (its sats would go to the first order's buyer) while the first is still deciding.
    let resolvedHash: string;
    try {
      resolvedHash = decodeBolt11(paymentRequest).hash.toLowerCase();
    } catch (err) {
      return fail(`invalid payment request from ${target}: ${(err as Error).message}`);
    }
    const owner = await recordResolvedInvoice(ctx.db, resolvedHash, o.id, target, ctx.clock.now());
    if (owner !== o.id) {
      log.error({ hash: resolvedHash, target, otherOrder: owner }, 'freshly resolved invoice was resolved for another order first; refused');
      return fail(`the invoice ${target} resolved to was already issued for another order (reused invoice)`);
    }
  }
  let hash: string;
  let amountless: boolean;
  try {
    const decoded = await ctx.lightning.decodePaymentRequest(paymentRequest);
    hash = decoded.hash.toLowerCase();
    amountless = decoded.amountMsat === 0n;
    if (!amountless && decoded.amountMsat !== BigInt(amountSats) * 1000n) {
      return fail(`invoice is for ${decoded.amountMsat} msat, expected ${amountSats * 1000}`);
    }
  } catch (err) {
    return fail(`invalid payment request: ${(err as Error).message}`);
  }
  if (!HEX64.test(hash)) return fail('payment request has a malformed payment hash');

  // A hash that is (or was) another order's payout is never this order's payout; nor is a freshly
  // resolved invoice that another order's buyer gave as their own.
  const others = (await findOrders(ctx.db, { payout_payment_hash: hash })).filter((x) => x.id !== o.id);
  if (others.length > 0) return refuseForeignHash(others.map((x) => x.id));
  if (resolved) {
    const owners = (await findOrders(ctx.db, { buyer_invoice: paymentRequest })).filter((x) => x.id !== o.id);
    if (owners.length > 0) {
      log.error({ hash, target, otherOrders: owners.map((x) => x.id) }, 'freshly resolved invoice is another order’s buyer invoice; refused');
      return fail(`the invoice ${target} resolved to belongs to another order`);
    }
  }

  // Ask LND about this hash before (re)paying: a previous attempt may have succeeded or be in flight.
  let prior: PaymentResult;
  try {
    prior = await ctx.lightning.trackPayment(hash);
  } catch (err) {
    return fail(`lightning node unreachable: ${(err as Error).message}`);
  }
  if (resolved && prior.state !== 'unknown') {
    // A freshly resolved invoice is new by definition: one LND already knows is a stale/reused
    // invoice from the buyer's provider. Paid or in flight, taking it as this order's payout would
    // mark the order paid while the buyer got nothing; failed, it may be an invoice issued for
    // someone else (another order's address), whom paying it now would pay instead.
    log.error({ hash, target, prior: prior.state }, 'freshly resolved invoice is already known to LND; refused (not this order’s payment)');
    return fail(`the invoice ${target} resolved to is already known to the node (${prior.state}; reused invoice)`);
  }

  const seq = await claimPayout(ctx.db, o.id, { buyer_invoice: o.buyer_invoice, payout_claim_seq: o.payout_claim_seq }, hash, ctx.clock.now());
  if (seq === null) {
    // Lost: either the order changed, or another order claimed this hash meanwhile.
    const taken = (await findOrders(ctx.db, { payout_payment_hash: hash })).filter((x) => x.id !== o.id);
    if (taken.length > 0) return refuseForeignHash(taken.map((x) => x.id));
    log.info('payout claim lost (order changed); skipping');
    return done('skipped');
  }
  const claim: PayoutClaim = { hash, seq };
  log.info({ hash, seq: claim.seq, amountSats, prior: prior.state }, 'payout claimed');

  if (prior.state === 'succeeded') return done(successOutcome(await finishSuccess(ctx, o.id, hash, requestId)));
  if (prior.state === 'in_flight') {
    log.warn({ hash }, 'payment already in flight in LND; left for reconciliation');
    return done('pending');
  }
  return { kind: 'send', claim, paymentRequest, amountSats, amountless, priorState: prior.state };
}

async function applyResult(
  ctx: AppContext,
  orderId: string,
  claim: PayoutClaim,
  result: PaymentResult,
  requestId: bigint | null,
): Promise<PayoutOutcome> {
  switch (result.state) {
    case 'succeeded':
      return successOutcome(await finishSuccess(ctx, orderId, claim.hash, requestId));
    case 'failed':
      return (await recordFailure(ctx, orderId, claim, requestId, result.failureReason ?? 'payment failed')) ? 'failed' : 'skipped';
    case 'in_flight':
    case 'unknown':
      ctx.logger.warn({ orderId, hash: claim.hash, seq: claim.seq, state: result.state }, 'payout not final; left for reconciliation');
      return 'pending';
  }
}

/** What finishSuccess did. */
type SuccessResult =
  /** This call completed the order (and notified the buyer). */
  | 'completed'
  /** The order was already completed by this same payment (nothing sent). */
  | 'already'
  /** The payment could not complete the order (see PayoutOutcome 'lost-success'). */
  | 'lost';

function successOutcome(r: SuccessResult): PayoutOutcome {
  return r === 'completed' ? 'succeeded' : r === 'already' ? 'skipped' : 'lost-success';
}

/**
 * LND reports the payment to `hash` SUCCEEDED (caller holds the order lock; `hash` was claimed by
 * this order): the buyer was paid. A `settled-hold-invoice` order becomes `success` with
 * `payout_payment_hash := hash` — whatever the claim bookkeeping says, so nothing pays again —
 * then `purchase-completed` to the buyer (request_id null), 38383 `success`, `rate` to the buyer
 * with the triggering request id. An order already completed by this hash is left alone; any
 * other state is a lost success: error log, `payout_lost_success_hash` recorded, nothing sent.
 */
async function finishSuccess(ctx: AppContext, orderId: string, hash: string, requestId: bigint | null): Promise<SuccessResult> {
  const log = ctx.logger.child({ orderId, flow: 'payout' });
  for (let round = 0; round < 3; round += 1) {
    const o = await getOrder(ctx.db, orderId);
    if (o === undefined) {
      log.error({ hash }, 'CRITICAL: buyer payout SUCCEEDED for an order that no longer exists');
      return 'lost';
    }
    if (o.status === 'success' && o.payout_payment_hash === hash) return 'already';
    if (o.status !== 'settled-hold-invoice') {
      log.error(
        { hash, status: o.status, completedBy: o.payout_payment_hash },
        o.status === 'success'
          ? 'CRITICAL: buyer payout SUCCEEDED but the order was already completed by another payment — the buyer was paid twice; ACTION REQUIRED'
          : 'CRITICAL: buyer payout SUCCEEDED but the order no longer awaits a payout; ACTION REQUIRED',
      );
      await recordLostSuccess(ctx, o, hash);
      return 'lost';
    }
    if (o.payout_payment_hash !== null && o.payout_payment_hash !== hash) {
      log.error(
        { hash, outstanding: o.payout_payment_hash, seq: o.payout_claim_seq },
        'CRITICAL: buyer payout SUCCEEDED while another payout claim is outstanding; completing the order — if that payment also succeeds the buyer is paid twice',
      );
    } else if (o.payout_payment_hash === null) {
      log.warn({ hash }, 'buyer payout SUCCEEDED after its claim was resolved; completing the order (the buyer was paid)');
    }
    const buyer = o.buyer_pubkey;
    // The notices are stored with the status change (flows/notices.ts): delivered whatever crash follows.
    const won = await commitWithNotices(
      ctx,
      (trx) =>
        casUpdateOrder(
          trx,
          orderId,
          { status: 'settled-hold-invoice', payout_payment_hash: o.payout_payment_hash, payout_claim_seq: o.payout_claim_seq },
          { status: 'success', payout_payment_hash: hash },
        ),
      buyer === null
        ? []
        : [
            [buyer, buildMessage({ action: 'purchase-completed', id: orderId, requestId: null })],
            [buyer, buildMessage({ action: 'rate', id: orderId, requestId })],
          ],
    );
    if (!won) continue; // the row changed between the read and the write: decide again on a fresh read
    log.info({ hash }, 'buyer paid; order completed');
    const done: OrderRow = { ...o, status: 'success', payout_payment_hash: hash };
    await publishOrder(ctx, done);
    if (buyer === null) log.error('completed order has no buyer trade key; buyer not notified');
    return 'completed';
  }
  log.error({ hash }, 'CRITICAL: buyer payout SUCCEEDED but the order kept changing; ACTION REQUIRED');
  const latest = await getOrder(ctx.db, orderId);
  if (latest !== undefined) await recordLostSuccess(ctx, latest, hash);
  return 'lost';
}

/** Record a lost success on the order (first one wins; later ones are only logged). */
async function recordLostSuccess(ctx: AppContext, o: OrderRow, hash: string): Promise<void> {
  const recorded = await casUpdateOrder(ctx.db, o.id, { payout_lost_success_hash: null }, { payout_lost_success_hash: hash });
  if (!recorded) {
    ctx.logger.error({ orderId: o.id, hash, recorded: o.payout_lost_success_hash }, 'order already carries a lost payout success');
  }
}

/**
 * Failure accounting (`check_failure_retries`, HANDLERS.md §5.3; caller holds the order lock).
 * `claim` is the claim being resolved — `{ hash: null, seq }` for a failure before any claim,
 * with the `payout_claim_seq` read by that attempt. Nothing happens unless the order still holds
 * exactly that claim: an answer about another attempt (even on the same invoice) is ignored. With
 * P = lightning.payment_attempts: first failure (payment_attempts was 0) → `payment-failed`
 * {payment_attempts: P − 1, payment_retries_interval}; a failure that brings the counter to P →
 * `add-invoice` with the full order (amount − fee) asking for a new invoice (also after a first
 * failure when P ≤ 1 — 0.17.1 never asked in that case). Both echo `requestId`. The counters and
 * the cleared claim are written with one compare-and-set. Returns false if the order moved on.
 */
async function recordFailure(
  ctx: AppContext,
  orderId: string,
  claim: { hash: string | null; seq: number },
  requestId: bigint | null,
  reason: string,
): Promise<boolean> {
  const o = await getOrder(ctx.db, orderId);
  if (
    o === undefined ||
    o.status !== 'settled-hold-invoice' ||
    o.payout_payment_hash !== claim.hash ||
    o.payout_claim_seq !== claim.seq
  ) {
    ctx.logger.info(
      { orderId, hash: claim.hash, seq: claim.seq, current: o && { hash: o.payout_payment_hash, seq: o.payout_claim_seq, status: o.status } },
      'payout failure is about a claim the order no longer holds; ignored',
    );
    return false;
  }
  const P = ctx.settings.lightning.payment_attempts;
  const first = o.payment_attempts === 0;
  let failed = o.failed_payment;
  let attempts = o.payment_attempts;
  if (failed === 0) {
    failed = 1;
    attempts = 1;
  } else if (attempts < P) {
    attempts += 1;
  }
  const updated: OrderRow = { ...o, failed_payment: failed, payment_attempts: attempts, payout_payment_hash: null };
  const buyer = o.buyer_pubkey;
  const notices: Notice[] = [];
  if (buyer !== null && first) {
    notices.push([
      buyer,
      buildMessage({
        action: 'payment-failed',
        id: orderId,
        requestId,
        payload: {
          payment_failed: {
            payment_attempts: Math.max(0, P - 1),
            payment_retries_interval: ctx.settings.lightning.payment_retries_interval,
          },
        },
      }),
    ]);
  }
  const amount = buyerAmount(o);
  if (buyer !== null && attempts >= P && amount > 0) {
    notices.push([
      buyer,
      buildMessage({ action: 'add-invoice', id: orderId, requestId, payload: { order: toSmallOrder(updated, { amount }) } }),
    ]);
  }
  // The notices are stored with the failure count (flows/notices.ts): the buyer is asked for a new
  // invoice whatever crash follows (a lost add-invoice would leave the order waiting for nobody).
  const won = await commitWithNotices(
    ctx,
    (trx) =>
      casUpdateOrder(
        trx,
        orderId,
        {
          status: 'settled-hold-invoice',
          payout_payment_hash: claim.hash,
          payout_claim_seq: claim.seq,
          failed_payment: o.failed_payment,
          payment_attempts: o.payment_attempts,
        },
        { failed_payment: failed, payment_attempts: attempts, payout_payment_hash: null, payout_claimed_at: ctx.clock.now() },
      ),
    notices,
  );
  if (!won) return false;
  ctx.logger.warn({ orderId, hash: claim.hash, seq: claim.seq, reason, attempts, of: P }, 'buyer payout failed');
  if (buyer === null) {
    ctx.logger.error({ orderId }, 'failed payout on an order without a buyer trade key; buyer not notified');
  } else if (attempts >= P && amount <= 0) {
    ctx.logger.error({ orderId }, 'payout amount is zero; cannot ask the buyer for a new invoice');
  }
  return true;
}

/**
 * Retry job body (every `payment_retries_interval` s): every `settled-hold-invoice` order without
 * a payout claim that is due — failed attempts below `payment_attempts` (as 0.17.1), and started
 * payouts whose claim was cleared without a counted failure. An order whose payout never started
 * (the process stopped between the settle and the release's notices, HQ-6) is left to
 * reconcilePayouts, which sends those notices first. Attempts run concurrently (each bounded);
 * resolves when all of them ended.
 */
export async function retryFailedPayouts(ctx: AppContext): Promise<PayoutOutcome[]> {
  const P = ctx.settings.lightning.payment_attempts;
  const due = (await findOrders(ctx.db, { status: 'settled-hold-invoice', payout_payment_hash: null })).filter(
    (o) => (o.failed_payment === 0 || o.payment_attempts < P) && !payoutNeverStarted(o),
  );
  return Promise.all(
    due.map((o) =>
      ctx.tasks.track(
        attemptPayout(ctx, o.id, null).catch((err: unknown) => {
          ctx.logger.error({ err, orderId: o.id }, 'payout retry failed unexpectedly');
          return 'skipped' as const;
        }),
      ),
    ),
  );
}

export interface ReconcileOptions {
  /**
   * A claim is only failed or cleared on LND's FAILED / unknown answer when it is older than this
   * (seconds), so the answer is about this claim's own payment and not one LND has yet to register
   * (or an earlier attempt on the same invoice). Default: 2 × payment_timeout_seconds. A SUCCEEDED
   * answer is final and acted on at any age.
   */
  graceSeconds?: number;
}

export interface ReconcileSummary {
  /** Orders completed on LND's SUCCEEDED answer. */
  succeeded: number;
  /** Failed attempts recorded (failure accounting ran). */
  failed: number;
  inFlight: number;
  /** Claims LND never saw: cleared and paid again. */
  retried: number;
  /** Interrupted settlements (status settled-hold-invoice, escrow still accepted) settled now. */
  settled: number;
  /** Settled escrows whose payout never started (release cut short after the settle): notified and paid now. */
  resumed: number;
  /** FAILED / unknown answers not acted on: the claim is younger than the grace, or was replaced meanwhile. */
  deferred: number;
  /**
   * Payments LND reports SUCCEEDED that could not complete their order (PayoutOutcome
   * 'lost-success'; logged at error, recorded in `payout_lost_success_hash`).
   */
  lostSuccess: number;
}

/**
 * Boot + periodic job: resolve every payout claim against LND BEFORE anything else may pay. The
 * order is listed with its claim (hash, seq), LND is asked outside the lock, and the answer is
 * applied under the order lock on a fresh read, only to that same claim:
 *  - SUCCEEDED → success flow (request_id null) — at any age: the buyer was paid;
 *  - IN_FLIGHT → left alone;
 *  - FAILED → failure accounting, claim cleared (the retry job pays again later) — only for a
 *    claim older than the grace that the order still holds;
 *  - UNKNOWN (the payment never reached LND), same conditions → claim cleared, paid again.
 * It also finishes releases cut short by a crash (finishSettledClaim): an order already claimed as
 * `settled-hold-invoice` (by release / admin-settle) whose escrow is still ACCEPTED is settled now
 * — the claim is the recorded decision — and one whose escrow is SETTLED but whose payout never
 * started is resumed; both get the release notices again and are then paid.
 */
export async function reconcilePayouts(ctx: AppContext, opts: ReconcileOptions = {}): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { succeeded: 0, failed: 0, inFlight: 0, retried: 0, settled: 0, resumed: 0, deferred: 0, lostSuccess: 0 };
  const grace = opts.graceSeconds ?? 2 * ctx.settings.lightning.payment_timeout_seconds;
  const orders = await findOrders(ctx.db, { status: 'settled-hold-invoice' });
  for (const listed of orders) {
    const log = ctx.logger.child({ orderId: listed.id, flow: 'payout-reconcile' });
    try {
      if (listed.payout_payment_hash === null) {
        const finished = await finishSettledClaim(ctx, listed.id);
        if (finished !== null) summary[finished] += 1;
        continue;
      }
      const claim: PayoutClaim = { hash: listed.payout_payment_hash, seq: listed.payout_claim_seq };
      let r: PaymentResult;
      try {
        r = await ctx.lightning.trackPayment(claim.hash);
      } catch (err) {
        log.error({ err, hash: claim.hash }, 'trackPayment failed; claim left for the next reconciliation');
        continue;
      }
      switch (r.state) {
        case 'succeeded': {
          const done = await ctx.locks.run(lockKey(listed.id), () => finishSuccess(ctx, listed.id, claim.hash, null));
          if (done === 'completed') summary.succeeded += 1;
          if (done === 'lost') summary.lostSuccess += 1;
          break;
        }
        case 'in_flight':
          summary.inFlight += 1;
          break;
        case 'failed':
        case 'unknown': {
          const applied = await ctx.locks.run(lockKey(listed.id), async () => {
            // Fresh read under the lock: the answer is about `claim` only.
            const o = await getOrder(ctx.db, listed.id);
            if (o === undefined || o.status !== 'settled-hold-invoice' || o.payout_payment_hash !== claim.hash || o.payout_claim_seq !== claim.seq) {
              log.info({ hash: claim.hash, seq: claim.seq, state: r.state }, 'claim changed while LND was asked; answer discarded');
              return 'deferred' as const;
            }
            if (ctx.clock.now() - (o.payout_claimed_at ?? 0) < grace) return 'deferred' as const;
            if (r.state === 'failed') {
              return (await recordFailure(ctx, listed.id, claim, null, r.failureReason ?? 'payment failed')) ? ('failed' as const) : ('deferred' as const);
            }
            const cleared = await casUpdateOrder(
              ctx.db,
              listed.id,
              { status: 'settled-hold-invoice', payout_payment_hash: claim.hash, payout_claim_seq: claim.seq },
              { payout_payment_hash: null },
            );
            if (!cleared) return 'deferred' as const;
            log.warn({ hash: claim.hash, seq: claim.seq }, 'payout claim unknown to LND (never sent); cleared and paying again');
            return 'retried' as const;
          });
          summary[applied] += 1;
          if (applied === 'retried') startPayout(ctx, listed.id, null);
          break;
        }
      }
    } catch (err) {
      log.error({ err }, 'payout reconciliation of this order failed');
    }
  }
  if (summary.lostSuccess > 0) ctx.logger.error({ lostSuccess: summary.lostSuccess }, 'payout reconciliation found payments that could not complete their order');
  return summary;
}

/**
 * True while a `settled-hold-invoice` order's payout has never started: no start mark, no claim
 * ever, no attempt counted — so its release notices were never sent (the release paths write the
 * mark right before them). The retry job leaves it to reconciliation, which sends them first.
 */
function payoutNeverStarted(o: OrderRow): boolean {
  return (
    o.payout_payment_hash === null &&
    o.payout_claimed_at === null &&
    o.payout_claim_seq === 0 &&
    o.payment_attempts === 0 &&
    o.failed_payment === 0
  );
}

/**
 * `payout_claimed_at := now` on a settled-hold-invoice order without a claim that never had one:
 * the durable mark that the release's (or admin-settle's) notices went out and its payout started.
 * The release paths store their notices in the mark's transaction (flows/notices.ts), so a
 * restart's reconciliation (reconcilePayouts, finishSettledClaim) sends them only when the mark is
 * missing, and the durable outbox delivers the stored ones whatever crash follows.
 * Every attempt after this keeps payout_claimed_at set (claim time, or the time of the last failure).
 * Idempotent: false (and no notice stored) when the mark (or a claim) is already there.
 */
export async function markPayoutStarted(
  ctx: AppContext,
  orderId: string,
  notices: readonly Notice[] = [],
  alsoWhenWon?: (trx: Executor) => Promise<void>,
): Promise<boolean> {
  return commitWithNotices(
    ctx,
    async (trx) => {
      const won = await casUpdateOrder(
        trx,
        orderId,
        { status: 'settled-hold-invoice', payout_payment_hash: null, payout_claimed_at: null },
        { payout_claimed_at: ctx.clock.now() },
      );
      if (won && alsoWhenWon !== undefined) await alsoWhenWon(trx);
      return won;
    },
    notices,
  );
}

/**
 * The payout-started mark of a release (the seller's, or one finished by the payout reconciliation
 * or by LND's SETTLED update): the release notices (releaseNotices) and, for a range order the
 * seller released, its child order (dueRangeChild) — INSERTed in the mark's transaction, announced
 * to the maker by a `new-order` stored with the notices, published after the commit. The
 * transaction also deletes the release record. So the child exists only once the escrow is
 * settled (never for a release whose settle did not happen), is created by whichever path writes
 * the mark, and is announced once. A child that cannot be inserted is dropped (logged) and the
 * mark is written without it: it never blocks the payout (#873).
 */
export async function markReleased(ctx: AppContext, o: OrderRow, sellerRequestId: bigint | null): Promise<boolean> {
  const { create, announce } = await dueRangeChild(ctx, o);
  const childNotice = announce === null ? null : await rangeChildNotice(ctx, o, announce, sellerRequestId);
  const mark = (child: OrderRow | null, notice: Notice | null) =>
    markPayoutStarted(ctx, o.id, releaseNotices(o, sellerRequestId, notice), async (trx) => {
      if (child !== null) await insertChild(trx, child);
      if (o.min_amount !== null && o.max_amount !== null) await deleteRangeRelease(trx, o.id);
    });
  let won: boolean;
  let created = create;
  try {
    won = await mark(create, childNotice);
  } catch (err) {
    if (create === null) throw err;
    ctx.logger.error({ err, orderId: o.id, childId: create.id }, 'range child order could not be created; release finished without it');
    created = null;
    won = await mark(null, null);
  }
  if (won && created !== null) {
    ctx.logger.info({ orderId: o.id, childId: created.id }, 'range child order created');
    await publishOrder(ctx, created);
  }
  return won;
}

/**
 * What a release tells the parties: `released` to the buyer, the range child's `new-order` to its
 * maker (when one was created, rangeChildNotice), `hold-invoice-payment-settled` and `rate` to the
 * seller.
 */
export function releaseNotices(
  o: Pick<OrderRow, 'id' | 'buyer_pubkey' | 'seller_pubkey'>,
  sellerRequestId: bigint | null,
  childNotice: Notice | null = null,
): Notice[] {
  const out: Notice[] = [];
  if (o.buyer_pubkey !== null) out.push([o.buyer_pubkey, buildMessage({ action: 'released', id: o.id, requestId: null })]);
  if (childNotice !== null) out.push(childNotice);
  if (o.seller_pubkey !== null) {
    out.push([o.seller_pubkey, buildMessage({ action: 'hold-invoice-payment-settled', id: o.id, requestId: sellerRequestId })]);
    out.push([o.seller_pubkey, buildMessage({ action: 'rate', id: o.id, requestId: null })]);
  }
  return out;
}

/**
 * A `settled-hold-invoice` order with no payout claim, whose release (or admin-settle) a crash may
 * have cut short — under the order lock, and only if nobody in this process held that lock when
 * we asked for it (a release still running sends its own notices and starts its own payout):
 *  - escrow still ACCEPTED (interrupted settle): settle it now — the claim is the recorded decision;
 *  - escrow SETTLED but the payout never started (payoutNeverStarted: the release paths write the
 *    mark right before their notices): the crash hit between the settle and those notices.
 * In both cases the payout-started mark is written, the open dispute is closed, the release
 * notices go out (`released` → buyer, `hold-invoice-payment-settled` and `rate` → seller,
 * request_id null), and the payout starts — inside the lock, so it runs before anyone else may
 * look at the order. (Messages live in memory: ones queued but not yet published when a process
 * dies are lost. The mark is written before the notices, so they are never sent twice.)
 */
async function finishSettledClaim(ctx: AppContext, orderId: string): Promise<'settled' | 'resumed' | null> {
  if (ctx.locks.isHeld(lockKey(orderId))) return null;
  return ctx.locks.run(lockKey(orderId), async () => {
    const o = await getOrder(ctx.db, orderId);
    if (o === undefined || o.status !== 'settled-hold-invoice' || o.payout_payment_hash !== null || o.hash === null) {
      return null;
    }
    let state: string;
    try {
      state = (await ctx.lightning.lookupInvoice(o.hash))?.state ?? 'unknown';
    } catch (err) {
      ctx.logger.error({ err, orderId }, 'escrow lookup failed during payout reconciliation');
      return null;
    }
    let outcome: 'settled' | 'resumed';
    if (state === 'settled') {
      if (!payoutNeverStarted(o)) return null;
      ctx.logger.warn({ orderId }, 'escrow settled but the payout never started (release cut short); notifying and paying now');
      outcome = 'resumed';
    } else if (state === 'accepted') {
      ctx.logger.warn({ orderId }, 'escrow claimed for settlement but still held (interrupted settle); settling now');
      await settleEscrow(ctx, o);
      outcome = 'settled';
    } else {
      ctx.logger.error({ orderId, state }, 'order is settled-hold-invoice but its escrow is neither settled nor held; needs an operator');
      return null;
    }
    // The crash also lost the release's notifications: close an open dispute and tell both parties
    // (as release does) before the payout starts. The notices are stored with the payout-started
    // mark (flows/notices.ts), so they are sent once whatever crash follows.
    // A range order's child is created (or announced) with the mark, as release does.
    await closeDispute(ctx, o, 'settled');
    if (!(await markReleased(ctx, o, null))) return null;
    startPayout(ctx, o.id, null);
    return outcome;
  });
}

/** `p`, or null if it does not settle within `ms` (p keeps running; its result is then ignored). */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
