import { findOrdersByIdsForUser } from '../../db/orders.js';
import { CantDoError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { toSmallOrder } from '../flows/order-view.js';

/**
 * `orders` — fetch one's own orders by id (HANDLERS.md §4.15, PROTOCOL.md §5.11, §9.9).
 * Payload must be a non-empty `ids` list → else invalid_parameters; more than
 * `max_orders_per_response` ids → too_many_requests; only orders whose master buyer or seller key
 * is the sender's identity, in request order; none → not_found. Reply `orders` to the trade key
 * (no id, request_id echoed, trade_index null) with full SmallOrders minus `buyer_invoice`.
 */
export const orders: Handler = async (ctx, msg, inbound) => {
  const payload = msg.kind.payload;
  if (payload === null || !('ids' in payload) || payload.ids.length === 0) {
    throw new CantDoError('invalid_parameters', 'orders needs a non-empty ids payload');
  }
  if (payload.ids.length > ctx.settings.mostro.max_orders_per_response) {
    throw new CantDoError('too_many_requests', `more than ${ctx.settings.mostro.max_orders_per_response} ids`);
  }
  const found = await findOrdersByIdsForUser(ctx.db, payload.ids, inbound.identity);
  if (found.length === 0) throw new CantDoError('not_found', 'none of the requested orders is yours');
  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({
      action: 'orders',
      requestId: msg.kind.request_id,
      payload: { orders: found.map((o) => toSmallOrder(o, { invoice: false })) },
    }),
  );
};
