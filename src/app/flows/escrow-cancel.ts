/**
 * Cancel decisions that survive a crash (issue 12, defect 2).
 *
 * Every path that refunds the seller's escrow — cancel, cooperative cancel, the taker backing out,
 * waiting-state timeouts, admin-cancel, the escrow deadline guard — works in this order:
 *
 *  1. decideEscrowCancel: ONE transaction writes the order's new status (compare-and-set) and, when
 *     the order has an escrow, a row in `mostrod_ts_escrow_cancels` with the hash (a taker reset
 *     erases it from the order), the reason and the notices the parties must get;
 *  2. refundDecidedEscrow: LND CancelInvoice (cancelEscrow: already canceled / unknown = done). If
 *     LND answers with an error, the status change is reverted and the decision dropped in one
 *     transaction and the error propagates (the caller answers cant-do or retries next tick);
 *  3. the caller publishes, closes a dispute, and finishCancelNotices marks the decision done and
 *     stores the notices in one transaction, then sends them (the durable outbox, flows/notices.ts).
 *     Without an escrow, step 1 stores and sends them with the status change.
 *
 * A crash, a shutdown timeout or a hung LND call between 1 and 3 leaves the decision open:
 * finishOpenCancelDecisions (at boot, and every run of the escrow deadline job) and an ACCEPTED
 * update for the escrow (onEscrowAccepted) finish it — cancel the escrow, close an open dispute as
 * seller-refunded, republish the order, send the recorded notices once — without touching the
 * order's status. An escrow whose order carries a settle decision is never canceled: settle and
 * cancel are mutually exclusive (the conflict is logged as an error for the operator).
 */
import type { AppContext } from '../../context.js';
import {
  dropCancelDecision,
  findCanceledOrdersWithEscrow,
  getCancelDecision,
  listOpenCancelDecisions,
  markCancelDone,
  recordCancelDecision,
  type CancelReason,
  type EscrowCancelRow,
} from '../../db/escrow-cancels.js';
import { casUpdateOrder, getOrder, type OrderExpect, type OrderPatch } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { parseMessageText } from '../../protocol/parse.js';
import { serializeMessage } from '../../protocol/serialize.js';
import type { Status } from '../../protocol/types.js';
import { closeDispute } from './dispute-close.js';
import { commitWithNotices, type Notice } from './notices.js';
import { cancelEscrow } from './escrow.js';
import { expectPatched } from './order-reset.js';
import { publishOrder } from './publish.js';

export type { Notice } from './notices.js';

/** Statuses that record a decision to refund the seller. */
export const CANCELED_STATUSES: readonly Status[] = ['canceled', 'cooperatively-canceled', 'canceled-by-admin', 'expired'];
/** Statuses that record a decision to settle the escrow (release / admin-settle): never cancel. */
export const SETTLE_DECIDED: readonly Status[] = ['settled-hold-invoice', 'success', 'settled-by-admin', 'completed-by-admin'];
/** Statuses in which the trade still needs its escrow. */
const LIVE: readonly Status[] = ['waiting-payment', 'waiting-buyer-invoice', 'active', 'fiat-sent', 'dispute'];

function encodeNotices(notices: readonly Notice[]): string {
  return JSON.stringify(notices.map(([to, m]) => [to, serializeMessage(m)]));
}

function decodeNotices(text: string | null): Notice[] {
  if (text === null) return [];
  const raw: unknown = JSON.parse(text);
  if (!Array.isArray(raw)) throw new TypeError('cancel notices are not an array');
  return raw.map((n: unknown): Notice => {
    if (!Array.isArray(n) || typeof n[0] !== 'string' || typeof n[1] !== 'string') {
      throw new TypeError('malformed cancel notice');
    }
    return [n[0], parseMessageText(n[1])];
  });
}

/**
 * Step 1: compare-and-set `o` (expect → patch) and, if `o` has an escrow, record the cancel
 * decision (with its notices, sent once the refund is confirmed), in one transaction. Without an
 * escrow there is nothing to wait for: the notices are stored in that transaction (durable outbox,
 * flows/notices.ts) and sent at once, and finishCancelNotices has nothing left to do — a power cut
 * can no longer keep the new status and lose them (they were written in a later transaction).
 * True iff the compare-and-set won.
 */
