import type { AppContext } from '../../context.js';
import { casUpdateDispute, getDisputeByOrder } from '../../db/disputes.js';
import type { DisputeRow, OrderRow } from '../../db/types.js';
import type { DisputeStatus } from '../../protocol/types.js';
import { publishDispute } from './publish.js';
import { initiatorOf } from './reputation.js';

const OPEN: readonly DisputeStatus[] = ['initiated', 'in-progress'];

/**
 * Close the order's dispute, if it has an open one (initiated / in-progress), as `status`:
 * compare-and-set on the dispute row, then publish its kind-38386 event with the initiator derived
 * from the order's dispute flags (`unknown` when both or neither are set).
 *
 * Used by release (`settled`), cooperative cancel (`seller-refunded`, upstream #577: 0.17.1 left the
 * dispute open after a cooperative cancel in some paths) and the admin decisions. A dispute that is
 * already closed, or that changes concurrently, is left alone. Returns the closed dispute, or null.
 */
export async function closeDispute(
  ctx: AppContext,
  o: Pick<OrderRow, 'id' | 'buyer_dispute' | 'seller_dispute'>,
  status: 'settled' | 'seller-refunded',
): Promise<DisputeRow | null> {
  const d = await getDisputeByOrder(ctx.db, o.id);
  if (d === undefined) return null;
  if (!OPEN.includes(d.status)) {
    ctx.logger.info({ orderId: o.id, disputeId: d.id, status: d.status }, 'dispute already closed');
    return null;
  }
  const won = await casUpdateDispute(ctx.db, d.id, { status: d.status }, { status });
  if (!won) {
    ctx.logger.warn({ orderId: o.id, disputeId: d.id }, 'dispute changed while closing it; left alone');
    return null;
  }
  const closed: DisputeRow = { ...d, status };
  await publishDispute(ctx, closed, initiatorOf(o));
  ctx.logger.info({ orderId: o.id, disputeId: d.id, status }, 'dispute closed');
  return closed;
}
