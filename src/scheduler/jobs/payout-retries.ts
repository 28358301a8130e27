import { retryFailedPayouts } from '../../app/flows/payout.js';
import type { AppContext } from '../../context.js';

/**
 * Job (every `payment_retries_interval` s, DAEMON.md §4.4, HANDLERS.md §5.2): retry buyer payouts
 * through the at-most-once payout flow (claim before send, LND asked before any retry).
 *
 * Skipped while the Lightning node is not `up`: an attempt then would only count a failed attempt
 * against the buyer (and message them) for an outage of ours.
 */
export async function retryPayouts(ctx: AppContext): Promise<void> {
  if (ctx.lightning.state !== 'up') {
    ctx.logger.info({ lightning: ctx.lightning.state }, 'payout retries skipped: Lightning node not up');
    return;
  }
  const outcomes = await retryFailedPayouts(ctx);
  if (outcomes.length > 0) {
    const count = (o: string) => outcomes.filter((x) => x === o).length;
    const summary = {
      attempts: outcomes.length,
      succeeded: count('succeeded'),
      failed: count('failed'),
      pending: count('pending'),
      lostSuccess: count('lost-success'),
    };
    if (summary.lostSuccess > 0) ctx.logger.error(summary, 'payout retries done; a payment LND reports paid could not complete its order');
    else ctx.logger.info(summary, 'payout retries done');
  }
}
