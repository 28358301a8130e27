import { casUpdateOrder, getOrder, hasPendingTake } from '../../db/orders.js';
import { checkAbandonedTakes } from '../flows/abandoned-takes.js';
import { checkUnratedTake } from '../unrated-budget.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { validateBuyerInvoice } from '../../lightning/invoice.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { createEscrow } from '../flows/hold-invoice.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { buyerAmount, toSmallOrder, wireIndex } from '../flows/order-view.js';
import { publishOrder } from '../flows/publish.js';
import {
  checkIdentity,
  nodeNetwork,
  paymentRequestOf,
  raiseTradeIndex,
  resolveTradeIndex,
  selectFiatAmount,
  takeAmounts,
} from '../flows/take-terms.js';

/**
 * `take-sell`: a buyer takes a sell order (HANDLERS.md §4.2, PROTOCOL.md §5.2, §9.1, §9.3).
 * Checks in the spec's order. Without an invoice the order goes pending → waiting-buyer-invoice
 * (add-invoice to the buyer, waiting-buyer-invoice to the seller); with one, the escrow is created
 * (pending → waiting-payment). The status change is ONE compare-and-set from pending, so of several
 * racing takers exactly one wins; the others get invalid_order_status.
 * Deviations: unknown order id → not_found (upstream #752); Lightning down → not_allowed_by_status
 * before anything changes (only when an escrow is needed); see take-terms.ts for amounts.
 */
export const takeSell: Handler = async (ctx, msg, inbound) => {
  const requestId = msg.kind.request_id;
  const invoice = paymentRequestOf(msg);
  if (invoice !== null) requireLightning(ctx);

  const id = msg.kind.id;
  const order = id === undefined ? undefined : await getOrder(ctx.db, id);
  if (order === undefined) throw new CantDoError('not_found');

  checkIdentity(inbound.identity);
  if (await hasPendingTake(ctx.db, inbound.identity, 'buyer')) throw new CantDoError('pending_order_exists');
  await checkAbandonedTakes(ctx, inbound.identity);
  if (order.kind !== 'sell') throw new CantDoError('invalid_order_kind');
  if (order.status !== 'pending') throw new CantDoError('invalid_order_status');
  if (inbound.tradeKey === order.creator_pubkey) throw new CantDoError('invalid_pubkey');
  if (order.seller_pubkey === null) throw new SilentError(`sell order ${order.id} has no seller trade key`);

  const fiatAmount = selectFiatAmount(order, msg);
  const amounts = takeAmounts(ctx, order, fiatAmount);
  if (invoice !== null) {
    await validateBuyerInvoice({
      paymentRequest: invoice,
      expectedSats: buyerAmount(amounts),
      settings: ctx.settings,
      nodeNetwork: nodeNetwork(ctx),
      now: ctx.clock.now(),
      lnurl: ctx.lnurl,
    });
  }
  const tradeIndex = resolveTradeIndex(msg, inbound);
  // Last check before the write: a take refused for any other reason spends nothing.
  const spendOnWrite = await checkUnratedTake(ctx, inbound);

  const taken: OrderRow = {
    ...order,
    ...amounts,
    fiat_amount: fiatAmount,
    buyer_pubkey: inbound.tradeKey,
    master_buyer_pubkey: inbound.identity,
    trade_index_buyer: tradeIndex,
    taken_at: ctx.clock.now(),
  };

  if (invoice !== null) {
    await spendOnWrite(order.id, () =>
      createEscrow(ctx, taken, {
        buyerInvoice: invoice,
        requestId,
        fromStatus: 'pending',
        lostRace: 'invalid_order_status',
      }),
    );
    await raiseTradeIndex(ctx.db, inbound, tradeIndex);
    return;
  }

  // No invoice: ask the buyer for one (set_waiting_invoice_status, §3.7).
  await spendOnWrite(order.id, async () => {
    const won = await casUpdateOrder(
      ctx.db,
      order.id,
      { status: 'pending' },
      {
        status: 'waiting-buyer-invoice',
        amount: taken.amount,
        fee: taken.fee,
        dev_fee: taken.dev_fee,
        fiat_amount: taken.fiat_amount,
        buyer_pubkey: taken.buyer_pubkey,
        master_buyer_pubkey: taken.master_buyer_pubkey,
        trade_index_buyer: taken.trade_index_buyer,
        taken_at: taken.taken_at,
        // A previous taker's invoice (or one a sell maker sent) never carries over (upstream fix).
        buyer_invoice: null,
      },
    );
    if (!won) throw new CantDoError('invalid_order_status', `order ${order.id} is no longer pending`);
  });
  await raiseTradeIndex(ctx.db, inbound, tradeIndex);
  const updated: OrderRow = { ...taken, status: 'waiting-buyer-invoice', buyer_invoice: null };

  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({
      action: 'add-invoice',
      id: order.id,
      requestId,
      tradeIndex: wireIndex(updated.trade_index_buyer),
      payload: {
        order: toSmallOrder(updated, {
          amount: buyerAmount(updated),
          tradeKeys: false,
          invoice: false,
          timestamps: false,
        }),
      },
    }),
  );
  ctx.outbox.sendMessage(
    order.seller_pubkey,
    buildMessage({
      action: 'waiting-buyer-invoice',
      id: order.id,
      requestId,
      tradeIndex: wireIndex(updated.trade_index_seller),
      payload: null,
    }),
  );
  await publishOrder(ctx, updated);
};
