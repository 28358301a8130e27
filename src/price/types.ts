/** A price source (Yadio in mostrod 0.17.1). Prices are "fiat units per 1 BTC". */
export interface PriceProvider {
  readonly name: string;
  /** All BTC prices keyed by fiat code (exact, case-sensitive codes). */
  fetchRates(): Promise<Map<string, number>>;
}

export interface CachedPrice {
  price: number;
  /** unix seconds of the fetch that produced it */
  fetchedAt: number;
}

export interface PriceService {
  /** Cached price for a fiat code, or null if unknown or older than the staleness limit. */
  price(fiatCode: string): CachedPrice | null;
  /** Refresh the cache from the provider; resolves with the number of currencies. */
  refresh(): Promise<number>;
  /** Raw map of the last successful fetch (for the kind-30078 event). */
  snapshot(): { rates: Map<string, number>; fetchedAt: number } | null;
}
