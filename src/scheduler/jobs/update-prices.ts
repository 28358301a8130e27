import type { Settings } from '../../config/types.js';
import type { AppContext } from '../../context.js';
import { buildExchangeRatesEvent } from '../../nostr/events.js';

/** Lowest price-refresh interval mostrod allows (seconds). */
export const MIN_PRICE_INTERVAL_SECONDS = 60;

/** max(60, exchange_rates_update_interval_seconds) — DAEMON.md §4.9. */
export function priceJobInterval(settings: Pick<Settings, 'mostro'>): number {
  return Math.max(MIN_PRICE_INTERVAL_SECONDS, settings.mostro.exchange_rates_update_interval_seconds);
}

/**
 * Job (every priceJobInterval s, DAEMON.md §4.9, §6.5): refresh the price cache, then — when
 * `publish_exchange_rates_to_nostr` — publish the kind-30078 rates event from the fresh snapshot
 * (expiration = now + min(2 × configured interval, 3600), unclamped as in 0.17.1, Q18). A failed
 * refresh keeps the previous cache, publishes nothing and is logged.
 */
export async function updatePrices(ctx: AppContext): Promise<void> {
  let count: number;
  try {
    count = await ctx.prices.refresh();
  } catch (err) {
    ctx.logger.error({ err }, 'Failed to update Bitcoin prices');
    return;
  }
  ctx.logger.info({ currencies: count }, 'Bitcoin prices updated');
  if (!ctx.settings.mostro.publish_exchange_rates_to_nostr) return;
  const snap = ctx.prices.snapshot();
  if (snap === null || snap.rates.size === 0) return;
  const event = buildExchangeRatesEvent({
    rates: Object.fromEntries(snap.rates),
    updateIntervalSeconds: ctx.settings.mostro.exchange_rates_update_interval_seconds,
    settings: ctx.settings,
    now: ctx.clock.now(),
  });
  await ctx.outbox.publish(event);
}
