import type { Settings } from '../../config/types.js';
import type { AppContext } from '../../context.js';
import { buildExchangeRatesEvent } from '../../nostr/events.js';
import { effectivePriceConfig, MIN_PRICE_INTERVAL_SECONDS } from '../../price/price-config.js';

export { MIN_PRICE_INTERVAL_SECONDS };

/**
 * max(60, interval): `[price] update_interval_seconds`, or without `[price]` the 0.17.1 key
 * `exchange_rates_update_interval_seconds` (DAEMON.md §4.9).
 */
export function priceJobInterval(settings: Pick<Settings, 'mostro' | 'price'>): number {
  return effectivePriceConfig(settings).updateIntervalSeconds;
}

/**
 * Job (every priceJobInterval s, DAEMON.md §4.9, §6.5, issue 16): poll the price sources into the
 * cache, then — when publishing is on (`[price] publish_to_nostr`, else
 * `publish_exchange_rates_to_nostr`) — publish the kind-30078 rates event with the aggregated
 * rates and the sources that made each one (expiration = now + min(2 × configured interval,
 * 3600), unclamped as in 0.17.1, Q18). A refresh that produced no price keeps the previous cache,
 * publishes nothing and is logged.
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
  const cfg = ctx.settings.price;
  const publish = cfg === null ? ctx.settings.mostro.publish_exchange_rates_to_nostr : cfg.publish_to_nostr;
  if (!publish) return;
  const snap = ctx.prices.snapshot();
  if (snap === null || snap.rates.size === 0) return;
  const event = buildExchangeRatesEvent({
    rates: Object.fromEntries(snap.rates),
    sources: snap.sources ?? null,
    updateIntervalSeconds:
      cfg === null ? ctx.settings.mostro.exchange_rates_update_interval_seconds : cfg.update_interval_seconds,
    settings: ctx.settings,
    now: ctx.clock.now(),
  });
  await ctx.outbox.publish(event);
}
