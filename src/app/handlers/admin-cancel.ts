import { CantDoError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { loadAdminDecisionTarget } from '../flows/admin-decision.js';
import { closeDispute } from '../flows/dispute-close.js';
import { decideEscrowCancel, finishCancelNotices, refundDecidedEscrow, type Notice } from '../flows/escrow-cancel.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { publishOrder } from '../flows/publish.js';

/**
 * `admin-cancel` — the assigned solver refunds the seller (HANDLERS.md §4.10, PROTOCOL.md §5.14,
 * §9.5 rows 7b–8b). `id` = order id; authority by identity key.
 *
 * Order of work (fixes upstream #825, #810/#963, HQ-15): every check first (order, assignment,
 * status, both trade keys, consistent dispute flags, Lightning link); then the transition is
 * CLAIMED by compare-and-set dispute → canceled-by-admin, in the same transaction as a durable
 * cancel decision (flows/escrow-cancel.ts: a crash before the refund is finished by
 * reconciliation, issue 12 defect 2); only the winner touches the escrow. A
 * settle racing this cancel therefore has exactly one outcome. If LND refuses the cancel the claim
 * is reverted (canceled-by-admin → dispute) and the error propagates, so the admin can retry.
 * cancelEscrow tolerates an invoice LND already canceled or never knew (upstream #941).
 */
export const adminCancel: Handler = async (ctx, msg, inbound) => {
  const target = await loadAdminDecisionTarget(ctx, msg.kind, inbound, 'not_allowed_by_status');
  if (target === null) return;
  const { order, buyer, seller } = target;
  const requestId = msg.kind.request_id;
  const tradeIndex = msg.kind.trade_index;
  if (order.hash !== null) requireLightning(ctx);

  const reply = buildMessage({ action: 'admin-canceled', id: order.id, requestId, tradeIndex });
  const notices: Notice[] = [
    [inbound.tradeKey, reply],
    [seller, reply],
    [buyer, reply],
  ];
  const claimed = await decideEscrowCancel(ctx, order, {
    expect: { status: 'dispute', hash: order.hash },
    patch: { status: 'canceled-by-admin' },
    reason: 'admin-cancel',
    notices,
  });
  if (!claimed) throw new CantDoError('not_allowed_by_status', `order ${order.id} changed before admin-cancel`);

  if (order.hash !== null) {
    await refundDecidedEscrow(ctx, order, { status: 'canceled-by-admin' }, { status: 'dispute' });
    ctx.logger.info({ orderId: order.id }, 'admin-cancel: escrow returned to the seller');
  }

  const canceled = { ...order, status: 'canceled-by-admin' as const };
  await closeDispute(ctx, canceled, 'seller-refunded');
  await publishOrder(ctx, canceled);
  await finishCancelNotices(ctx, order, notices);
};
