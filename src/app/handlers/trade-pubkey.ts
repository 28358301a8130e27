import { casUpdateOrder, getOrder } from '../../db/orders.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';

/**
 * `trade-pubkey` — the maker of a pending order moves it to a new trade key (HANDLERS.md §4.14,
 * PROTOCOL.md §5.10). The request is sealed by the maker's identity key and authored by the new
 * trade key.
 *
 * Only the MAKER's side can be moved (upstream #871): the side whose trade key is the order's
 * creator, and the sender's identity must be that side's master key (mismatch → silent, as 0.17.1).
 * 0.17.1 picked the buyer side whenever a master buyer key was set, whoever the maker was.
 * Status ≠ pending → invalid_order_status; unknown id → cant-do not_found (#752). One
 * compare-and-set writes the new key and creator; then `trade-pubkey` goes to the new key.
 * The public event is not republished (it carries no trade key).
 */
export const tradePubkey: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('trade-pubkey without an order id');
  const o = await getOrder(ctx.db, orderId);
  if (o === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  if (o.status !== 'pending') throw new CantDoError('invalid_order_status', `order ${o.id} is ${o.status}`);

  const creator = o.creator_pubkey;
  let side: 'buyer' | 'seller';
  if (creator !== null && creator === o.buyer_pubkey) side = 'buyer';
  else if (creator !== null && creator === o.seller_pubkey) side = 'seller';
  else throw new SilentError(`order ${o.id}: the maker's trade key is not on the order`);
  const master = side === 'buyer' ? o.master_buyer_pubkey : o.master_seller_pubkey;
  if (master === null || master !== inbound.identity) {
    throw new SilentError(`trade-pubkey on order ${o.id} not sent by the maker's identity`);
  }

  const keyColumn = side === 'buyer' ? 'buyer_pubkey' : 'seller_pubkey';
  const masterColumn = side === 'buyer' ? 'master_buyer_pubkey' : 'master_seller_pubkey';
  const won = await casUpdateOrder(
    ctx.db,
    o.id,
    { status: 'pending', creator_pubkey: creator, [keyColumn]: creator, [masterColumn]: master },
    { [keyColumn]: inbound.tradeKey, creator_pubkey: inbound.tradeKey },
  );
  if (!won) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before trade-pubkey`);
  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({ action: 'trade-pubkey', id: o.id, requestId: msg.kind.request_id }),
  );
};
