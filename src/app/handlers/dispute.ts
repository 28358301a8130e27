import { commitWithNotices } from '../flows/notices.js';
import { randomUUID } from 'node:crypto';
import { insertDispute, getDisputeByOrder, DuplicateDisputeError } from '../../db/disputes.js';
import { casUpdateOrder, getOrder } from '../../db/orders.js';
import type { DisputeRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { publishDispute } from '../flows/publish.js';

/**
 * `dispute` — the buyer or the seller opens a dispute on an active / fiat-sent order
 * (HANDLERS.md §4.8, PROTOCOL.md §5.8, §9.5 rows 1–3).
 *
 * Differences from 0.17.1 (docs/COMPATIBILITY.md):
 *  - unknown order id → cant-do not_found (upstream #752) instead of silence;
 *  - the order update is a compare-and-set from the status we read, done in the same transaction
 *    as the dispute INSERT, and it always records the initiator's flag (and clears the other): an
 *    inherited flag no longer leaves the order outside `dispute` while a dispute row exists (HQ-22).
 * Kept: a second dispute on the same order is silent (HQ-17).
 */
export const dispute: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('dispute request without an order id');
  const requestId = msg.kind.request_id;

  if ((await getDisputeByOrder(ctx.db, orderId)) !== undefined) {
    throw new SilentError(`a dispute already exists for order ${orderId}`);
  }
  const order = await getOrder(ctx.db, orderId);
  if (order === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  if (order.status !== 'active' && order.status !== 'fiat-sent') {
    throw new CantDoError('not_allowed_by_status', `order ${orderId} is ${order.status}`);
  }
  const buyer = order.buyer_pubkey;
  const seller = order.seller_pubkey;
  if (buyer === null || seller === null) throw new SilentError(`order ${orderId} lacks a buyer or seller key`);

  let initiator: 'buyer' | 'seller';
  if (inbound.tradeKey === buyer) initiator = 'buyer';
  else if (inbound.tradeKey === seller) initiator = 'seller';
  else throw new CantDoError('invalid_pubkey', `${inbound.tradeKey} is not a party of order ${orderId}`);

  const row: DisputeRow = {
    id: randomUUID(),
    order_id: order.id,
    status: 'initiated',
    order_previous_status: order.status,
    solver_pubkey: null,
    created_at: ctx.clock.now(),
    taken_at: 0,
  };

  const counterpart = initiator === 'buyer' ? seller : buyer;
  const payload = { dispute: [row.id, null] as [string, null] };
  // The notices are stored with the dispute (durable outbox, flows/notices.ts).
  await commitWithNotices(ctx, async (trx) => {
    const won = await casUpdateOrder(
      trx,
      order.id,
      { status: order.status, buyer_pubkey: buyer, seller_pubkey: seller },
      {
        status: 'dispute',
        buyer_dispute: initiator === 'buyer' ? 1 : 0,
        seller_dispute: initiator === 'seller' ? 1 : 0,
      },
    );
    if (!won) throw new CantDoError('not_allowed_by_status', `order ${order.id} changed while opening the dispute`);
    try {
      await insertDispute(trx, row);
    } catch (err) {
      if (err instanceof DuplicateDisputeError) {
        throw new SilentError(`a dispute already exists for order ${order.id}`, { cause: err });
      }
      throw err;
    }
    return true;
  }, [
    [counterpart, buildMessage({ action: 'dispute-initiated-by-peer', id: order.id, requestId, payload })],
    [inbound.tradeKey, buildMessage({ action: 'dispute-initiated-by-you', id: order.id, requestId, payload })],
  ]);

  await publishDispute(ctx, row, initiator);
};
