/**
 * Development-fee payments (DAEMON.md §4.6, §8.8; HANDLERS.md §5.4; upstream #622): for every
 * trade whose escrow was settled, Mostro pays `dev_fee` sats of its own fee income to the dev
 * fund's Lightning address — exactly once — and publishes one kind-8383 audit event per payment.
 *
 * At-most-once by construction: claim (a `PENDING-<uuid>-<ts>` marker written by compare-and-set)
 * → resolve a fresh invoice → record its payment hash BEFORE sending → send, bounded → record the
 * outcome by compare-and-set on that hash. Every later decision asks LND by the recorded hash, so a
 * crash anywhere never leads to a second payment. All dev-fee work (the job and the boot
 * reconciliation) runs under one lock, so two passes never interleave.
 *
 * Differences from 0.17.1 (docs/COMPATIBILITY.md):
 *  - Only for escrows LND reports SETTLED (issue 12, defect 3): release and admin-settle write
 *    `settled-hold-invoice` BEFORE SettleInvoice, so the status alone does not prove the trade's
 *    sats were collected. Each new payment first looks the order's hold invoice up in LND; an
 *    order without a hold invoice hash, or whose escrow LND reports anything but SETTLED (still
 *    held, canceled, unknown to LND), is not claimed or paid — it is reported (once per process
 *    and state) and asked about again next cycle.
 *  - Q22: the audit event is published whenever the row flips dev_fee_paid 0 → 1 (by
 *    compare-and-set), whichever path confirmed the payment — including the recovered/timeout path
 *    that published nothing in 0.17.1 — so there is exactly one per paid order.
 *  - Q23: a recorded hash LND positively reports as unknown (the process stopped between recording
 *    it and sending) is cleared and the order claimed again — the payment was never sent. It is never
 *    cleared on an RPC error, nor while this process may still be sending it.
 *  - A freshly resolved invoice whose hash LND already knows is refused (a reused invoice could
 *    otherwise be "confirmed" by someone else's payment).
 *  - The destination may be overridden by `mostro.dev_fee_lightning_address` only when the node is
 *    not on mainnet (tests/regtest never reach the real address).
 */
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../context.js';
import {
  casUpdateOrder,
  claimDevFee,
  findUnverifiedPaidDevFees,
  markDevFeeVerified,
  findPartialDevFees,
  findStaleDevFeeClaims,
  findUnpaidDevFees,
  releaseDevFeeClaim,
} from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import type { PaymentResult } from '../../lightning/backend.js';
import { routingFeeLimit } from '../../lightning/routing-fee.js';
import { buildDevFeeAuditEvent, networkTagValue } from '../../nostr/events.js';
import { bounded } from './bounded.js';

/** mostrod's dev-fund Lightning address (a constant on mainnet). */
export const DEV_FEE_LIGHTNING_ADDRESS = 'pivotaldeborah52@walletofsatoshi.com';
/** A `PENDING-` claim this old (or without a timestamp) is abandoned and cleared. */
export const DEV_FEE_CLAIM_STALE_SECONDS = 300;
/** Bound on resolving the dev-fund address to an invoice (mostrod: 20 s). */
export const DEV_FEE_RESOLVE_SECONDS = 20;
/** The lock every dev-fee pass runs under. */
export const DEV_FEE_LOCK = 'dev-fee';

const HEX64 = /^[0-9a-f]{64}$/;
const MARKER_PREFIX = 'PENDING-';

/** State a process keeps across cycles (0.17.1's in-memory `confirmed` set, plus send tracking). */
export interface DevFeeState {
  /** Order ids whose payment LND confirmed in this process (each paid order is verified once). */
  confirmed: Set<string>;
  /** Payment hash → when this process recorded it (its payment may still be on its way to LND). */
  recordedAt: Map<string, number>;
  /** Order id → escrow state last reported as "not settled, dev fee not payable" (to log once per state). */
  unsettled: Map<string, string>;
  /** Phase 2's cursor: the rowid after which the next batch of unverified paid fees starts. */
  verifyCursor: number;
}

