/**
 * The buyer payout after the escrow was settled (HANDLERS.md §5.1–§5.3, PROTOCOL.md §6.2–§6.3),
 * at most once by construction (upstream #881/#883/#864):
 *
 *  1. Under the order lock, on a fresh read: the order must be `settled-hold-invoice` with no
 *     payout claim, and LND must report its escrow SETTLED (a payout never precedes the settle —
 *     not even after a crash between a release/admin-settle claim and the settle).
 *  2. The target is resolved to a BOLT11 (Lightning address / LNURL first), decoded, amount-checked,
 *     and LND is asked about that payment hash (a previous attempt may have gone through).
 *  3. CLAIM: compare-and-set `payout_payment_hash := hash, payout_claimed_at := now` on the order
 *     still settled-hold-invoice with no claim and the same buyer invoice — BEFORE sending.
 *  4. Send, outside the lock and bounded by `lightning.payment_timeout_seconds`; a timeout or an
 *     ambiguous error leaves the claim in place (the payment may be in flight).
 *  5. Outcome, under the lock, compare-and-set on the claim: SUCCEEDED → `success` (purchase-completed,
 *     38383 success, rate); FAILED → failure accounting (§5.3) and the claim is cleared.
 *
 * `reconcilePayouts` resolves every left-over claim with trackPayment before anything else pays,
 * so a crash between claim and result never leads to a second payment. Early aborts (no invoice,
 * zero amount, unresolvable address, LND unreachable) count as failed attempts and tell the buyer
 * (fix of HQ-6/#864): a settled escrow is never left without a payout attempt and a message.
 */
