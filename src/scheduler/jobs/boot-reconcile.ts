import { finishOpenCancelDecisions, refundStrandedCanceledEscrows, type CancelReconcileSummary } from '../../app/flows/escrow-cancel.js';
import { rewatchOpenEscrows } from '../../app/flows/hold-invoice.js';
import { redeliverNotices, type RedeliverySummary } from '../../app/flows/notices.js';
import { reconcilePayouts, type ReconcileSummary } from '../../app/flows/payout.js';
import type { AppContext } from '../../context.js';
import { reconcileDevFees, type DevFeeState } from './dev-fee.js';

export interface BootReconcileOptions {
  /**
   * Re-subscribe every live escrow (default true). The LND backend resubscribes its own watches
   * after a reconnect, so a caller that runs this on every reconnect may pass false after the first.
   */
  rewatchEscrows?: boolean;
  /** The dev-fee job's per-process state (registerJobs' `devFeeState`), so both share it. */
  devFeeState?: DevFeeState;
}

export interface BootReconcileSummary {
  /** Stored notices (durable outbox) handed to the outbox again. */
  notices: RedeliverySummary | null;
  escrowsWatched: number | null;
  /** Cancel decisions whose CancelInvoice never ran, finished now (issue 12 defect 2). */
  cancels: CancelReconcileSummary | null;
  /** Escrows still held (or payable) behind orders whose status records a cancel, canceled now. */
  strandedRefunds: number | null;
  payouts: ReconcileSummary | null;
  devFees: boolean;
  /** Steps that failed (each is logged). */
  failed: string[];
}

/**
 * Run when the Lightning node becomes `up` (at boot and after every reconnect), before anything
 * may pay or settle: finish every recorded cancel decision whose CancelInvoice never ran and cancel
 * escrows LND still holds behind recently canceled orders (issue 12 defect 2), re-watch every live
 * escrow (an invoice accepted while we were away is processed now; a SETTLED escrow behind a
 * fiat-sent/dispute order finishes its release, defect 5), resolve every buyer-payout claim
 * against LND, and resolve every recorded dev-fee payment hash (dev-fee phase 3). Each step runs even if an earlier one failed; failures are
 * logged and listed in the summary.
 */
export async function bootReconcile(ctx: AppContext, opts: BootReconcileOptions = {}): Promise<BootReconcileSummary> {
  const summary: BootReconcileSummary = {
    notices: null,
    escrowsWatched: null,
    cancels: null,
    strandedRefunds: null,
    payouts: null,
    devFees: false,
    failed: [],
  };
  // Stored notices a previous process may not have delivered (flows/notices.ts); no LND needed.
  try {
    summary.notices = await redeliverNotices(ctx);
  } catch (err) {
    summary.failed.push('notices');
    ctx.logger.error({ err }, 'boot reconciliation: stored notices not redelivered');
  }
  // Cancel decisions first: their escrows must be refunded whatever else happens at boot.
  try {
    summary.cancels = await finishOpenCancelDecisions(ctx);
    if (summary.cancels.failed > 0) summary.failed.push('cancels');
  } catch (err) {
    summary.failed.push('cancels');
    ctx.logger.error({ err }, 'boot reconciliation: cancel decisions not finished');
  }
  try {
    summary.strandedRefunds = await refundStrandedCanceledEscrows(ctx);
  } catch (err) {
    summary.failed.push('stranded-refunds');
    ctx.logger.error({ err }, 'boot reconciliation: escrows of canceled orders not checked');
  }
  if (opts.rewatchEscrows ?? true) {
    try {
      summary.escrowsWatched = await rewatchOpenEscrows(ctx);
    } catch (err) {
      summary.failed.push('escrows');
      ctx.logger.error({ err }, 'boot reconciliation: re-watching escrows failed');
    }
  }
  try {
    summary.payouts = await reconcilePayouts(ctx);
  } catch (err) {
    summary.failed.push('payouts');
    ctx.logger.error({ err }, 'boot reconciliation: payout claims not reconciled');
  }
  try {
    await reconcileDevFees(ctx, opts.devFeeState !== undefined ? { state: opts.devFeeState } : {});
    summary.devFees = true;
  } catch (err) {
    summary.failed.push('dev-fees');
    ctx.logger.error({ err }, 'boot reconciliation: dev fee payments not reconciled');
  }
  ctx.logger.info(summary, 'boot reconciliation done');
  return summary;
}