export function newDevFeeState(): DevFeeState {
  return { confirmed: new Set(), recordedAt: new Map(), unsettled: new Map(), verifyCursor: 0 };
}

export interface DevFeeOptions {
  /** Per-process state; pass the same object to every run (registerJobs does). */
  state?: DevFeeState;
}

/**
 * Timestamp of a claim marker `PENDING-<36-char uuid>-<unix ts>`, or null for anything else
 * (legacy `PENDING-<uuid>`, `PENDING`, non-numeric or implausible (≤ 10^9) timestamps).
 */
export function parseMarkerTimestamp(marker: string): number | null {
  if (!marker.startsWith(MARKER_PREFIX)) return null;
  const rest = marker.slice(MARKER_PREFIX.length);
  if (rest.length <= 37 || rest[36] !== '-') return null;
  const suffix = rest.slice(37);
  if (!/^\+?\d+$/.test(suffix)) return null;
  const ts = Number(suffix);
  if (!Number.isSafeInteger(ts) || ts <= 1_000_000_000) return null;
  return ts;
}

/** A new claim marker. */
export function newClaimMarker(now: number): string {
  return `${MARKER_PREFIX}${randomUUID()}-${now}`;
}

/**
 * Where the dev fee goes: mostrod's constant address, unless `mostro.dev_fee_lightning_address`
 * is set AND the node is known not to be on mainnet.
 */
export function devFeeDestination(ctx: Pick<AppContext, 'settings' | 'lightning'>): string {
  const override = ctx.settings.mostro.dev_fee_lightning_address;
  if (override === undefined || override === '') return DEV_FEE_LIGHTNING_ADDRESS;
  const networks = ctx.lightning.info?.networks ?? null;
  if (networks === null || networks.length === 0 || networks.some((n) => n === 'mainnet' || n === 'bitcoin')) {
    return DEV_FEE_LIGHTNING_ADDRESS;
  }
  return override;
}

/**
 * Job (every 60 s): the four phases of DAEMON.md §4.6 — stale claims, verify paid, recover
 * partial, pay new. Skipped while the Lightning node is not `up`.
 */
export async function payDevFees(ctx: AppContext, opts: DevFeeOptions = {}): Promise<void> {
  const state = opts.state ?? newDevFeeState();
  if (ctx.lightning.state !== 'up') {
    ctx.logger.info({ lightning: ctx.lightning.state }, 'dev fee job skipped: Lightning node not up');
    return;
  }
  await ctx.locks.run(DEV_FEE_LOCK, async () => {
    ctx.logger.debug('Checking for unpaid development fees');
    await clearStaleClaims(ctx);
    await verifyPaid(ctx, state);
    await recoverPartial(ctx, state);
    await payNew(ctx, state);
  });
}

/** Boot / reconnect: phase 3 only (resolve every recorded hash against LND). */
export async function reconcileDevFees(ctx: AppContext, opts: DevFeeOptions = {}): Promise<void> {
  const state = opts.state ?? newDevFeeState();
  await ctx.locks.run(DEV_FEE_LOCK, () => recoverPartial(ctx, state));
}

// ---- phase 1 -----------------------------------------------------------------------------------

async function clearStaleClaims(ctx: AppContext): Promise<void> {
  const now = ctx.clock.now();
  for (const o of await findStaleDevFeeClaims(ctx.db)) {
    const marker = o.dev_fee_payment_hash;
    if (marker === null) continue;
    const ts = parseMarkerTimestamp(marker);
    if (ts !== null && now - ts < DEV_FEE_CLAIM_STALE_SECONDS) continue;
    // A marker is written before any invoice exists: nothing was sent under it.
    const cleared = await casUpdateOrder(
      ctx.db,
      o.id,
      { dev_fee_payment_hash: marker },
      { dev_fee_payment_hash: null, dev_fee_paid: 0 },
    );
    if (cleared) {
      ctx.logger.warn({ orderId: o.id, marker, ageSeconds: ts === null ? null : now - ts }, 'stale dev fee claim cleared');
    }
  }
}

