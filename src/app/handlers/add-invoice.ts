import { commitWithNotices } from '../flows/notices.js';
import { casUpdateOrder, getOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { validateBuyerInvoice } from '../../lightning/invoice.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { createEscrow } from '../flows/hold-invoice.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { buyerAmount, sellerAmount, toSmallOrder } from '../flows/order-view.js';
import { publishOrder } from '../flows/publish.js';
import { notifyTakerReputation } from '../flows/reputation.js';
import { nodeNetwork, paymentRequestOf } from '../flows/take-terms.js';

/**
 * `add-invoice`: the buyer provides or replaces the payout invoice (HANDLERS.md §4.4,
 * PROTOCOL.md §5.4). Checks in the spec's order (a bad invoice on a wrong-status order reports
 * invalid_invoice). settled-hold-invoice (failed payout) → store the invoice, reset attempts,
 * invoice-updated; waiting-buyer-invoice → taker reputation notice (sell) then either active (the
 * seller already paid: buy orders) or the escrow is created (sell orders). Every write is a
 * compare-and-set on the status read. Deviations: unknown order → not_found (#752); a payout in
 * flight (claimed, payout_payment_hash set) cannot have its invoice swapped (not_allowed_by_status);
 * Lightning down → not_allowed_by_status before anything changes when an escrow must be created.
 */
export const addInvoice: Handler = async (ctx, msg, inbound) => {
  const requestId = msg.kind.request_id;
  const id = msg.kind.id;
  const order = id === undefined ? undefined : await getOrder(ctx.db, id);
  if (order === undefined) throw new CantDoError('not_found');
  if (order.buyer_pubkey === null) throw new SilentError(`order ${order.id} has no buyer`);
  if (inbound.tradeKey !== order.buyer_pubkey) throw new CantDoError('invalid_peer');

  const invoice = paymentRequestOf(msg);
  if (invoice === null) throw new CantDoError('invalid_invoice', 'no invoice in the request');
  await validateBuyerInvoice({
    paymentRequest: invoice,
    expectedSats: buyerAmount(order),
    settings: ctx.settings,
    nodeNetwork: nodeNetwork(ctx),
    now: ctx.clock.now(),
    lnurl: ctx.lnurl,
  });

  if (order.status === 'settled-hold-invoice') {
    const won = await casUpdateOrder(
      ctx.db,
      order.id,
      { status: 'settled-hold-invoice', payout_payment_hash: null },
      { buyer_invoice: invoice, payment_attempts: 0 },
    );
    if (!won) throw new CantDoError('not_allowed_by_status', 'payout in progress');
    ctx.outbox.sendMessage(
      inbound.tradeKey,
      buildMessage({ action: 'invoice-updated', id: order.id, requestId, tradeIndex: null, payload: null }),
    );
    return;
  }
  if (order.status !== 'waiting-buyer-invoice') throw new CantDoError('not_allowed_by_status');
  const escrowPaid = order.preimage !== null;
  if (!escrowPaid) requireLightning(ctx);
  if (order.seller_pubkey === null) throw new SilentError(`order ${order.id} has no seller`);

  // Sell order: tell the seller who took it (pay-invoice {peer}); buy order: nothing.
  await notifyTakerReputation(ctx, order);

  if (escrowPaid) {
    // Buy order whose seller already paid the escrow: straight to active.
    const updated: OrderRow = { ...order, status: 'active', buyer_invoice: invoice };
    // Stored with the status change (durable outbox, flows/notices.ts).
    const won = await commitWithNotices(
      ctx,
      (trx) => casUpdateOrder(trx, order.id, { status: 'waiting-buyer-invoice', hash: order.hash }, { status: 'active', buyer_invoice: invoice }),
      [
        [
          order.seller_pubkey,
          buildMessage({
            action: 'buyer-took-order',
            id: order.id,
            requestId: null,
            tradeIndex: null,
            payload: { order: toSmallOrder(updated, { amount: sellerAmount(updated), invoice: false }) },
          }),
        ],
        [
          inbound.tradeKey,
          buildMessage({
            action: 'hold-invoice-payment-accepted',
            id: order.id,
            requestId,
            tradeIndex: null,
            payload: { order: toSmallOrder(updated, { amount: buyerAmount(updated) }) },
          }),
        ],
      ],
    );
    if (!won) throw new CantDoError('not_allowed_by_status');
    await publishOrder(ctx, updated); // active is not published; kept for uniformity
    return;
  }

  // Sell order taken without invoice: create the escrow now. The seller's time to pay
  // (expiration_seconds) starts now, not at the take (upstream #879 re-anchors each duty).
  await createEscrow(ctx, { ...order, buyer_invoice: invoice, taken_at: ctx.clock.now() }, {
    buyerInvoice: invoice,
    requestId,
    fromStatus: 'waiting-buyer-invoice',
  });
};
