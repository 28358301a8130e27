import { decideEscrowCancel, finishCancelNotices, refundDecidedEscrow, type Notice } from '../../app/flows/escrow-cancel.js';
import { toSmallOrder } from '../../app/flows/order-view.js';
import { takerResetPatch, undoPatch } from '../../app/flows/order-reset.js';
import { withdrawIfMakerBanned } from '../../app/flows/withdraw.js';
import { publishOrder } from '../../app/flows/publish.js';
import { forgetOldAbandonedTakes, recordAbandonedTake } from '../../app/flows/abandoned-takes.js';
import type { AppContext } from '../../context.js';
import { findWaitingTimedOut, getOrder, type OrderExpect, type OrderPatch } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { buildMessage } from '../../protocol/build.js';

/** Who ran out of time in a waiting state (PROTOCOL.md §6.5). */
export type LateParty = 'taker' | 'maker';

/**
 * (waiting-buyer-invoice, sell) / (waiting-payment, buy) → the taker is late;
 * (waiting-buyer-invoice, buy) / (waiting-payment, sell) → the maker is late; anything else → null.
 */
export function lateParty(o: Pick<OrderRow, 'status' | 'kind'>): LateParty | null {
  if (o.status === 'waiting-buyer-invoice') return o.kind === 'sell' ? 'taker' : 'maker';
  if (o.status === 'waiting-payment') return o.kind === 'buy' ? 'taker' : 'maker';
  return null;
}

/**
 * When the current duty started: the take, or — once the seller's escrow was accepted — the
 * moment it was held (the buyer of a buy order then gets a full window to send the invoice).
 * 0.17.1 measured every duty from `taken_at`, so a seller who paid late left the buyer almost no
 * time (upstream #879: the clock is re-anchored per duty).
 */
export function dutyStartedAt(o: Pick<OrderRow, 'taken_at' | 'invoice_held_at'>): number {
  return Math.max(o.taken_at, o.invoice_held_at);
}

/** True when the order is (still) in a waiting state whose current duty is past `expiration_seconds`. */
export function isTimedOut(o: OrderRow, now: number, expirationSeconds: number): boolean {
  return lateParty(o) !== null && dutyStartedAt(o) < now - expirationSeconds;
}

/**
 * Job (every 60 s, DAEMON.md §4.3, HANDLERS.md §4.7 end, PROTOCOL.md §6.5): taken orders whose
 * taker or maker did not act within `expiration_seconds`.
 *  - taker late → the taker is removed (trade key, identity, trade index), the escrow (if any) is
 *    canceled, amounts of a market order are reset, the order goes back to `pending` (38383
 *    `pending`), the maker gets `new-order` with the refreshed order and the taker `canceled`;
 *  - maker late → the escrow (if any) is canceled (refund), the order becomes `canceled` (38383
 *    `canceled`), both sides get `canceled`.
 * All messages carry request_id null and trade_index null.
 *
 * Each order is re-read under its lock and re-checked (#879) before acting; the transition is a
 * compare-and-set from the waiting status, written with a durable cancel decision (escrow hash and
 * the notices; a crash before the refund is finished by reconciliation, issue 12 defect 2),
 * CLAIMED before LND cancels the escrow and reverted if
 * LND cannot (the order is retried on the next tick; 0.17.1 logged the error and went on, which
 * could leave a paid escrow behind a `pending` order). An order with an escrow is skipped while
 * the Lightning node is down.
 */
export async function cancelTimedOutWaitingOrders(ctx: AppContext): Promise<void> {
  await forgetOldAbandonedTakes(ctx);
  const now = ctx.clock.now();
  const expiration = ctx.settings.mostro.expiration_seconds;
  const candidates = await findWaitingTimedOut(ctx.db, now - expiration);
  for (const listed of candidates) {
    try {
      await ctx.locks.run(`order:${listed.id}`, async () => {
        const o = await getOrder(ctx.db, listed.id);
        if (o === undefined || !isTimedOut(o, now, expiration)) return;
        await resolveTimedOut(ctx, o);
      });
    } catch (err) {
      ctx.logger.error({ err, orderId: listed.id }, 'waiting-state timeout of this order failed; retried next tick');
    }
  }
}

async function resolveTimedOut(ctx: AppContext, o: OrderRow): Promise<void> {
  const late = lateParty(o);
  if (late === null) return;
  const log = ctx.logger.child({ orderId: o.id, status: o.status, kind: o.kind, late });
  if (o.hash !== null && ctx.lightning.state !== 'up') {
    log.warn('waiting-state timeout due but the Lightning node is down; retried next tick');
    return;
  }
  // Maker = the side of the order's kind (sell → seller); taker = the other side.
  const makerSide = o.kind === 'sell' ? 'seller' : 'buyer';
  const takerSide = makerSide === 'seller' ? 'buyer' : 'seller';
  const maker = o.creator_pubkey ?? (makerSide === 'seller' ? o.seller_pubkey : o.buyer_pubkey);
  const taker = takerSide === 'seller' ? o.seller_pubkey : o.buyer_pubkey;

  const expect: OrderExpect = { status: o.status, hash: o.hash, taken_at: o.taken_at, invoice_held_at: o.invoice_held_at };
  const patch: OrderPatch = late === 'taker' ? takerResetPatch(o, makerSide) : { status: 'canceled' };
  const updated: OrderRow = { ...o, ...patch } as OrderRow;
  const notices: Notice[] = [];
  if (late === 'taker') {
    if (maker !== null) {
      notices.push([maker, buildMessage({ action: 'new-order', id: o.id, requestId: null, payload: { order: toSmallOrder(updated) } })]);
    }
  } else if (maker !== null) {
    notices.push([maker, buildMessage({ action: 'canceled', id: o.id, requestId: null })]);
  }
  if (taker !== null) notices.push([taker, buildMessage({ action: 'canceled', id: o.id, requestId: null })]);

  if (!(await decideEscrowCancel(ctx, o, { expect, patch, reason: 'waiting-timeout', notices }))) {
    log.info('order changed before the timeout could act; left alone');
    return;
  }
  try {
    await refundDecidedEscrow(ctx, o, patch, undoPatch(o, patch));
  } catch (err) {
    log.error({ err }, 'hold invoice could not be canceled; timeout reverted, retried next tick');
    return;
  }
  if (o.hash !== null) log.info({ hash: o.hash }, 'escrow canceled (funds returned to the seller if paid)');

  await publishOrder(ctx, updated);
  log.info(late === 'taker' ? 'taker did not act in time; order back to pending' : 'maker did not act in time; order canceled');
  await finishCancelNotices(ctx, o, notices);
  if (late === 'taker') {
    await recordAbandonedTake(ctx, o, takerSide);
    // A banned maker's order does not go back into the book (app/flows/withdraw.ts).
    await withdrawIfMakerBanned(ctx, updated);
  }
  if (maker === null || taker === null) log.warn({ maker, taker }, 'a party of the timed-out order has no trade key; not notified');
}