// ---- phase 2 -----------------------------------------------------------------------------------

/** Paid dev fees verified with LND per pass (phase 2). */
export const DEV_FEE_VERIFY_BATCH = 200;

/**
 * Ask LND about paid dev fees it has not confirmed yet, a batch per pass (rotating cursor). A fee
 * LND reports SUCCEEDED, or FAILED (logged once at error: never reset, a second payment is worse),
 * is marked verified and never asked about again; in flight, unknown or unreachable: next round.
 * 0.17.1 re-read every paid fee in history every pass and asked LND again after each restart.
 */
async function verifyPaid(ctx: AppContext, state: DevFeeState): Promise<void> {
  const batch = await findUnverifiedPaidDevFees(ctx.db, state.verifyCursor, DEV_FEE_VERIFY_BATCH);
  state.verifyCursor = batch.length < DEV_FEE_VERIFY_BATCH ? 0 : (batch[batch.length - 1]?.rowid ?? 0);
  for (const { id, hash } of batch) {
    if (state.confirmed.has(id)) {
      await markDevFeeVerified(ctx.db, id, hash, ctx.clock.now());
      continue;
    }
    let r: PaymentResult;
    try {
      r = await ctx.lightning.trackPayment(hash);
    } catch (err) {
      ctx.logger.warn({ err, orderId: id, hash }, 'dev fee payment status unavailable');
      continue;
    }
    if (r.state === 'succeeded') {
      state.confirmed.add(id);
      await markDevFeeVerified(ctx.db, id, hash, ctx.clock.now());
    } else if (r.state === 'failed') {
      ctx.logger.error(
        { orderId: id, hash },
        'dev fee marked paid but LND reports the payment FAILED; NOT resetting to avoid duplicate payment risk. Manual review may be needed.',
      );
      await markDevFeeVerified(ctx.db, id, hash, ctx.clock.now());
    }
  }
}

// ---- phase 3 -----------------------------------------------------------------------------------

async function recoverPartial(ctx: AppContext, state: DevFeeState): Promise<void> {
  const now = ctx.clock.now();
  const grace = 2 * Math.max(1, ctx.settings.lightning.payment_timeout_seconds);
  for (const o of await findPartialDevFees(ctx.db)) {
    const hash = o.dev_fee_payment_hash;
    if (hash === null) continue;
    const log = ctx.logger.child({ orderId: o.id, hash, flow: 'dev-fee' });
    const recorded = state.recordedAt.get(hash);
    let r: PaymentResult;
    try {
      r = await ctx.lightning.trackPayment(hash);
    } catch (err) {
      log.warn({ err }, 'dev fee payment status unavailable; left for the next cycle');
      continue;
    }
    switch (r.state) {
      case 'succeeded':
        await recordPaid(ctx, state, o, hash, r.hash);
        break;
      case 'failed':
        await clearRecordedHash(ctx, state, o, hash, `LND reports the payment failed: ${r.failureReason ?? 'no reason'}`);
        break;
      case 'in_flight':
        log.info('dev fee payment still in flight');
        break;
      case 'unknown':
        if (recorded !== undefined && now - recorded < grace) {
          log.info('dev fee hash recorded moments ago and not yet known to LND; left for the next cycle');
          break;
        }
        // Q23 fix: LND never saw this hash, so the payment was never sent — safe to pay anew.
        await clearRecordedHash(ctx, state, o, hash, 'LND does not know the payment (never sent)');
        break;
    }
  }
}

