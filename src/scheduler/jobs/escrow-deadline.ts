/**
 * Escrow deadline guard (not in 0.17.1; upstream #862). LND cancels an accepted hold-invoice HTLC
 * `invoices.holdexpirydelta` blocks before its CLTV expiry and refunds the seller — in 0.17.1 that
 * happened silently ~22 h after the seller paid, while the order still read `active` / `fiat-sent`,
 * so a buyer who had sent fiat could lose it. Every run (each 60 s) this job compares the chain tip
 * (a fresh GetInfo) with the lowest accepted-HTLC expiry height of each live escrow (LookupInvoice);
 * when `blockHeight + escrow_deadline_margin_blocks >= htlcExpiryHeight`, or when LND already
 * dropped the HTLC, it resolves the trade while the escrow can still be acted on:
 *
 *  - `active` (or `waiting-buyer-invoice` with a held escrow) — nobody claims the fiat moved:
 *    the order becomes `canceled` (claimed by compare-and-set first), the escrow is canceled (a
 *    clean, observed refund), 38383 `canceled`, both parties get `canceled` (request_id null).
 *  - `fiat-sent` — the buyer says the fiat moved: a dispute is opened in the buyer's name (the
 *    buyer's claim is the one at stake), the order becomes `dispute` with buyer_dispute = 1, the
 *    buyer gets `dispute-initiated-by-you` and the seller `dispute-initiated-by-peer` (payload
 *    `dispute[<id>, null]`, the messages a user-opened dispute sends), 38386 `initiated` with
 *    initiator `buyer`. The escrow is NOT canceled: it is the solver's only leverage.
 *  - `dispute` — left to the solver; an ERROR is logged on every run until it is settled/canceled.
 *
 * The margin must exceed LND's `invoices.holdexpirydelta` (default 12 blocks), otherwise LND acts
 * first and the guard can only clean up after it (that path is handled too: a canceled escrow on a
 * live order is resolved the same way, and logged as an error). It must also be below
 * `hold_invoice_cltv_delta` (refused at startup; should it reach the job, half the window is used).
 *
 * Issue 12 additions, in each run:
 *  - open cancel decisions are finished first (a cancel whose CancelInvoice never ran or failed
 *    after the decision, flows/escrow-cancel.ts), except those whose order lock is held;
 *  - when LND cannot tell the HTLC's expiry height (or the chain tip is unavailable), the deadline
 *    is measured by the clock: `invoice_held_at + (cltv_delta − margin) × 600 s`, and the guard
 *    acts the same way (an escrow with neither is reported at error level);
 *  - an escrow LND reports SETTLED behind a guarded order goes to finishSettledEscrow (release
 *    finished for fiat-sent/dispute; reported loudly for active/waiting);
 *  - a waiting-payment order whose escrow LND reports ACCEPTED (the update was lost) moves on
 *    through onEscrowAccepted.
 */
import { randomUUID } from 'node:crypto';
import {
  decideEscrowCancel,
  finishCancelNotices,
  finishOpenCancelDecisions,
  refundDecidedEscrow,
  type Notice,
} from '../../app/flows/escrow-cancel.js';
import { commitWithNotices } from '../../app/flows/notices.js';
import { finishSettledEscrow, onEscrowAccepted } from '../../app/flows/hold-invoice.js';
import { publishDispute, publishOrder } from '../../app/flows/publish.js';
import type { AppContext } from '../../context.js';
import { casUpdateDispute, getDisputeByOrder, insertDispute } from '../../db/disputes.js';
import { casUpdateOrder, findOpenEscrows, getOrder } from '../../db/orders.js';
import type { Executor } from '../../db/schema.js';
import type { DisputeRow, OrderRow } from '../../db/types.js';
import type { InvoiceLookup } from '../../lightning/backend.js';
import { buildMessage } from '../../protocol/build.js';
import type { Status } from '../../protocol/types.js';

/** Statuses in which the trade still depends on an accepted escrow HTLC. */
const GUARDED: readonly Status[] = ['active', 'fiat-sent', 'dispute', 'waiting-buyer-invoice'];

export type DeadlineVerdict =
  /** Not near the deadline (or nothing to guard). */
  | { due: false }
  /** Near the deadline (`escrowGone` false) or the HTLC is already gone (`escrowGone` true). */
  | { due: true; escrowGone: boolean; expiryHeight: number | null };

/** Nominal seconds per block for the clock fallback (Bitcoin's long-run average). */
export const SECONDS_PER_BLOCK = 600;

/**
 * The margin the guard uses. Startup refuses margin >= CLTV delta (settings-schema); should such a
 * pair reach the job anyway, half the window is used (as upstream clamps) rather than acting on
 * every escrow the minute it is paid.
 */
export function effectiveMargin(cltvDeltaBlocks: number, marginBlocks: number): number {
  return marginBlocks >= cltvDeltaBlocks ? Math.floor(cltvDeltaBlocks / 2) : marginBlocks;
}

