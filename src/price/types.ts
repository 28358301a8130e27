/** Price providers this daemon knows (the `[price.providers.<id>]` keys, as upstream 0.18). */
export const PROVIDER_IDS = ['yadio', 'coingecko', 'currency_api', 'blockchain', 'eltoque', 'nostr'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export function isProviderId(s: string): s is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(s);
}

/**
 * One currency's quote from a provider: either fiat units per 1 BTC, or fiat units per 1 unit of
 * a `base` fiat (El Toque's CUP per USD), resolved against the aggregated base/BTC price.
 */
export type Quote = { readonly kind: 'per-btc'; readonly value: number } | { readonly kind: 'per-base'; readonly base: string; readonly value: number };

export interface ProviderResult {
  /** currency code (as the provider spells it) → quote */
  quotes: Map<string, Quote>;
  /**
   * unix s the quotes describe, when older than the fetch itself (nostr: the event's created_at).
   * Absent = "now".
   */
  asOf?: number;
}

export interface FetchOptions {
  /** aborted when the provider's whole budget is spent (the service's timeout) */
  signal: AbortSignal;
  /** timeout of ONE request (each mirror gets its own) */
  requestTimeoutMs: number;
}

/** A price source behind one interface (one file per API under src/price/providers/). */
export interface PriceProvider {
  readonly id: ProviderId;
  /** Requests this provider makes at most per poll (1 + mirrors); the service sizes its budget on it. */
  readonly attempts: number;
  /**
   * Fetch the latest quotes. Throws PriceFetchError on any failure: a provider contributes a whole
   * usable map or nothing, never a partial map with bogus values.
   */
  fetchQuotes(opts: FetchOptions): Promise<ProviderResult>;
}

export interface CachedPrice {
  price: number;
  /** unix seconds the price describes (the oldest source that made it) */
  fetchedAt: number;
  /** providers whose quotes made this price (sorted) */
  sources?: readonly string[];
}

/** What the kind-30078 event publishes. */
export interface RatesSnapshot {
  rates: Map<string, number>;
  fetchedAt: number;
  /** per currency: the providers that made it (absent: single legacy source) */
  sources?: Map<string, readonly string[]>;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Read-only view of one provider (for logs, metrics and operators). */
export interface SourceStatus {
  id: ProviderId;
  breaker: BreakerState;
  consecutiveFailures: number;
  /** unix s of the last successful poll, null if never */
  lastSuccessAt: number | null;
  /** seconds since lastSuccessAt, null if never */
  ageSeconds: number | null;
  /** currencies the last successful poll returned (after filtering) */
  currencies: number;
  lastErrorAt: number | null;
  lastError: string | null;
  /** when an open breaker lets the next poll through (unix s), else null */
  retryAt: number | null;
}

/** Read-only view of one currency's aggregated price. */
export interface CurrencyStatus {
  code: string;
  price: number;
  sources: readonly string[];
  /** providers left out of this price as outliers (optional) */
  outliers?: readonly string[];
  /** unix s the price describes */
  asOf: number;
  ageSeconds: number;
  /** older than max_price_staleness_seconds: not served */
  stale: boolean;
}

export interface PriceStatus {
  now: number;
  maxStalenessSeconds: number;
  /** unix s of the last completed poll, null before the first */
  lastRefreshAt: number | null;
  sources: SourceStatus[];
  currencies: CurrencyStatus[];
}

export interface PriceService {
  /** Cached price for a fiat code, or null if unknown or older than the staleness limit. No I/O. */
  price(fiatCode: string): CachedPrice | null;
  /**
   * True when the currency HAD a price that is now older than the staleness limit (as opposed to
   * never priced). Optional: a service without it only ever reports "no price".
   */
  isStale?(fiatCode: string): boolean;
  /** Poll the providers and update the cache; resolves with the number of currencies refreshed. */
  refresh(): Promise<number>;
  /** Rates to publish as kind 30078 (the last refresh), or null before any. */
  snapshot(): RatesSnapshot | null;
  /** Read-only status: per source and per currency (what metrics export). */
  status(): PriceStatus;
}