/** Flip dev_fee_paid 0 → 1 on the recorded hash; the winner of that flip publishes the audit event. */
async function recordPaid(ctx: AppContext, state: DevFeeState, o: OrderRow, recordedHash: string, lndHash: string): Promise<boolean> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'dev-fee' });
  let paidHash = recordedHash;
  if (HEX64.test(lndHash.toLowerCase()) && lndHash.toLowerCase() !== recordedHash) {
    log.warn({ recordedHash, lndHash }, 'LND reports a different payment hash for the dev fee; storing LND’s');
    paidHash = lndHash.toLowerCase();
  }
  const won = await casUpdateOrder(
    ctx.db,
    o.id,
    { dev_fee_paid: 0, dev_fee_payment_hash: recordedHash },
    { dev_fee_paid: 1, dev_fee_payment_hash: paidHash },
  );
  state.recordedAt.delete(recordedHash);
  if (!won) {
    log.error({ hash: paidHash }, 'CRITICAL: dev fee PAID but the order changed meanwhile; ACTION REQUIRED: manual reconciliation');
    return false;
  }
  state.confirmed.add(o.id);
  await markDevFeeVerified(ctx.db, o.id, paidHash, ctx.clock.now());
  log.info({ hash: paidHash, devFee: o.dev_fee }, 'dev fee paid');
  const now = ctx.clock.now();
  const event = buildDevFeeAuditEvent({
    orderId: o.id,
    devFee: o.dev_fee,
    paymentHash: paidHash,
    destination: devFeeDestination(ctx),
    network: networkTagValue(ctx.lightning.info?.networks ?? null),
    settings: ctx.settings,
    now,
  });
  try {
    await ctx.outbox.publish(event);
  } catch (err) {
    log.error({ err, hash: paidHash }, 'dev fee audit event could not be queued for publication');
  }
  return true;
}

async function clearRecordedHash(ctx: AppContext, state: DevFeeState, o: OrderRow, hash: string, why: string): Promise<void> {
  const cleared = await casUpdateOrder(
    ctx.db,
    o.id,
    { dev_fee_paid: 0, dev_fee_payment_hash: hash },
    { dev_fee_payment_hash: null },
  );
  state.recordedAt.delete(hash);
  if (cleared) ctx.logger.warn({ orderId: o.id, hash, why }, 'dev fee payment hash cleared; the fee will be paid anew');
}

// ---- phase 4 -----------------------------------------------------------------------------------

async function payNew(ctx: AppContext, state: DevFeeState): Promise<void> {
  for (const o of await findUnpaidDevFees(ctx.db)) {
    try {
      await payOne(ctx, state, o);
    } catch (err) {
      ctx.logger.error({ err, orderId: o.id }, 'dev fee payment attempt failed unexpectedly');
    }
  }
}

/**
 * Whether LND reports the order's escrow (hold invoice) SETTLED — the only proof that the trade's
 * sats, and so Mostro's fee, were collected. Anything else is reported once per process and state.
 */
async function escrowSettled(ctx: AppContext, state: DevFeeState, o: OrderRow): Promise<boolean> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'dev-fee' });
  let escrow: string;
  if (o.hash === null || o.hash === '') {
    escrow = 'no-hold-invoice';
  } else {
    try {
      escrow = (await ctx.lightning.lookupInvoice(o.hash))?.state ?? 'unknown-to-lnd';
    } catch (err) {
      log.warn({ err, hash: o.hash }, 'escrow lookup failed; dev fee left for the next cycle');
      return false;
    }
  }
  if (escrow === 'settled') {
    state.unsettled.delete(o.id);
    return true;
  }
  if (state.unsettled.get(o.id) !== escrow) {
    state.unsettled.set(o.id, escrow);
    log.warn(
      { hash: o.hash, status: o.status, escrow },
      'order is marked settled but LND does not report its escrow SETTLED; dev fee not paid',
    );
  }
  return false;
}