export async function decideEscrowCancel(
  ctx: AppContext,
  o: OrderRow,
  spec: { expect: OrderExpect; patch: OrderPatch; reason: CancelReason; notices: readonly Notice[] },
): Promise<boolean> {
  const hash = o.hash;
  const now = ctx.clock.now();
  if (hash === null) return commitWithNotices(ctx, (trx) => casUpdateOrder(trx, o.id, spec.expect, spec.patch), spec.notices);
  return ctx.db.transaction().execute(async (trx) => {
    const won = await casUpdateOrder(trx, o.id, spec.expect, spec.patch);
    if (!won) return false;
    await recordCancelDecision(trx, { hash, order_id: o.id, reason: spec.reason, notices: encodeNotices(spec.notices) }, now);
    return true;
  });
}

/**
 * Step 2: cancel the escrow of `o` after decideEscrowCancel won. If LND fails, the order goes back
 * (patch → undo, compare-and-set) and the decision is dropped in one transaction, then the error
 * is rethrown. Returns nothing when there is no escrow.
 */
export async function refundDecidedEscrow(ctx: AppContext, o: OrderRow, patch: OrderPatch, undo: OrderPatch): Promise<void> {
  const hash = o.hash;
  if (hash === null) return;
  try {
    await cancelEscrow(ctx, o);
  } catch (err) {
    const reverted = await ctx.db.transaction().execute(async (trx) => {
      const back = await casUpdateOrder(trx, o.id, expectPatched(patch), undo);
      if (back) await dropCancelDecision(trx, hash);
      return back;
    });
    ctx.logger.error(
      { err, orderId: o.id, hash, reverted },
      reverted ? 'hold invoice could not be canceled; cancel reverted' : 'hold invoice could not be canceled; decision kept for reconciliation',
    );
    throw err;
  }
}

/**
 * Step 3: mark the decision done and store the notices in one transaction, then send them. The
 * durable outbox (flows/notices.ts) delivers them whatever crash follows, and a restart never sends
 * them as a second distinct message. Without an escrow, step 1 already stored and sent them.
 */
export async function finishCancelNotices(ctx: AppContext, o: Pick<OrderRow, 'id' | 'hash'>, notices: readonly Notice[]): Promise<void> {
  const hash = o.hash;
  if (hash === null) return;
  await commitWithNotices(
    ctx,
    async (trx) => {
      await markCancelDone(trx, hash, ctx.clock.now());
      return true;
    },
    notices,
  );
}

export type FinishOutcome = 'done' | 'already-done' | 'conflict' | 'stale' | 'none';

/**
 * Finish the open decision for `hash`, the caller holding the order's lock: cancel the escrow
 * (unless the order has a settle decision or still needs it), close an open dispute as
 * seller-refunded, republish the order and send the recorded notices, then mark it done.
 * LND failures propagate (the decision stays open for the next run).
 */
async function finishLocked(ctx: AppContext, hash: string): Promise<FinishOutcome> {
  const d = await getCancelDecision(ctx.db, hash);
  if (d === undefined) return 'none';
  if (d.done_at !== null) return 'already-done';
  const log = ctx.logger.child({ orderId: d.order_id, hash, reason: d.reason, flow: 'escrow-cancel' });
  const o = await getOrder(ctx.db, d.order_id);
  if (o !== undefined && o.hash === hash) {
    if (SETTLE_DECIDED.includes(o.status)) {
      log.error(
        { status: o.status },
        'CANCEL/SETTLE CONFLICT: a cancel decision exists for an escrow whose order has a settle decision; not canceled, needs an operator',
      );
      return 'conflict';
    }
    if (LIVE.includes(o.status)) {
      // The status change was reverted after the decision was written: the trade needs its escrow.
      log.error({ status: o.status }, 'cancel decision on a live trade (reverted status); decision dropped, escrow kept');
      await dropCancelDecision(ctx.db, hash);
      return 'stale';
    }
  }
  await cancelEscrow(ctx, { id: d.order_id, hash });
  if (o !== undefined && CANCELED_STATUSES.includes(o.status)) await closeDispute(ctx, o, 'seller-refunded');
  const notices = decodeNotices(d.notices);
  if (o !== undefined && d.notices !== null) await publishOrder(ctx, o);
  // Done, with the notices stored in the same transaction (see finishCancelNotices).
  await finishCancelNotices(ctx, { id: d.order_id, hash }, notices);
  log.warn({ decidedAt: d.decided_at, notices: notices.length }, 'interrupted escrow cancel finished (seller refunded)');
  return 'done';
}

