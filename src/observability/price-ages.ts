import type { PriceService } from '../price/types.js';
import type { PriceSourceAge } from './metrics.js';

/** Age of each price source's last successful fetch (the price service's per-source status). */
export function priceSourceAges(prices: Pick<PriceService, 'status'>): PriceSourceAge[] {
  return prices.status().sources.map((s) => ({ source: s.id, ageSeconds: s.ageSeconds }));
}