async function payOne(ctx: AppContext, state: DevFeeState, o: OrderRow): Promise<void> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'dev-fee' });
  // 0. Only for an escrow LND reports SETTLED (issue 12, defect 3).
  if (!(await escrowSettled(ctx, state, o))) return;
  const marker = newClaimMarker(ctx.clock.now());
  if (!(await claimDevFee(ctx.db, o.id, marker))) {
    log.debug('dev fee already claimed or no longer payable');
    return;
  }
  const release = async (reason: string, err?: unknown): Promise<void> => {
    await releaseDevFeeClaim(ctx.db, o.id, marker);
    log.warn({ err, reason }, 'dev fee not paid this cycle; claim released');
  };

  // 1. A fresh invoice for exactly dev_fee sats.
  const destination = devFeeDestination(ctx);
  if (destination !== ctx.settings.mostro.dev_fee_lightning_address && ctx.settings.mostro.dev_fee_lightning_address) {
    log.warn('dev_fee_lightning_address ignored: the node is on mainnet (or its network is unknown)');
  }
  let paymentRequest: string | null;
  try {
    paymentRequest = await bounded(
      ctx.lnurl.resolveInvoice(destination, o.dev_fee, {
        nodeNetwork: ctx.lightning.info?.networks[0] ?? null,
        maxFinalCltvDelta: ctx.settings.lightning.max_invoice_final_cltv_delta,
        now: ctx.clock.now(),
      }),
      DEV_FEE_RESOLVE_SECONDS * 1000,
    );
  } catch (err) {
    return release(`could not resolve ${destination}`, err);
  }
  if (paymentRequest === null || paymentRequest === '') return release(`resolving ${destination} timed out or returned nothing`);
  let hash: string;
  let amountless: boolean;
  try {
    const decoded = await ctx.lightning.decodePaymentRequest(paymentRequest);
    hash = decoded.hash.toLowerCase();
    amountless = decoded.amountMsat === 0n;
    if (!amountless && decoded.amountMsat !== BigInt(o.dev_fee) * 1000n) {
      return release(`invoice is for ${decoded.amountMsat} msat, expected ${o.dev_fee * 1000}`);
    }
  } catch (err) {
    return release('dev fee invoice could not be decoded', err);
  }
  if (!HEX64.test(hash)) return release('dev fee invoice has a malformed payment hash');

  // 2. The hash must be new to LND (a reused invoice could be "confirmed" by an earlier payment).
  try {
    const prior = await ctx.lightning.trackPayment(hash);
    if (prior.state !== 'unknown') return release(`LND already knows this invoice's payment (${prior.state}); refusing a reused invoice`);
  } catch (err) {
    return release('LND could not be asked about the dev fee invoice', err);
  }

  // 3. Record the hash BEFORE paying.
  const recorded = await casUpdateOrder(
    ctx.db,
    o.id,
    { dev_fee_payment_hash: marker, dev_fee_paid: 0 },
    { dev_fee_payment_hash: hash },
  );
  if (!recorded) return release('order changed before the payment hash could be recorded');
  state.recordedAt.set(hash, ctx.clock.now());

  // 4. Pay, bounded; anything but a definite answer leaves the hash for phase 3.
  const timeoutSeconds = Math.max(1, Math.min(60, Math.floor(ctx.settings.lightning.payment_timeout_seconds)));
  let result: PaymentResult | null;
  try {
    result = await bounded(
      ctx.lightning.sendPayment({
        paymentRequest,
        ...(amountless ? { amountSats: o.dev_fee } : {}),
        feeLimitSats: routingFeeLimit(o.dev_fee, ctx.settings.mostro.max_routing_fee),
        timeoutSeconds,
        waitSeconds: timeoutSeconds + 5,
      }),
      (timeoutSeconds + 15) * 1000,
    );
  } catch (err) {
    log.warn({ err, hash }, 'dev fee send failed; LND is asked by hash on the next cycle');
    return;
  }
  if (result === null) {
    log.warn({ hash }, 'dev fee payment still pending after the bound; resolved by hash on the next cycle');
    return;
  }
  switch (result.state) {
    case 'succeeded':
      await recordPaid(ctx, state, o, hash, result.hash);
      return;
    case 'failed':
      await clearRecordedHash(ctx, state, o, hash, `payment failed: ${result.failureReason ?? 'no reason'}`);
      return;
    case 'in_flight':
    case 'unknown':
      log.info({ hash, state: result.state }, 'dev fee payment not final; resolved by hash on the next cycle');
      return;
  }
}