/** Finish the open decision for `hash` under its order's lock. */
export async function finishCancelDecision(ctx: AppContext, hash: string): Promise<FinishOutcome> {
  const d = await getCancelDecision(ctx.db, hash);
  if (d === undefined) return 'none';
  if (d.done_at !== null) return 'already-done';
  return ctx.locks.run(`order:${d.order_id}`, () => finishLocked(ctx, hash));
}

/**
 * The caller holds the lock of `o`, whose status records a cancel (canceled, cooperatively-canceled,
 * canceled-by-admin, expired), and LND reports its escrow held (or still payable): record a
 * decision if none is open and finish it.
 */
export async function refundEscrowOfCanceledOrder(ctx: AppContext, o: OrderRow): Promise<FinishOutcome> {
  const hash = o.hash;
  if (hash === null || !CANCELED_STATUSES.includes(o.status)) return 'none';
  const d = await getCancelDecision(ctx.db, hash);
  if (d === undefined || d.done_at !== null) {
    await recordCancelDecision(ctx.db, { hash, order_id: o.id, reason: 'accepted-after-cancel', notices: null }, ctx.clock.now());
  }
  ctx.logger.error({ orderId: o.id, hash, status: o.status }, 'escrow held behind a canceled order; canceling it now');
  return finishLocked(ctx, hash);
}

export interface CancelReconcileSummary {
  finished: number;
  failed: number;
  conflicts: number;
  /** Left for the next run: this process holds the order's lock (a live cancel is working on it). */
  busy: number;
}

/**
 * Finish every open decision (at boot and on every run of the escrow deadline job). A decision
 * whose order lock this process holds is left for the next run: every path that decides a cancel
 * holds that lock from the decision to its notices, so a decision is only ever finished by its own
 * path or, once that path is gone (crash, shutdown, an error after the decision), by this. One
 * decision's failure is logged and the others go on.
 */
export async function finishOpenCancelDecisions(ctx: AppContext): Promise<CancelReconcileSummary> {
  const summary: CancelReconcileSummary = { finished: 0, failed: 0, conflicts: 0, busy: 0 };
  const open: EscrowCancelRow[] = await listOpenCancelDecisions(ctx.db, ctx.clock.now());
  for (const d of open) {
    if (ctx.locks.isHeld(`order:${d.order_id}`)) {
      summary.busy += 1;
      continue;
    }
    try {
      const outcome = await finishCancelDecision(ctx, d.hash);
      if (outcome === 'done') summary.finished += 1;
      if (outcome === 'conflict') summary.conflicts += 1;
    } catch (err) {
      summary.failed += 1;
      ctx.logger.error({ err, orderId: d.order_id, hash: d.hash }, 'interrupted escrow cancel could not be finished; retried next run');
    }
  }
  return summary;
}

/**
 * Boot only: orders whose status records a cancel but whose escrow LND may still hold (legacy
 * 0.17.1 rows whose CancelInvoice failed silently, or a decision lost before this table existed).
 * Only escrows taken within two CLTV windows are looked at (older HTLCs LND has expired itself).
 * An escrow still ACCEPTED or OPEN is canceled. Returns the number canceled.
 */
export async function refundStrandedCanceledEscrows(ctx: AppContext): Promise<number> {
  const window = 2 * ctx.settings.lightning.hold_invoice_cltv_delta * 600;
  const orders = await findCanceledOrdersWithEscrow(ctx.db, CANCELED_STATUSES, ctx.clock.now() - window);
  let canceled = 0;
  for (const listed of orders) {
    const hash = listed.hash;
    if (hash === null) continue;
    try {
      const lookup = await ctx.lightning.lookupInvoice(hash);
      if (lookup === null || (lookup.state !== 'accepted' && lookup.state !== 'open')) continue;
      const outcome = await ctx.locks.run(`order:${listed.id}`, async () => {
        const o = await getOrder(ctx.db, listed.id);
        if (o === undefined || o.hash !== hash) return 'none' as const;
        return refundEscrowOfCanceledOrder(ctx, o);
      });
      if (outcome === 'done') canceled += 1;
    } catch (err) {
      ctx.logger.error({ err, orderId: listed.id, hash }, 'escrow of a canceled order could not be checked or canceled');
    }
  }
  return canceled;
}
