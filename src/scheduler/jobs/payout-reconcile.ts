import { reconcilePayouts } from '../../app/flows/payout.js';
import type { AppContext } from '../../context.js';
import { pruneRangeReleases } from '../../db/range-releases.js';

/**
 * Job (every 60 s; not in 0.17.1): resolve every buyer-payout claim against LND by payment hash —
 * succeeded → success flow, in flight → wait, failed → failure accounting and unknown to LND →
 * claim cleared and paid again (both only for a claim older than the grace that the order still
 * holds, checked under the order lock) — and finish settlements a crash interrupted. See
 * reconcilePayouts (upstream #881/#893). Skipped while the Lightning node is not `up`. Also deletes
 * the range-release records of orders that can no longer finish a release (pruneRangeReleases).
 */
export async function reconcilePayoutsJob(ctx: AppContext): Promise<void> {
  // Range orders' release records whose order can no longer finish a release (db/range-releases.ts).
  const pruned = await pruneRangeReleases(ctx.db);
  if (pruned > 0) ctx.logger.info({ pruned }, 'range release records of finished orders deleted');
  if (ctx.lightning.state !== 'up') {
    ctx.logger.info({ lightning: ctx.lightning.state }, 'payout reconciliation skipped: Lightning node not up');
    return;
  }
  const s = await reconcilePayouts(ctx);
  if (s.succeeded + s.failed + s.retried + s.settled + s.resumed + s.lostSuccess > 0) ctx.logger.info(s, 'payout claims reconciled');
}
