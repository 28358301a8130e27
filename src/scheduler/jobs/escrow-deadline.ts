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
 * live order is resolved the same way, and logged as an error).
 */
import { randomUUID } from 'node:crypto';
import { cancelEscrow } from '../../app/flows/escrow.js';
import { publishDispute, publishOrder } from '../../app/flows/publish.js';
import type { AppContext } from '../../context.js';
import { casUpdateDispute, getDisputeByOrder, insertDispute } from '../../db/disputes.js';
import { casUpdateOrder, findOpenEscrows, getOrder } from '../../db/orders.js';
import type { DisputeRow, OrderRow } from '../../db/types.js';
import type { InvoiceLookup, NodeInfo } from '../../lightning/backend.js';
import { buildMessage } from '../../protocol/build.js';
import type { Status } from '../../protocol/types.js';

/** Statuses in which the trade still depends on an accepted escrow HTLC. */
const GUARDED: readonly Status[] = ['active', 'fiat-sent', 'dispute', 'waiting-buyer-invoice'];

export type DeadlineVerdict =
  /** Not near the deadline (or nothing to guard). */
  | { due: false }
  /** Near the deadline (`escrowGone` false) or the HTLC is already gone (`escrowGone` true). */
  | { due: true; escrowGone: boolean; expiryHeight: number | null };

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
  let info: NodeInfo;
  try {
    info = await ctx.lightning.getInfo();
  } catch (err) {
    ctx.logger.warn({ err }, 'escrow deadline guard: chain height unavailable; retried next run');
    return;
  }
  const margin = ctx.settings.lightning.escrow_deadline_margin_blocks;
  const orders = (await findOpenEscrows(ctx.db)).filter(
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
      if (lookup.state === 'accepted' && lookup.htlcExpiryHeight <= 0) {
        log.warn('accepted escrow without a known HTLC expiry height; cannot guard it');
        continue;
      }
      const verdict = deadlineVerdict(lookup, info.blockHeight, margin);
      if (!verdict.due) continue;
      await ctx.locks.run(`order:${listed.id}`, async () => {
        const o = await getOrder(ctx.db, listed.id);
        if (o === undefined || o.hash !== hash || !GUARDED.includes(o.status)) return;
        const facts = { blockHeight: info.blockHeight, expiryHeight: verdict.expiryHeight, escrowGone: verdict.escrowGone };
        if (verdict.escrowGone) log.error({ ...facts, status: o.status }, 'escrow HTLC already gone while the trade is live');
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
  blockHeight: number;
  expiryHeight: number | null;
  escrowGone: boolean;
}

async function cancelTrade(ctx: AppContext, o: OrderRow, facts: Facts): Promise<void> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'escrow-deadline' });
  const won = await casUpdateOrder(ctx.db, o.id, { status: o.status, hash: o.hash }, { status: 'canceled' });
  if (!won) return;
  try {
    await cancelEscrow(ctx, o);
  } catch (err) {
    const reverted = await casUpdateOrder(ctx.db, o.id, { status: 'canceled', hash: o.hash }, { status: o.status });
    log.error({ err, reverted, ...facts }, 'escrow deadline: hold invoice could not be canceled; retried next run');
    return;
  }
  log.warn(facts, 'escrow deadline: trade canceled before the hold invoice expires (seller refunded)');
  await publishOrder(ctx, { ...o, status: 'canceled' });
  for (const party of [o.buyer_pubkey, o.seller_pubkey]) {
    if (party !== null) ctx.outbox.sendMessage(party, buildMessage({ action: 'canceled', id: o.id, requestId: null }));
  }
}

async function openDeadlineDispute(ctx: AppContext, o: OrderRow, facts: Facts): Promise<void> {
  const log = ctx.logger.child({ orderId: o.id, flow: 'escrow-deadline' });
  const now = ctx.clock.now();
  const dispute = await ctx.db.transaction().execute(async (trx): Promise<DisputeRow | null> => {
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
  });
  if (dispute === null) return;
  log.warn({ ...facts, disputeId: dispute.id }, 'escrow deadline: dispute opened for a fiat-sent order before the hold invoice expires');
  const payload = { dispute: [dispute.id, null] as [string, null] };
  if (o.buyer_pubkey !== null) {
    ctx.outbox.sendMessage(
      o.buyer_pubkey,
      buildMessage({ action: 'dispute-initiated-by-you', id: o.id, requestId: null, payload }),
    );
  }
  if (o.seller_pubkey !== null) {
    ctx.outbox.sendMessage(
      o.seller_pubkey,
      buildMessage({ action: 'dispute-initiated-by-peer', id: o.id, requestId: null, payload }),
    );
  }
  await publishDispute(ctx, dispute, 'buyer');
}
