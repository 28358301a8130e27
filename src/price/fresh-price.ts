import { CantDoError } from '../errors.js';
import type { CachedPrice, PriceService } from './types.js';

/**
 * The cached price a market-price quote may use (no I/O), or the refusal: `price_too_stale` when
 * the currency had a price that is now older than the staleness limit (mostro-core ≥ 0.13.1's
 * reason; the outbox turns it into `invalid_amount` for 0.8-era clients), `invalid_amount` when it
 * was never priced (as before).
 */
export function freshPrice(prices: PriceService, fiatCode: string): CachedPrice {
  const cached = prices.price(fiatCode);
  if (cached !== null) return cached;
  if (prices.isStale?.(fiatCode) === true) throw new CantDoError('price_too_stale', `price for ${fiatCode} is too old`);
  throw new CantDoError('invalid_amount', `no price for ${fiatCode}`);
}
