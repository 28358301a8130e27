import { commitWithNotices } from '../flows/notices.js';
import { casUpdateOrder, getOrder, type OrderPatch } from '../../db/orders.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';

/**
 * `fiat-sent` — the buyer declares the fiat payment (HANDLERS.md §4.5, PROTOCOL.md §5.5, §9.1
 * rows 13–15).
 *
 * Checks in the spec's order: unknown id → cant-do not_found (upstream #752; 0.17.1 was silent);
 * status ≠ active → invalid_order_status; sender ≠ buyer trade key → invalid_pubkey; payload other
 * than null / next_trade → silent; no seller key → silent. Then ONE compare-and-set
 * active → fiat-sent (lost race → not_allowed_by_status), and only then the two `fiat-sent-ok`
 * messages (to the seller with request_id null, to the buyer echoing it), each carrying the other
 * side's trade key.
 *
 * `next_trade` is stored only for range orders whose maker is the buyer — the only case in which it
 * is used (for the child order at release). 0.17.1 stored it whoever the maker was, which let the
 * buyer of a range SELL order plant a key (upstream #891).
 */
export const fiatSent: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('fiat-sent without an order id');
  const requestId = msg.kind.request_id;

  const o = await getOrder(ctx.db, orderId);
  if (o === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  if (o.status !== 'active') throw new CantDoError('invalid_order_status', `order ${o.id} is ${o.status}`);
  if (o.buyer_pubkey === null || inbound.tradeKey !== o.buyer_pubkey) throw new CantDoError('invalid_pubkey');
  const payload = msg.kind.payload;
  if (payload !== null && !('next_trade' in payload)) throw new SilentError('fiat-sent with an unexpected payload');
  const seller = o.seller_pubkey;
  if (seller === null) throw new SilentError(`order ${o.id} has no seller trade key`);
  const buyer = o.buyer_pubkey;

  const patch: OrderPatch = { status: 'fiat-sent' };
  const isRange = o.min_amount !== null && o.max_amount !== null;
  const buyerIsMaker = o.kind === 'buy' && o.creator_pubkey === buyer;
  if (payload !== null && isRange && buyerIsMaker) {
    patch.next_trade_pubkey = payload.next_trade[0];
    patch.next_trade_index = payload.next_trade[1];
  }
  // The notices are stored with the status change (durable outbox, flows/notices.ts): the seller
  // learns that fiat was sent whatever crash follows.
  const won = await commitWithNotices(
    ctx,
    (trx) => casUpdateOrder(trx, o.id, { status: 'active', buyer_pubkey: buyer }, patch),
    [
      [seller, buildMessage({ action: 'fiat-sent-ok', id: o.id, requestId: null, payload: { peer: { pubkey: buyer, reputation: null } } })],
      [buyer, buildMessage({ action: 'fiat-sent-ok', id: o.id, requestId, payload: { peer: { pubkey: seller, reputation: null } } })],
    ],
  );
  if (!won) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before fiat-sent`);
};
