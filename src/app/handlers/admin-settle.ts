import { casUpdateOrder } from '../../db/orders.js';
import { deleteRangeRelease } from '../../db/range-releases.js';
import { CantDoError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { loadAdminDecisionTarget } from '../flows/admin-decision.js';
import { closeDispute } from '../flows/dispute-close.js';
import { settleEscrow } from '../flows/escrow.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { markPayoutStarted, startPayout } from '../flows/payout.js';

/**
 * `admin-settle` — the assigned solver decides for the buyer: settle the escrow and pay the buyer
 * (HANDLERS.md §4.11, PROTOCOL.md §5.14, §9.5 rows 7a–9a). `id` = order id.
 *
 * Order of work (fixes #810/#963, HQ-6, HQ-15): every check first (order, assignment, status,
 * trade keys, consistent flags, escrow preimage, Lightning link); then the transition is CLAIMED by
 * compare-and-set dispute → settled-hold-invoice (persisted, HQ-6 fix) and only the winner settles
 * the hold invoice; a cancel racing this settle therefore has exactly one outcome. If LND refuses
 * the settle the claim is reverted and the error propagates. After settling: the dispute is closed
 * as `settled` (38386), `admin-settled` goes to the caller and both parties, and the buyer payout
 * starts through the same at-most-once flow as release (startPayout), off the request path.
 */
export const adminSettle: Handler = async (ctx, msg, inbound) => {
  // HQ-23 kept: admin-settle's reason for a wrong status differs from admin-cancel's.
  const target = await loadAdminDecisionTarget(ctx, msg.kind, inbound, 'invalid_order_status');
  if (target === null) return;
  const { order, buyer, seller } = target;
  const requestId = msg.kind.request_id;
  const tradeIndex = msg.kind.trade_index;
  if (order.preimage === null || order.hash === null) {
    throw new CantDoError('invalid_invoice', `order ${order.id} has no escrow to settle`);
  }
  requireLightning(ctx);

  // The claim; a seller's earlier release of a range order (whose settle failed) is forgotten with
  // it: the admin decided, and admin-settle creates no range child (as upstream).
  const claimed = await ctx.db.transaction().execute(async (trx) => {
    const won = await casUpdateOrder(
      trx,
      order.id,
      { status: 'dispute', hash: order.hash, preimage: order.preimage },
      { status: 'settled-hold-invoice' },
    );
    if (won) await deleteRangeRelease(trx, order.id);
    return won;
  });
  if (!claimed) throw new CantDoError('not_allowed_by_status', `order ${order.id} changed before admin-settle`);

  try {
    // settleEscrow treats an invoice LND already settled as settled (an ambiguous failure never
    // undoes a settled escrow); any other failure reverts the claim.
    await settleEscrow(ctx, order);
  } catch (err) {
    const reverted = await casUpdateOrder(ctx.db, order.id, { status: 'settled-hold-invoice' }, { status: 'dispute' });
    ctx.logger.error({ err, orderId: order.id, reverted }, 'admin-settle: hold invoice settle failed; claim reverted');
    throw err;
  }
  ctx.logger.info({ orderId: order.id }, 'admin-settle: escrow settled');

  const settled = { ...order, status: 'settled-hold-invoice' as const };
  await closeDispute(ctx, settled, 'settled');
  // The notices stored with the durable payout-started mark (see release).
  const toParties = buildMessage({ action: 'admin-settled', id: order.id, requestId: null, tradeIndex });
  await markPayoutStarted(ctx, order.id, [
    [inbound.tradeKey, buildMessage({ action: 'admin-settled', id: order.id, requestId, tradeIndex })],
    [seller, toParties],
    [buyer, toParties],
  ]);

  startPayout(ctx, order.id, requestId);
};

