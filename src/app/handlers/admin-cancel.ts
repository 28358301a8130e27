import { casUpdateOrder, getOrder } from '../../db/orders.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { closeDispute } from '../flows/dispute-close.js';
import { cancelEscrow } from '../flows/escrow.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { publishOrder } from '../flows/publish.js';
import { initiatorOf } from '../flows/reputation.js';
import { requireAssignedSolver } from '../flows/solver-auth.js';

/**
 * `admin-cancel` — the assigned solver refunds the seller (HANDLERS.md §4.10, PROTOCOL.md §5.14,
 * §9.5 rows 7b–8b). `id` = order id; authority by identity key.
 *
 * Order of work (fixes upstream #825, #810/#963, HQ-15): every check first (order, assignment,
 * status, both trade keys, consistent dispute flags, Lightning link); then the transition is
 * CLAIMED by compare-and-set dispute → canceled-by-admin; only the winner touches the escrow. A
 * settle racing this cancel therefore has exactly one outcome. If LND refuses the cancel the claim
 * is reverted (canceled-by-admin → dispute) and the error propagates, so the admin can retry.
 * cancelEscrow tolerates an invoice LND already canceled or never knew (upstream #941).
 */
export const adminCancel: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('admin-cancel without an order id');
  const requestId = msg.kind.request_id;
  const tradeIndex = msg.kind.trade_index;

  const order = await getOrder(ctx.db, orderId);
  if (order === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  await requireAssignedSolver(ctx, inbound.identity, order.id);

  if (order.status === 'cooperatively-canceled') {
    // HQ-16 kept: this answer goes to the identity key.
    ctx.outbox.sendMessage(
      inbound.identity,
      buildMessage({ action: 'cooperative-cancel-accepted', id: order.id, requestId, tradeIndex }),
    );
    return;
  }
  if (order.status !== 'dispute') {
    throw new CantDoError('not_allowed_by_status', `order ${order.id} is ${order.status}`);
  }
  const buyer = order.buyer_pubkey;
  const seller = order.seller_pubkey;
  if (buyer === null || seller === null) throw new SilentError(`order ${order.id} lacks a buyer or seller key`);
  if (initiatorOf(order) === 'unknown') {
    throw new CantDoError('invalid_dispute_status', `order ${order.id} has inconsistent dispute flags`);
  }
  if (order.hash !== null) requireLightning(ctx);

  const claimed = await casUpdateOrder(ctx.db, order.id, { status: 'dispute', hash: order.hash }, { status: 'canceled-by-admin' });
  if (!claimed) throw new CantDoError('not_allowed_by_status', `order ${order.id} changed before admin-cancel`);

  if (order.hash !== null) {
    try {
      await cancelEscrow(ctx, order);
    } catch (err) {
      const reverted = await casUpdateOrder(ctx.db, order.id, { status: 'canceled-by-admin' }, { status: 'dispute' });
      ctx.logger.error({ err, orderId: order.id, reverted }, 'admin-cancel: hold invoice cancel failed; claim reverted');
      throw err;
    }
    ctx.logger.info({ orderId: order.id }, 'admin-cancel: escrow returned to the seller');
  }

  const canceled = { ...order, status: 'canceled-by-admin' as const };
  await closeDispute(ctx, canceled, 'seller-refunded');
  await publishOrder(ctx, canceled);

  const reply = buildMessage({ action: 'admin-canceled', id: order.id, requestId, tradeIndex });
  ctx.outbox.sendMessage(inbound.tradeKey, reply);
  ctx.outbox.sendMessage(seller, reply);
  ctx.outbox.sendMessage(buyer, reply);
};