import type { AppContext } from '../../context.js';
import { casUpdateOrder, findOrders, getOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import type { PaymentResult } from '../../lightning/backend.js';
import { isLightningAddress, isLnurl } from '../../lightning/lnurl.js';
import { routingFeeLimit } from '../../lightning/routing-fee.js';
import { buildMessage } from '../../protocol/build.js';
import { closeDispute } from './dispute-close.js';
import { settleEscrow } from './escrow.js';
import { buyerAmount, toSmallOrder } from './order-view.js';
import { publishOrder } from './publish.js';

/** What one payout attempt ended with. */
export type PayoutOutcome =
  /** Nothing to do (not payable, already claimed, escrow not settled, lost a race). */
  | 'skipped'
  | 'succeeded'
  /** A failed attempt was recorded (failure accounting ran). */
  | 'failed'
  /** The payment is (or may be) in flight: the claim stays for reconcilePayouts. */
  | 'pending';

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
  void ctx.tasks.track(
    attemptPayout(ctx, orderId, requestId).catch((err: unknown) => {
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
  const { hash, paymentRequest, amountSats, amountless } = prepared;

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
    log.warn({ err, hash }, 'sendPayment failed; asking LND about the payment');
    try {
      result = await ctx.lightning.trackPayment(hash);
    } catch (trackErr) {
      log.error({ err: trackErr, hash }, 'trackPayment failed; the claim stays for reconciliation');
      return 'pending';
    }
    if (result.state === 'unknown') {
      // LND never saw this hash: nothing was sent. Count the attempt, clear the claim.
      result = { hash, state: 'failed', failureReason: `send failed: ${(err as Error).message}` };
    }
  }
  if (result === null) {
    log.warn({ hash, boundMs }, 'payout still in flight after the bound; left for reconciliation');
    return 'pending';
  }
  return ctx.locks.run(lockKey(orderId), () => applyResult(ctx, orderId, hash, result, requestId));
}

type Prepared =
  | { kind: 'done'; outcome: PayoutOutcome }
  | { kind: 'send'; hash: string; paymentRequest: string; amountSats: number; amountless: boolean };

async function prepareAndClaim(ctx: AppContext, orderId: string, requestId: bigint | null): Promise<Prepared> {
  const log = ctx.logger.child({ orderId, flow: 'payout' });
  const done = (outcome: PayoutOutcome): Prepared => ({ kind: 'done', outcome });
  const fail = async (reason: string): Promise<Prepared> => {
    log.warn({ reason }, 'payout attempt failed before sending');
    return done((await recordFailure(ctx, orderId, null, requestId, reason)) ? 'failed' : 'skipped');
  };

  const o = await getOrder(ctx.db, orderId);
  if (o === undefined || o.status !== 'settled-hold-invoice' || o.payout_payment_hash !== null) return done('skipped');

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
  if (isLightningAddress(target) || isLnurl(target)) {
    try {
      paymentRequest = await ctx.lnurl.resolveInvoice(target, amountSats, {
        nodeNetwork: ctx.lightning.info?.networks[0] ?? null,
        maxFinalCltvDelta: ctx.settings.lightning.max_invoice_final_cltv_delta,
        now: ctx.clock.now(),
      });
    } catch (err) {
      return fail(`could not resolve ${target}: ${(err as Error).message}`);
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

  // Ask LND about this hash before (re)paying: a previous attempt may have succeeded or be in flight.
  let prior: PaymentResult;
  try {
    prior = await ctx.lightning.trackPayment(hash);
  } catch (err) {
    return fail(`lightning node unreachable: ${(err as Error).message}`);
  }

  const claimed = await casUpdateOrder(
    ctx.db,
    o.id,
    { status: 'settled-hold-invoice', payout_payment_hash: null, buyer_invoice: o.buyer_invoice },
    { payout_payment_hash: hash, payout_claimed_at: ctx.clock.now() },
  );
  if (!claimed) {
    log.info('payout claim lost (order changed); skipping');
    return done('skipped');
  }
  log.info({ hash, amountSats, prior: prior.state }, 'payout claimed');

  if (prior.state === 'succeeded') return done(await finishSuccess(ctx, o.id, hash, requestId) ? 'succeeded' : 'skipped');
  if (prior.state === 'in_flight') {
    log.warn({ hash }, 'payment already in flight in LND; left for reconciliation');
    return done('pending');
  }
  return { kind: 'send', hash, paymentRequest, amountSats, amountless };
}

async function applyResult(
  ctx: AppContext,
  orderId: string,
  hash: string,
  result: PaymentResult,
  requestId: bigint | null,
): Promise<PayoutOutcome> {
  switch (result.state) {
    case 'succeeded':
      return (await finishSuccess(ctx, orderId, hash, requestId)) ? 'succeeded' : 'skipped';
    case 'failed':
      return (await recordFailure(ctx, orderId, hash, requestId, result.failureReason ?? 'payment failed'))
        ? 'failed'
        : 'skipped';
    case 'in_flight':
    case 'unknown':
      ctx.logger.warn({ orderId, hash, state: result.state }, 'payout not final; left for reconciliation');
      return 'pending';
  }
}

/**
 * Payout SUCCEEDED (caller holds the order lock): compare-and-set on the claim to `success`, then
 * `purchase-completed` to the buyer (request_id null), 38383 `success`, `rate` to the buyer with
 * the triggering request id. Returns false when the claim was already resolved (nothing sent).
 */
async function finishSuccess(ctx: AppContext, orderId: string, hash: string, requestId: bigint | null): Promise<boolean> {
  const o = await getOrder(ctx.db, orderId);
  if (o === undefined) return false;
  const won = await casUpdateOrder(
    ctx.db,
    orderId,
    { status: 'settled-hold-invoice', payout_payment_hash: hash },
    { status: 'success' },
  );
  if (!won) return false;
  ctx.logger.info({ orderId, hash }, 'buyer paid; order completed');
  const done: OrderRow = { ...o, status: 'success' };
  const buyer = o.buyer_pubkey;
  if (buyer !== null) {
    ctx.outbox.sendMessage(buyer, buildMessage({ action: 'purchase-completed', id: orderId, requestId: null }));
  }
  await publishOrder(ctx, done);
  if (buyer !== null) {
    ctx.outbox.sendMessage(buyer, buildMessage({ action: 'rate', id: orderId, requestId }));
  } else {
    ctx.logger.error({ orderId }, 'completed order has no buyer trade key; buyer not notified');
  }
  return true;
}

/**
 * Failure accounting (`check_failure_retries`, HANDLERS.md §5.3; caller holds the order lock).
 * `hash` is the claim being resolved (null for a failure before any claim). With P =
 * lightning.payment_attempts: first failure (payment_attempts was 0) → `payment-failed`
 * {payment_attempts: P − 1, payment_retries_interval}; a failure that brings the counter to P →
 * `add-invoice` with the full order (amount − fee) asking for a new invoice (also after a first
 * failure when P ≤ 1 — 0.17.1 never asked in that case). Both echo `requestId`. The counters and
 * the cleared claim are written with one compare-and-set. Returns false if the order moved on.
 */
async function recordFailure(
  ctx: AppContext,
  orderId: string,
  hash: string | null,
  requestId: bigint | null,
  reason: string,
): Promise<boolean> {
  const o = await getOrder(ctx.db, orderId);
  if (o === undefined || o.status !== 'settled-hold-invoice' || o.payout_payment_hash !== hash) return false;
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
  const won = await casUpdateOrder(
    ctx.db,
    orderId,
    {
      status: 'settled-hold-invoice',
      payout_payment_hash: hash,
      failed_payment: o.failed_payment,
      payment_attempts: o.payment_attempts,
    },
    { failed_payment: failed, payment_attempts: attempts, payout_payment_hash: null, payout_claimed_at: ctx.clock.now() },
  );
  if (!won) return false;
  const updated: OrderRow = { ...o, failed_payment: failed, payment_attempts: attempts, payout_payment_hash: null };
  ctx.logger.warn({ orderId, hash, reason, attempts, of: P }, 'buyer payout failed');

  const buyer = o.buyer_pubkey;
  if (buyer === null) {
    ctx.logger.error({ orderId }, 'failed payout on an order without a buyer trade key; buyer not notified');
    return true;
  }
  if (first) {
    ctx.outbox.sendMessage(
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
    );
  }
  if (attempts >= P) {
    const amount = buyerAmount(o);
    if (amount <= 0) {
      ctx.logger.error({ orderId }, 'payout amount is zero; cannot ask the buyer for a new invoice');
    } else {
      ctx.outbox.sendMessage(
        buyer,
        buildMessage({ action: 'add-invoice', id: orderId, requestId, payload: { order: toSmallOrder(updated, { amount }) } }),
      );
    }
  }
  return true;
}

/**
 * Retry job body (every `payment_retries_interval` s): every `settled-hold-invoice` order without
 * a payout claim that is due — failed attempts below `payment_attempts` (as 0.17.1) and, fixing
 * HQ-6, orders whose first attempt never ran (e.g. the process stopped right after the settle).
 * Attempts run concurrently (each bounded); resolves when all of them ended.
 */
export async function retryFailedPayouts(ctx: AppContext): Promise<PayoutOutcome[]> {
  const P = ctx.settings.lightning.payment_attempts;
  const due = (await findOrders(ctx.db, { status: 'settled-hold-invoice', payout_payment_hash: null })).filter(
    (o) => o.failed_payment === 0 || o.payment_attempts < P,
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
   * A claim LND knows nothing about is only cleared when older than this (seconds), so a payment
   * this process is about to send is not mistaken for a lost one. Default: 2 × payment_timeout_seconds.
   * Pass 0 at boot (no payment of this process can be in flight then).
   */
  graceSeconds?: number;
}

export interface ReconcileSummary {
  succeeded: number;
  failed: number;
  inFlight: number;
  /** Claims LND never saw: cleared and paid again. */
  retried: number;
  /** Interrupted settlements (status settled-hold-invoice, escrow still accepted) settled now. */
  settled: number;
}

/**
 * Boot + periodic job: resolve every payout claim against LND BEFORE anything else may pay.
 *  - claim with SUCCEEDED in LND → success flow (request_id null);
 *  - FAILED → failure accounting, claim cleared (the retry job pays again later);
 *  - IN_FLIGHT → left alone;
 *  - UNKNOWN (the payment never reached LND) and older than the grace → claim cleared, paid again.
 * It also finishes settlements interrupted by a crash: an order already claimed as
 * `settled-hold-invoice` (by release / admin-settle) whose escrow is still ACCEPTED is settled now
 * — the claim is the recorded decision — and then paid.
 */
export async function reconcilePayouts(ctx: AppContext, opts: ReconcileOptions = {}): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { succeeded: 0, failed: 0, inFlight: 0, retried: 0, settled: 0 };
  const grace = opts.graceSeconds ?? 2 * ctx.settings.lightning.payment_timeout_seconds;
  const orders = await findOrders(ctx.db, { status: 'settled-hold-invoice' });
  for (const listed of orders) {
    const log = ctx.logger.child({ orderId: listed.id, flow: 'payout-reconcile' });
    try {
      if (listed.payout_payment_hash === null) {
        if (await finishInterruptedSettle(ctx, listed.id)) {
          summary.settled += 1;
          startPayout(ctx, listed.id, null);
        }
        continue;
      }
      const hash = listed.payout_payment_hash;
      let r: PaymentResult;
      try {
        r = await ctx.lightning.trackPayment(hash);
      } catch (err) {
        log.error({ err, hash }, 'trackPayment failed; claim left for the next reconciliation');
        continue;
      }
      switch (r.state) {
        case 'succeeded':
          if (await ctx.locks.run(lockKey(listed.id), () => finishSuccess(ctx, listed.id, hash, null))) summary.succeeded += 1;
          break;
        case 'failed':
          if (
            await ctx.locks.run(lockKey(listed.id), () =>
              recordFailure(ctx, listed.id, hash, null, r.failureReason ?? 'payment failed'),
            )
          ) {
            summary.failed += 1;
          }
          break;
        case 'in_flight':
          summary.inFlight += 1;
          break;
        case 'unknown': {
          const claimedAt = listed.payout_claimed_at ?? 0;
          if (ctx.clock.now() - claimedAt < grace) break;
          const cleared = await ctx.locks.run(lockKey(listed.id), () =>
            casUpdateOrder(
              ctx.db,
              listed.id,
              { status: 'settled-hold-invoice', payout_payment_hash: hash },
              { payout_payment_hash: null },
            ),
          );
          if (cleared) {
            log.warn({ hash }, 'payout claim unknown to LND (never sent); cleared and paying again');
            summary.retried += 1;
            startPayout(ctx, listed.id, null);
          }
          break;
        }
      }
    } catch (err) {
      log.error({ err }, 'payout reconciliation of this order failed');
    }
  }
  return summary;
}

/** Settle an escrow left ACCEPTED behind a `settled-hold-invoice` claim (under the order lock). */
async function finishInterruptedSettle(ctx: AppContext, orderId: string): Promise<boolean> {
  return ctx.locks.run(lockKey(orderId), async () => {
    const o = await getOrder(ctx.db, orderId);
    if (o === undefined || o.status !== 'settled-hold-invoice' || o.payout_payment_hash !== null || o.hash === null) {
      return false;
    }
    let state: string;
    try {
      state = (await ctx.lightning.lookupInvoice(o.hash))?.state ?? 'unknown';
    } catch (err) {
      ctx.logger.error({ err, orderId }, 'escrow lookup failed during payout reconciliation');
      return false;
    }
    if (state === 'settled') return false;
    if (state !== 'accepted') {
      ctx.logger.error({ orderId, state }, 'order is settled-hold-invoice but its escrow is neither settled nor held; needs an operator');
      return false;
    }
    ctx.logger.warn({ orderId }, 'escrow claimed for settlement but still held (interrupted settle); settling now');
    await settleEscrow(ctx, o);
    // The crash also lost the release's notifications: close an open dispute and tell both parties
    // (as release does) before the payout starts.
    await closeDispute(ctx, o, 'settled');
    if (o.buyer_pubkey !== null) ctx.outbox.sendMessage(o.buyer_pubkey, buildMessage({ action: 'released', id: o.id, requestId: null }));
    if (o.seller_pubkey !== null) {
      ctx.outbox.sendMessage(o.seller_pubkey, buildMessage({ action: 'hold-invoice-payment-settled', id: o.id, requestId: null }));
    }
    return true;
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