/**
 * Clock fallback when the HTLC expiry height (or the chain tip) is unknown: the guard acts
 * `(hold_invoice_cltv_delta - margin) × 600 s` after the escrow was held (`invoice_held_at`).
 * Null when the escrow was never seen held (invoice_held_at 0): nothing to measure from. Pure.
 */
export function clockDeadline(invoiceHeldAt: number, cltvDeltaBlocks: number, marginBlocks: number): number | null {
  if (invoiceHeldAt <= 0) return null;
  return invoiceHeldAt + (cltvDeltaBlocks - effectiveMargin(cltvDeltaBlocks, marginBlocks)) * SECONDS_PER_BLOCK;
}

/** Decide from one lookup and the chain tip. Pure. */
export function deadlineVerdict(lookup: InvoiceLookup, blockHeight: number, marginBlocks: number): DeadlineVerdict {
  if (lookup.state === 'canceled') return { due: true, escrowGone: true, expiryHeight: lookup.htlcExpiryHeight || null };
  if (lookup.state !== 'accepted' || lookup.htlcExpiryHeight <= 0) return { due: false };
  if (blockHeight + marginBlocks >= lookup.htlcExpiryHeight) {
    return { due: true, escrowGone: blockHeight >= lookup.htlcExpiryHeight, expiryHeight: lookup.htlcExpiryHeight };
  }
  return { due: false };
}

export async function guardEscrowDeadlines(ctx: AppContext): Promise<void> {
  if (ctx.lightning.state !== 'up') {
    ctx.logger.info({ lightning: ctx.lightning.state }, 'escrow deadline guard skipped: Lightning node not up');
    return;
  }
  // Cancel decisions whose CancelInvoice never ran (crash, shutdown, LND failure) — issue 12 defect 2.
  try {
    await finishOpenCancelDecisions(ctx);
  } catch (err) {
    ctx.logger.error({ err }, 'escrow deadline guard: open cancel decisions not reconciled; retried next run');
  }
  let blockHeight: number | null = null;
  try {
    blockHeight = (await ctx.lightning.getInfo()).blockHeight;
  } catch (err) {
    ctx.logger.warn({ err }, 'escrow deadline guard: chain height unavailable; falling back to the clock (invoice_held_at)');
  }
  const cltv = ctx.settings.lightning.hold_invoice_cltv_delta;
  const margin = effectiveMargin(cltv, ctx.settings.lightning.escrow_deadline_margin_blocks);
  const now = ctx.clock.now();
  const open = await findOpenEscrows(ctx.db);
  // An ACCEPTED update that never reached us (stream fault) would leave the trade in waiting-payment
  // with the seller's sats held: ask LND and apply it (onEscrowAccepted is compare-and-set).
  for (const o of open) {
    if (o.status !== 'waiting-payment' || o.hash === null) continue;
    try {
      if ((await ctx.lightning.lookupInvoice(o.hash))?.state === 'accepted') {
        ctx.logger.warn({ orderId: o.id, hash: o.hash, flow: 'escrow-deadline' }, 'escrow accepted but the update was missed; applying it now');
        await onEscrowAccepted(ctx, o.hash, null);
      }
    } catch (err) {
      ctx.logger.error({ err, orderId: o.id, flow: 'escrow-deadline' }, 'escrow lookup of a waiting-payment order failed; retried next run');
    }
  }
  const orders = open.filter(
    (o) => GUARDED.includes(o.status) && (o.status !== 'waiting-buyer-invoice' || o.invoice_held_at > 0),
  );
  for (const listed of orders) {
    const hash = listed.hash;
    if (hash === null) continue;
    const log = ctx.logger.child({ orderId: listed.id, hash, flow: 'escrow-deadline' });
    try {
      const lookup = await ctx.lightning.lookupInvoice(hash);
      if (lookup === null) {
        log.error({ status: listed.status }, 'escrow invoice unknown to the Lightning node while the trade is live');
        continue;
      }
      if (lookup.state === 'settled') {
        // Issue 12 defect 5: the money left the seller but the order does not say so.
        await ctx.locks.run(`order:${listed.id}`, async () => {
          const o = await getOrder(ctx.db, listed.id);
          if (o === undefined || o.hash !== hash) return;
          await finishSettledEscrow(ctx, o);
        });
        continue;
      }
      let verdict: DeadlineVerdict;
      if (lookup.state === 'accepted' && (lookup.htlcExpiryHeight <= 0 || blockHeight === null)) {
        // Issue 12 defect 4: no chain view of this HTLC — measure from when the escrow was held.
        const deadline = clockDeadline(listed.invoice_held_at, cltv, margin);
        if (deadline === null) {
          log.error({ status: listed.status }, 'accepted escrow with neither an HTLC expiry height nor invoice_held_at; cannot guard it');
          continue;
        }
        verdict = now >= deadline ? { due: true, escrowGone: false, expiryHeight: null } : { due: false };
        if (verdict.due) log.warn({ invoiceHeldAt: listed.invoice_held_at, deadline }, 'escrow deadline reached by the clock fallback');
      } else {
        verdict = blockHeight === null ? { due: false } : deadlineVerdict(lookup, blockHeight, margin);
        if (blockHeight === null && lookup.state === 'canceled') verdict = { due: true, escrowGone: true, expiryHeight: null };
      }
      if (!verdict.due) continue;
      const due = verdict;
      await ctx.locks.run(`order:${listed.id}`, async () => {
        const o = await getOrder(ctx.db, listed.id);
        if (o === undefined || o.hash !== hash || !GUARDED.includes(o.status)) return;
        const facts = { blockHeight, expiryHeight: due.expiryHeight, escrowGone: due.escrowGone };
        if (due.escrowGone) log.error({ ...facts, status: o.status }, 'escrow HTLC already gone while the trade is live');
        switch (o.status) {
          case 'active':
          case 'waiting-buyer-invoice':
            await cancelTrade(ctx, o, facts);
            break;
          case 'fiat-sent':
            await openDeadlineDispute(ctx, o, facts);
            break;
          case 'dispute':
            log.error(
              facts,
              'ESCROW DEADLINE: disputed order near its hold-invoice CLTV expiry; the solver must settle or cancel it before the escrow is refunded',
            );
            break;
          default:
            break;
        }
      });
    } catch (err) {
      log.error({ err }, 'escrow deadline guard failed for this order; retried next run');
    }
  }
}

