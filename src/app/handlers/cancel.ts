import type { AppContext } from '../../context.js';
import { casUpdateOrder, getOrder, type OrderExpect, type OrderPatch } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Status } from '../../protocol/types.js';
import type { Handler } from '../handler.js';
import type { Inbound } from '../inbound.js';
import { closeDispute } from '../flows/dispute-close.js';
import type { CancelReason } from '../../db/escrow-cancels.js';
import { decideEscrowCancel, finishCancelNotices, refundDecidedEscrow, type Notice } from '../flows/escrow-cancel.js';
import { commitWithNotices } from '../flows/notices.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { toSmallOrder } from '../flows/order-view.js';
import { takerResetPatch, undoPatch } from '../flows/order-reset.js';
import { withdrawIfMakerBanned } from '../flows/withdraw.js';
import { publishOrder } from '../flows/publish.js';
import { recordAbandonedTake } from '../flows/abandoned-takes.js';

const ALREADY_CANCELED: readonly Status[] = ['canceled', 'cooperatively-canceled', 'canceled-by-admin'];

interface CancelRequest {
  o: OrderRow;
  inbound: Inbound;
  requestId: bigint | null;
}

/**
 * `cancel` (HANDLERS.md §4.7, PROTOCOL.md §5.7, §9.4):
 *  - pending: the maker alone → canceled;
 *  - waiting-payment / waiting-buyer-invoice: the maker → canceled; the taker → order back to
 *    pending for the maker; anyone else → invalid_pubkey;
 *  - active / fiat-sent / dispute: cooperative, two steps, buyer and seller only (strangers get
 *    is_not_your_order, upstream #851 — 0.17.1 treated any non-buyer as the seller, HQ-5); the
 *    second step refunds the seller and closes an open dispute as seller-refunded (#577);
 *  - any other status → not_allowed_by_status.
 *
 * Every transition is CLAIMED with a compare-and-set — in the same transaction as a durable cancel
 * decision (escrow hash + the notices to send, flows/escrow-cancel.ts) — before LND is asked to
 * cancel the escrow; if LND cannot cancel it, the claim is reverted and the sender gets cant-do
 * not_allowed_by_status (0.17.1 was silent and sometimes left the status changed with a live
 * escrow). A crash between the claim and the refund is finished by reconciliation. A release racing a
 * cooperative cancel therefore has exactly one outcome. Unknown ids → cant-do not_found (#752).
 */
export const cancel: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('cancel without an order id');
  const o = await getOrder(ctx.db, orderId);
  if (o === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  const req: CancelRequest = { o, inbound, requestId: msg.kind.request_id };
  if (ALREADY_CANCELED.includes(o.status)) throw new CantDoError('order_already_canceled');
  switch (o.status) {
    case 'pending':
      return cancelPending(ctx, req);
    case 'waiting-payment':
    case 'waiting-buyer-invoice':
      return cancelWaiting(ctx, req);
    case 'active':
    case 'fiat-sent':
    case 'dispute':
      return cooperativeCancel(ctx, req);
    default:
      throw new CantDoError('not_allowed_by_status', `order ${o.id} is ${o.status}`);
  }
};

async function cancelPending(ctx: AppContext, { o, inbound, requestId }: CancelRequest): Promise<void> {
  if (o.creator_pubkey === null || inbound.tradeKey !== o.creator_pubkey) throw new CantDoError('is_not_your_order');
  // The notice is stored with the status change (durable outbox, flows/notices.ts): a crash or a
  // power cut never keeps the one without the other.
  const won = await commitWithNotices(
    ctx,
    (trx) => casUpdateOrder(trx, o.id, { status: 'pending', creator_pubkey: o.creator_pubkey }, { status: 'canceled' }),
    [[inbound.tradeKey, buildMessage({ action: 'canceled', id: o.id, requestId })]],
  );
  if (!won) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before cancel`);
  await publishOrder(ctx, { ...o, status: 'canceled' });
}

/**
 * Claim with `expect → patch` and record the cancel decision (one transaction), cancel the escrow,
 * and undo the claim (`patch → undo`) if LND fails. The decision carries `notices`, so a crash
 * before they are sent is finished by reconciliation (issue 12 defect 2).
 */
async function claimThenCancelEscrow(
  ctx: AppContext,
  o: OrderRow,
  spec: { expect: OrderExpect; patch: OrderPatch; undo: OrderPatch; reason: CancelReason; notices: readonly Notice[] },
): Promise<void> {
  const won = await decideEscrowCancel(ctx, o, spec);
  if (!won) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before cancel`);
  try {
    await refundDecidedEscrow(ctx, o, spec.patch, spec.undo);
  } catch (err) {
    throw new CantDoError('not_allowed_by_status', `hold invoice cancel failed: ${(err as Error).message}`);
  }
}

