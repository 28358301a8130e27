import type { AppContext } from '../../context.js';
import { getOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { CantDoReason, MessageKind } from '../../protocol/types.js';
import type { Inbound } from '../inbound.js';
import { initiatorOf } from './reputation.js';
import { requireAssignedSolver } from './solver-auth.js';

/** A disputed order an admin decision (admin-cancel / admin-settle) may act on. */
export interface AdminDecisionTarget {
  order: OrderRow;
  buyer: string;
  seller: string;
}

/**
 * The checks admin-cancel and admin-settle share (HANDLERS.md §4.10–§4.11), in this order:
 * order id present (else SilentError), order exists (`not_found`), the sender's identity is the
 * dispute's assigned solver (requireAssignedSolver); a cooperatively-canceled order answers
 * `cooperative-cancel-accepted` to the IDENTITY key (HQ-16 kept) and yields null; any status other
 * than `dispute` is refused with `wrongStatus` (HQ-23 kept: admin-cancel says
 * not_allowed_by_status, admin-settle invalid_order_status); both trade keys must be set
 * (SilentError) and the dispute flags consistent (`invalid_dispute_status`).
 */
export async function loadAdminDecisionTarget(
  ctx: AppContext,
  kind: MessageKind,
  inbound: Inbound,
  wrongStatus: CantDoReason,
): Promise<AdminDecisionTarget | null> {
  const orderId = kind.id;
  if (orderId === undefined) throw new SilentError(`${kind.action} without an order id`);
  const order = await getOrder(ctx.db, orderId);
  if (order === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  await requireAssignedSolver(ctx, inbound.identity, order.id);

  if (order.status === 'cooperatively-canceled') {
    ctx.outbox.sendMessage(
      inbound.identity,
      buildMessage({
        action: 'cooperative-cancel-accepted',
        id: order.id,
        requestId: kind.request_id,
        tradeIndex: kind.trade_index,
      }),
    );
    return null;
  }
  if (order.status !== 'dispute') throw new CantDoError(wrongStatus, `order ${order.id} is ${order.status}`);
  const buyer = order.buyer_pubkey;
  const seller = order.seller_pubkey;
  if (buyer === null || seller === null) throw new SilentError(`order ${order.id} lacks a buyer or seller key`);
  if (initiatorOf(order) === 'unknown') {
    throw new CantDoError('invalid_dispute_status', `order ${order.id} has inconsistent dispute flags`);
  }
  return { order, buyer, seller };
}
