import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CachedPrice, PriceProvider, PriceService } from './types.js';

export interface CachedPriceServiceOptions {
  provider: PriceProvider;
  clock: Clock;
  logger: Logger;
  /** `mostro.max_price_staleness_seconds`: prices older than this are not served (must be > 0). */
  maxStalenessSeconds: number;
}

interface RateCache {
  rates: ReadonlyMap<string, number>;
  fetchedAt: number;
}

/**
 * In-memory BTC price cache fed by one provider (DAEMON.md §6.2). A successful refresh replaces
 * the whole map; a failed one keeps the previous map and rethrows for the caller to log.
 * Deviation from 0.17.1: a price older than `maxStalenessSeconds` is not served (0.17.1 served
 * the last fetched map forever, however old).
 */
export class CachedPriceService implements PriceService {
  private cache: RateCache | null = null;
  /** Sequence of refresh calls; an older fetch finishing late never overwrites a newer one. */
  private started = 0;
  private applied = 0;

  constructor(private readonly opts: CachedPriceServiceOptions) {
    if (!(opts.maxStalenessSeconds > 0)) throw new RangeError('maxStalenessSeconds must be > 0');
  }

  price(fiatCode: string): CachedPrice | null {
    const cache = this.cache;
    if (cache === null) return null;
    const price = cache.rates.get(fiatCode);
    if (price === undefined) return null;
    if (this.opts.clock.now() - cache.fetchedAt > this.opts.maxStalenessSeconds) return null;
    return { price, fetchedAt: cache.fetchedAt };
  }

  async refresh(): Promise<number> {
    const seq = ++this.started;
    const rates = await this.opts.provider.fetchRates();
    if (seq < this.applied) return rates.size; // a newer refresh already landed
    this.applied = seq;
    this.cache = { rates: new Map(rates), fetchedAt: this.opts.clock.now() };
    this.opts.logger.info(
      { provider: this.opts.provider.name, currencies: rates.size },
      `Bitcoin prices updated. Got BTC price in ${rates.size} fiat currencies`,
    );
    return rates.size;
  }

  snapshot(): { rates: Map<string, number>; fetchedAt: number } | null {
    if (this.cache === null) return null;
    return { rates: new Map(this.cache.rates), fetchedAt: this.cache.fetchedAt };
  }
}