interface Facts {
  blockHeight: number | null;
  expiryHeight: number | null;
  escrowGone: boolean;
}

async function cancelTrade(ctx: AppContext, o: OrderRow, facts: Facts): Promise<void> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'escrow-deadline' });
  const notices: Notice[] = [];
  for (const party of [o.buyer_pubkey, o.seller_pubkey]) {
    if (party !== null) notices.push([party, buildMessage({ action: 'canceled', id: o.id, requestId: null })]);
  }
  const patch = { status: 'canceled' as const };
  const won = await decideEscrowCancel(ctx, o, { expect: { status: o.status, hash: o.hash }, patch, reason: 'escrow-deadline', notices });
  if (!won) return;
  try {
    await refundDecidedEscrow(ctx, o, patch, { status: o.status });
  } catch (err) {
    log.error({ err, ...facts }, 'escrow deadline: hold invoice could not be canceled; retried next run');
    return;
  }
  log.warn(facts, 'escrow deadline: trade canceled before the hold invoice expires (seller refunded)');
  await publishOrder(ctx, { ...o, status: 'canceled' });
  await finishCancelNotices(ctx, o, notices);
}

async function openDeadlineDispute(ctx: AppContext, o: OrderRow, facts: Facts): Promise<void> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'escrow-deadline' });
  const now = ctx.clock.now();
  // The notices are stored with the dispute (durable outbox, flows/notices.ts).
  let dispute: DisputeRow | null = null;
  const opened = async (trx: Executor): Promise<DisputeRow | null> => {
    const won = await casUpdateOrder(
      trx,
      o.id,
      { status: 'fiat-sent', hash: o.hash },
      { status: 'dispute', buyer_dispute: 1, seller_dispute: 0 },
    );
    if (!won) return null;
    const existing = await getDisputeByOrder(trx, o.id);
    if (existing === undefined) {
      const row: DisputeRow = {
        id: randomUUID(),
        order_id: o.id,
        status: 'initiated',
        order_previous_status: 'fiat-sent',
        solver_pubkey: null,
        created_at: now,
        taken_at: 0,
      };
      await insertDispute(trx, row);
      return row;
    }
    if (existing.status === 'initiated' || existing.status === 'in-progress') return existing;
    // A dispute closed earlier on this order: reopen it (one row per order).
    const reopened: DisputeRow = { ...existing, status: 'initiated', solver_pubkey: null, taken_at: 0, order_previous_status: 'fiat-sent' };
    const ok = await casUpdateDispute(trx, existing.id, { status: existing.status }, {
      status: 'initiated',
      solver_pubkey: null,
      taken_at: 0,
      order_previous_status: 'fiat-sent',
    });
    if (!ok) throw new Error(`dispute ${existing.id} changed while reopening it`);
    return reopened;
  };
  const notices = (): Notice[] => {
    if (dispute === null) return [];
    const payload = { dispute: [dispute.id, null] as [string, null] };
    const out: Notice[] = [];
    if (o.buyer_pubkey !== null) out.push([o.buyer_pubkey, buildMessage({ action: 'dispute-initiated-by-you', id: o.id, requestId: null, payload })]);
    if (o.seller_pubkey !== null) out.push([o.seller_pubkey, buildMessage({ action: 'dispute-initiated-by-peer', id: o.id, requestId: null, payload })]);
    return out;
  };
  await commitWithNotices(
    ctx,
    async (trx) => {
      dispute = await opened(trx);
      return dispute !== null;
    },
    notices,
  );
  const row = dispute as DisputeRow | null;
  if (row === null) return;
  log.warn({ ...facts, disputeId: row.id }, 'escrow deadline: dispute opened for a fiat-sent order before the hold invoice expires');
  await publishDispute(ctx, row, 'buyer');
}
