import { onEscrowAccepted, onEscrowCanceled } from '../app/flows/hold-invoice.js';
import { reconcilePayouts, type ReconcileSummary } from '../app/flows/payout.js';
import type { AppContext } from '../context.js';
import { findOpenEscrows } from '../db/orders.js';
import { guardEscrowDeadlines } from '../scheduler/jobs/escrow-deadline.js';

export interface ReconcileNowSummary {
  /** Live escrows looked up in LND. */
  escrowsChecked: number;
  payouts: ReconcileSummary | null;
  escrowDeadlinesChecked: boolean;
  /** Steps that could not run or failed, in words. */
  errors: string[];
}

/**
 * What the operator's ReconcileNow runs, in the boot reconciliation's order, without waiting for
 * the next scheduler tick: (1) every live escrow is looked up in LND and an acceptance or
 * cancellation we missed is processed (the same flows as the invoice watch; no new subscription
 * is made — the backend keeps its own); (2) every buyer-payout claim is resolved against LND and
 * interrupted settlements are finished (reconcilePayouts); (3) the escrow deadline guard runs.
 * Each step is idempotent (compare-and-set under the order lock inside the flows). Requires the
 * Lightning node to be up; otherwise nothing runs and the reason is returned.
 */
export async function reconcileNow(ctx: AppContext): Promise<ReconcileNowSummary> {
  const summary: ReconcileNowSummary = { escrowsChecked: 0, payouts: null, escrowDeadlinesChecked: false, errors: [] };
  if (ctx.lightning.state !== 'up') {
    summary.errors.push(`Lightning node is ${ctx.lightning.state}: nothing reconciled`);
    return summary;
  }
  try {
    for (const o of await findOpenEscrows(ctx.db)) {
      if (o.hash === null) continue;
      const lookup = await ctx.lightning.lookupInvoice(o.hash);
      summary.escrowsChecked += 1;
      if (lookup === null) continue;
      if (lookup.state === 'accepted' && o.status === 'waiting-payment') await onEscrowAccepted(ctx, o.hash, null);
      if (lookup.state === 'canceled') await onEscrowCanceled(ctx, o.hash);
    }
  } catch (err) {
    summary.errors.push(`escrows: ${(err as Error).message}`);
    ctx.logger.error({ err }, 'operator reconcile: escrow check failed');
  }
  try {
    summary.payouts = await reconcilePayouts(ctx);
  } catch (err) {
    summary.errors.push(`payouts: ${(err as Error).message}`);
    ctx.logger.error({ err }, 'operator reconcile: payout reconciliation failed');
  }
  try {
    await guardEscrowDeadlines(ctx);
    summary.escrowDeadlinesChecked = true;
  } catch (err) {
    summary.errors.push(`escrow deadlines: ${(err as Error).message}`);
    ctx.logger.error({ err }, 'operator reconcile: escrow deadline guard failed');
  }
  return summary;
}