async function cancelWaiting(ctx: AppContext, { o, inbound, requestId }: CancelRequest): Promise<void> {
  const buyer = o.buyer_pubkey;
  const seller = o.seller_pubkey;
  if (buyer === null || seller === null) throw new SilentError(`order ${o.id} lacks a buyer or seller key`);
  let makerSide: 'buyer' | 'seller';
  if (o.creator_pubkey === buyer) makerSide = 'buyer';
  else if (o.creator_pubkey === seller) makerSide = 'seller';
  else throw new SilentError(`order ${o.id}: the creator is neither buyer nor seller`);
  const maker = makerSide === 'buyer' ? buyer : seller;
  const taker = makerSide === 'buyer' ? seller : buyer;
  if (inbound.tradeKey !== maker && inbound.tradeKey !== taker) throw new CantDoError('invalid_pubkey');
  if (o.hash !== null) requireLightning(ctx);

  if (inbound.tradeKey === maker) {
    const notices: Notice[] = [
      [maker, buildMessage({ action: 'canceled', id: o.id, requestId })],
      [taker, buildMessage({ action: 'canceled', id: o.id, requestId: null })],
    ];
    await claimThenCancelEscrow(ctx, o, {
      expect: { status: o.status, hash: o.hash, creator_pubkey: maker },
      patch: { status: 'canceled' },
      undo: { status: o.status },
      reason: 'cancel',
      notices,
    });
    await publishOrder(ctx, { ...o, status: 'canceled' });
    await finishCancelNotices(ctx, o, notices);
    return;
  }

  // The taker backs out: the order goes back to pending for the maker.
  const takerSide = makerSide === 'buyer' ? 'seller' : 'buyer';
  const reset = takerResetPatch(o, makerSide);
  const pending: OrderRow = { ...o, ...reset, status: 'pending' };
  const notices: Notice[] = [
    [taker, buildMessage({ action: 'canceled', id: o.id, requestId })],
    // Quirk kept: the maker's notice echoes the taker's request id.
    [maker, buildMessage({ action: 'new-order', id: o.id, requestId, payload: { order: toSmallOrder(pending) } })],
  ];
  await claimThenCancelEscrow(ctx, o, {
    expect: { status: o.status, hash: o.hash, [takerSide === 'seller' ? 'seller_pubkey' : 'buyer_pubkey']: taker },
    patch: reset,
    undo: undoPatch(o, reset),
    reason: 'taker-cancel',
    notices,
  });
  await publishOrder(ctx, pending);
  await finishCancelNotices(ctx, o, notices);
  await recordAbandonedTake(ctx, o, takerSide);
  // A banned maker's order does not go back into the book (app/flows/withdraw.ts).
  await withdrawIfMakerBanned(ctx, pending);
}

async function cooperativeCancel(ctx: AppContext, { o, inbound, requestId }: CancelRequest): Promise<void> {
  const buyer = o.buyer_pubkey;
  const seller = o.seller_pubkey;
  if (buyer === null || seller === null) throw new SilentError(`order ${o.id} lacks a buyer or seller key`);
  let role: 'buyer' | 'seller';
  if (inbound.tradeKey === buyer) role = 'buyer';
  else if (inbound.tradeKey === seller) role = 'seller';
  else throw new CantDoError('is_not_your_order');
  const sender = inbound.tradeKey;
  const counterparty = role === 'buyer' ? seller : buyer;
  const flag = role === 'buyer' ? 'buyer_cooperativecancel' : 'seller_cooperativecancel';
  const initiator = o.cancel_initiator_pubkey;

  if (initiator === null || (initiator !== buyer && initiator !== seller)) {
    // Step 1: record the initiator; nothing else changes.
    const won = await casUpdateOrder(
      ctx.db,
      o.id,
      { status: o.status, cancel_initiator_pubkey: initiator },
      { cancel_initiator_pubkey: sender, [flag]: 1 },
    );
    if (!won) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before cancel`);
    ctx.outbox.sendMessage(sender, buildMessage({ action: 'cooperative-cancel-initiated-by-you', id: o.id, requestId }));
    ctx.outbox.sendMessage(
      counterparty,
      buildMessage({ action: 'cooperative-cancel-initiated-by-peer', id: o.id, requestId: null }),
    );
    return;
  }
  if (initiator === sender) throw new CantDoError('invalid_pubkey', 'cooperative cancel already initiated by you');

  // Step 2: the other party agrees — refund the seller.
  if (o.hash !== null) requireLightning(ctx);
  const notices: Notice[] = [
    [sender, buildMessage({ action: 'cooperative-cancel-accepted', id: o.id, requestId })],
    [counterparty, buildMessage({ action: 'cooperative-cancel-accepted', id: o.id, requestId: null })],
  ];
  await claimThenCancelEscrow(ctx, o, {
    expect: { status: o.status, cancel_initiator_pubkey: initiator, hash: o.hash },
    patch: { status: 'cooperatively-canceled', [flag]: 1 },
    undo: { status: o.status, [flag]: o[flag] },
    reason: 'cooperative-cancel',
    notices,
  });
  const canceled: OrderRow = { ...o, status: 'cooperatively-canceled', [flag]: 1 };
  await publishOrder(ctx, canceled);
  await closeDispute(ctx, canceled, 'seller-refunded');
  await finishCancelNotices(ctx, o, notices);
}
