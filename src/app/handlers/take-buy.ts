import { getOrder, hasPendingTake } from '../../db/orders.js';
import { checkAbandonedTakes } from '../flows/abandoned-takes.js';
import { checkUnratedTake } from '../unrated-budget.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import type { Handler } from '../handler.js';
import { createEscrow } from '../flows/hold-invoice.js';
import { requireLightning } from '../flows/lightning-guard.js';
import {
  checkIdentity,
  raiseTradeIndex,
  resolveTradeIndex,
  selectFiatAmount,
  takeAmounts,
} from '../flows/take-terms.js';

/**
 * `take-buy`: a seller takes a buy order (HANDLERS.md §4.3, PROTOCOL.md §5.3, §9.2). Checks in the
 * spec's order, then the escrow is created for the seller (pending → waiting-payment, one
 * compare-and-set: racing takers get invalid_order_status); a buyer invoice the maker gave at
 * creation is kept. Deviations: unknown order id → not_found (#752); Lightning down →
 * not_allowed_by_status before anything changes; market amounts per take-terms.ts.
 */
export const takeBuy: Handler = async (ctx, msg, inbound) => {
  requireLightning(ctx);
  const requestId = msg.kind.request_id;
  const id = msg.kind.id;
  const order = id === undefined ? undefined : await getOrder(ctx.db, id);
  if (order === undefined) throw new CantDoError('not_found');

  checkIdentity(inbound.identity);
  if (await hasPendingTake(ctx.db, inbound.identity, 'seller')) throw new CantDoError('pending_order_exists');
  await checkAbandonedTakes(ctx, inbound.identity);
  if (order.kind !== 'buy') throw new CantDoError('invalid_order_kind');
  if (order.status !== 'pending') throw new CantDoError('invalid_order_status');
  if (inbound.tradeKey === order.creator_pubkey) throw new CantDoError('invalid_pubkey');

  const fiatAmount = selectFiatAmount(order, msg);
  const amounts = takeAmounts(ctx, order, fiatAmount);
  if (order.buyer_pubkey === null) throw new SilentError(`buy order ${order.id} has no buyer trade key`);
  const tradeIndex = resolveTradeIndex(msg, inbound);
  // Last check before the write: a take refused for any other reason spends nothing.
  const spendOnWrite = await checkUnratedTake(ctx, inbound);

  const taken: OrderRow = {
    ...order,
    ...amounts,
    fiat_amount: fiatAmount,
    seller_pubkey: inbound.tradeKey,
    master_seller_pubkey: inbound.identity,
    trade_index_seller: tradeIndex,
    taken_at: ctx.clock.now(),
  };
  await spendOnWrite(order.id, () =>
    createEscrow(ctx, taken, {
      buyerInvoice: order.buyer_invoice,
      requestId,
      fromStatus: 'pending',
      lostRace: 'invalid_order_status',
    }),
  );
  await raiseTradeIndex(ctx.db, inbound, tradeIndex);
};
