/**
 * Wires every background job of mostrod 0.17.1 (DAEMON.md §4) — plus this port's payout
 * reconciliation, escrow deadline guard, order-book sync and transport pruning — into a
 * Scheduler, each with its interval from the settings. Jobs run first, then sleep; a job never
 * overlaps itself; errors are logged by the scheduler and never stop the loop. The outbound DM
 * queues (§4.10) are serviced by the outbox.
 */
import type { AppContext } from '../context.js';
import { newDevFeeState, payDevFees, type DevFeeState } from './jobs/dev-fee.js';
import { redeliverNotices } from '../app/flows/notices.js';
import { guardEscrowDeadlines } from './jobs/escrow-deadline.js';
import { expirePendingOrders } from './jobs/expire-pending-orders.js';
import { reconcilePayoutsJob } from './jobs/payout-reconcile.js';
import { newBookSyncState, republishChangedDisputes, republishChangedOrders, type BookSyncState } from './jobs/republish-changed-orders.js';
import { retryPayouts } from './jobs/payout-retries.js';
import { publishInfo } from './jobs/publish-info.js';
import { publishQueuedEvents } from './jobs/publish-queued-events.js';
import { publishRelayList } from './jobs/publish-relay-list.js';
import { pruneTransports } from './jobs/prune-transports.js';
import { MIN_PRICE_INTERVAL_SECONDS, priceJobInterval, updatePrices } from './jobs/update-prices.js';
import { cancelTimedOutWaitingOrders } from './jobs/waiting-timeouts.js';
import type { Scheduler } from './scheduler.js';

export { bootReconcile } from './jobs/boot-reconcile.js';
export { publishMetadata } from './jobs/publish-metadata.js';

export interface JobDeps {
  /** URLs of the relays currently connected (for the kind-10002 relay list). */
  connectedRelays: () => string[];
  /** Dev-fee per-process state; pass the same object to bootReconcile. Default: a new one. */
  devFeeState?: DevFeeState;
  /** Order-book republish watermark (per process). Default: a new one. */
  bookSyncState?: BookSyncState;
}

/** Fixed intervals of 0.17.1's jobs and of the jobs this port adds (seconds). */
export const JOB_INTERVALS = {
  expirePendingOrders: 60,
  waitingTimeouts: 60,
  devFee: 60,
  payoutReconcile: 60,
  escrowDeadline: 60,
  bookSync: 60,
  transportPrune: 3600,
  noticeRedelivery: 60,
} as const;

/** Job names as registered (for runNow, logs and tests). */
export const JOB_NAMES = [
  'expire-pending-orders',
  'rating-events',
  'waiting-timeouts',
  'payout-retries',
  'dev-fee',
  'info-event',
  'relay-list',
  'prices',
  'payout-reconcile',
  'escrow-deadline',
  'book-sync',
  'transport-prune',
  'notice-redelivery',
] as const;

export function registerJobs(scheduler: Scheduler, ctx: AppContext, deps: JobDeps): void {
  const { mostro, lightning } = ctx.settings;
  const devFeeState = deps.devFeeState ?? newDevFeeState();
  const priceKey =
    ctx.settings.price === null
      ? { name: 'exchange_rates_update_interval_seconds', value: mostro.exchange_rates_update_interval_seconds }
      : { name: '[price] update_interval_seconds', value: ctx.settings.price.update_interval_seconds };
  if (priceKey.value < MIN_PRICE_INTERVAL_SECONDS) {
    ctx.logger.error(
      `${priceKey.name} too low: ${priceKey.value}s (minimum: ${MIN_PRICE_INTERVAL_SECONDS}s). Using minimum.`,
    );
  }
  // Order of 0.17.1's start_scheduler, then the port's additions.
  scheduler.every('expire-pending-orders', JOB_INTERVALS.expirePendingOrders, () => expirePendingOrders(ctx));
  scheduler.every('rating-events', mostro.user_rates_sent_interval_seconds, () => publishQueuedEvents(ctx));
  scheduler.every('waiting-timeouts', JOB_INTERVALS.waitingTimeouts, () => cancelTimedOutWaitingOrders(ctx));
  scheduler.every('payout-retries', lightning.payment_retries_interval, () => retryPayouts(ctx));
  scheduler.every('dev-fee', JOB_INTERVALS.devFee, () => payDevFees(ctx, { state: devFeeState }));
  scheduler.every('info-event', mostro.publish_mostro_info_interval, () => publishInfo(ctx));
  scheduler.every('relay-list', mostro.publish_relays_interval, () =>
    publishRelayList(ctx, { connectedRelays: deps.connectedRelays }),
  );
  scheduler.every('prices', priceJobInterval(ctx.settings), () => updatePrices(ctx));
  scheduler.every('payout-reconcile', JOB_INTERVALS.payoutReconcile, () => reconcilePayoutsJob(ctx));
  scheduler.every('escrow-deadline', JOB_INTERVALS.escrowDeadline, () => guardEscrowDeadlines(ctx));
  const bookSyncState = deps.bookSyncState ?? newBookSyncState();
  scheduler.every('book-sync', JOB_INTERVALS.bookSync, async () => {
    await republishChangedOrders(ctx, bookSyncState);
    await republishChangedDisputes(ctx, bookSyncState);
  });
  // Bounded per-key transport registry ([mostro] transport_retention_days).
  scheduler.every('transport-prune', JOB_INTERVALS.transportPrune, async () => {
    await pruneTransports(ctx);
  });
  // The durable outbox: stored notices no relay accepted yet (flows/notices.ts).
  scheduler.every('notice-redelivery', JOB_INTERVALS.noticeRedelivery, async () => {
    await redeliverNotices(ctx);
  });
}
