import type { PriceService } from '../price/types.js';
import type { PriceCurrencySources, PriceSourceAge } from './metrics.js';

/** Each price source's last successful fetch and breaker (the price service's per-source status). */
export function priceSourceAges(prices: Pick<PriceService, 'status'>): PriceSourceAge[] {
  return prices.status().sources.map((s) => ({ source: s.id, ageSeconds: s.ageSeconds, breaker: s.breaker, lastSuccessAt: s.lastSuccessAt }));
}

/** Per currency, the sources of its aggregated price. */
export function priceCurrencySources(prices: Pick<PriceService, 'status'>): PriceCurrencySources[] {
  return prices.status().currencies.map((c) => ({ currency: c.code, sources: c.sources, ageSeconds: c.ageSeconds, stale: c.stale }));
}
