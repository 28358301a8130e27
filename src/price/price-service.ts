import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { aggregateQuotes, type Aggregate, type SourceQuotes } from './aggregate.js';
import { CircuitBreaker, type BreakerPolicy } from './breaker.js';
import { isKnownFiat } from './fiat.js';
import { PriceFetchError } from './price-fetch-error.js';
import type {
  CachedPrice,
  CurrencyStatus,
  PriceProvider,
  PriceService,
  PriceStatus,
  ProviderId,
  ProviderResult,
  Quote,
  RatesSnapshot,
  SourceStatus,
} from './types.js';

export interface ProviderEntry {
  provider: PriceProvider;
  /** upper-case codes this provider may contribute (null: all) */
  only?: ReadonlySet<string> | null;
  /** upper-case codes this provider may not contribute */
  except?: ReadonlySet<string> | null;
}

export interface MultiSourcePriceServiceOptions {
  providers: readonly ProviderEntry[];
  clock: Clock;
  logger: Logger;
  /** a price older than this is never served (must be > 0) */
  maxStalenessSeconds: number;
  outlierThresholdPct: number;
  /** timeout of one request; a provider's whole poll gets attempts × this + 1 s */
  providerTimeoutMs: number;
  breaker: BreakerPolicy;
  /** drop codes that are not known fiat currencies */
  fiatAllowList: boolean;
}

interface SourceState {
  entry: ProviderEntry;
  breaker: CircuitBreaker;
  lastSuccessAt: number | null;
  currencies: number;
  lastErrorAt: number | null;
  lastError: string | null;
}

interface CachedAggregate extends Aggregate {
  /** the poll that produced it */
  refreshedAt: number;
}

/** Providers whose quotes only fill gaps (other nodes' published rates). */
const FALLBACK_ONLY: ReadonlySet<ProviderId> = new Set<ProviderId>(['nostr']);

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * BTC prices from several providers (issue 16). `refresh()` (the scheduler's price job) polls
 * every provider whose circuit breaker allows it, concurrently, each bounded by its own timeout;
 * the per-currency median with outlier guard (aggregate.ts) replaces that currency's cached price,
 * and a currency no provider produced keeps its last-known-good price until it is older than
 * `maxStalenessSeconds`, after which it is never served. `price()` — the only thing the order
 * handlers call — reads the cache: no I/O while a trader waits.
 */
export class MultiSourcePriceService implements PriceService {
  private readonly sources: SourceState[];
  private readonly cache = new Map<string, CachedAggregate>();
  private lastRefreshAt: number | null = null;
  /** currencies reported last time as single-source / without agreement, to log changes once */
  private singleSource = new Set<string>();
  private staleReported = new Set<string>();
  private wideReported = new Set<string>();

  constructor(private readonly o: MultiSourcePriceServiceOptions) {
    if (!(o.maxStalenessSeconds > 0)) throw new RangeError('maxStalenessSeconds must be > 0');
    if (!(o.providerTimeoutMs > 0)) throw new RangeError('providerTimeoutMs must be > 0');
    this.sources = o.providers.map((entry) => ({
      entry,
      breaker: new CircuitBreaker(o.breaker),
      lastSuccessAt: null,
      currencies: 0,
      lastErrorAt: null,
      lastError: null,
    }));
  }

  price(fiatCode: string): CachedPrice | null {
    const code = fiatCode.toUpperCase();
    const a = this.cache.get(code);
    if (a === undefined) return null;
    if (this.o.clock.now() - a.asOf > this.o.maxStalenessSeconds) return null;
    return { price: a.price, fetchedAt: a.asOf, sources: a.sources };
  }

  isStale(fiatCode: string): boolean {
    const a = this.cache.get(fiatCode.toUpperCase());
    return a !== undefined && this.o.clock.now() - a.asOf > this.o.maxStalenessSeconds;
  }

  async refresh(): Promise<number> {
    const started = this.o.clock.now();
    const polled: SourceState[] = [];
    for (const s of this.sources) {
      if (s.breaker.allows(started)) polled.push(s);
      else {
        this.o.logger.info(
          { provider: s.entry.provider.id, retryAt: s.breaker.retryAt, failures: s.breaker.consecutiveFailures },
          'price source skipped: circuit breaker open',
        );
      }
    }
    const outcomes = await Promise.all(polled.map((s) => this.poll(s)));
    const now = this.o.clock.now();
    const results: SourceQuotes[] = [];
    polled.forEach((s, i) => {
      const out = outcomes[i]!;
      const id = s.entry.provider.id;
      if ('error' in out) {
        s.breaker.recordFailure(now);
        s.lastErrorAt = now;
        s.lastError = out.error;
        this.o.logger.warn(
          { provider: id, err: out.error, failures: s.breaker.consecutiveFailures, breaker: s.breaker.state(now) },
          'price source failed',
        );
        return;
      }
      const quotes = this.filterQuotes(s.entry, out.result.quotes);
      s.breaker.recordSuccess();
      s.lastSuccessAt = now;
      s.currencies = quotes.size;
      this.o.logger.info({ provider: id, currencies: quotes.size }, 'price source ok');
      results.push({ id, quotes, asOf: Math.min(out.result.asOf ?? now, now), fallbackOnly: FALLBACK_ONLY.has(id) });
    });

    const disagreements = new Map<string, ProviderId[]>();
    const aggregates = aggregateQuotes(results, this.o.outlierThresholdPct, disagreements);
    for (const [code, providers] of disagreements) {
      this.o.logger.warn(
        { currency: code, providers, outlierThresholdPct: this.o.outlierThresholdPct },
        'price sources disagree (none within the outlier threshold of the median): no new price; scope them with only/except',
      );
    }
    this.lastRefreshAt = now;
    for (const [code, a] of aggregates) {
      const prev = this.cache.get(code);
      // A price relayed over Nostr may be older than the one we hold: never go back in time.
      if (prev !== undefined && prev.asOf > a.asOf) continue;
      this.cache.set(code, { ...a, refreshedAt: now });
    }
    this.logSummary(aggregates, results.length, polled.length);
    if (aggregates.size === 0) {
      throw new PriceFetchError(
        this.sources.length === 0
          ? 'no price provider is enabled'
          : results.length === 0
            ? 'every price source failed or is cooling down'
            : 'no price source returned a usable rate',
        'empty',
      );
    }
    return aggregates.size;
  }

  snapshot(): RatesSnapshot | null {
    const at = this.lastRefreshAt;
    if (at === null) return null;
    const rates = new Map<string, number>();
    const sources = new Map<string, readonly string[]>();
    for (const [code, a] of [...this.cache.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      // Publish what this poll produced; never re-publish rates that came from other nodes over
      // Nostr (two nodes trusting each other would echo a price forever).
      if (a.refreshedAt !== at || a.viaFallback) continue;
      rates.set(code, a.price);
      sources.set(code, a.sources);
    }
    return { rates, fetchedAt: at, sources };
  }

  status(): PriceStatus {
    const now = this.o.clock.now();
    const sources: SourceStatus[] = this.sources.map((s) => ({
      id: s.entry.provider.id,
      breaker: s.breaker.state(now),
      consecutiveFailures: s.breaker.consecutiveFailures,
      lastSuccessAt: s.lastSuccessAt,
      ageSeconds: s.lastSuccessAt === null ? null : now - s.lastSuccessAt,
      currencies: s.currencies,
      lastErrorAt: s.lastErrorAt,
      lastError: s.lastError,
      retryAt: s.breaker.state(now) === 'closed' ? null : s.breaker.retryAt,
    }));
    const currencies: CurrencyStatus[] = [...this.cache.entries()]
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([code, a]) => ({
        code,
        price: a.price,
        sources: a.sources,
        outliers: a.outliers,
        asOf: a.asOf,
        ageSeconds: now - a.asOf,
        stale: now - a.asOf > this.o.maxStalenessSeconds,
      }));
    return { now, maxStalenessSeconds: this.o.maxStalenessSeconds, lastRefreshAt: this.lastRefreshAt, sources, currencies };
  }

  private async poll(s: SourceState): Promise<{ result: ProviderResult } | { error: string }> {
    const p = s.entry.provider;
    const budgetMs = this.o.providerTimeoutMs * Math.max(1, p.attempts) + 1000;
    const budget = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<{ error: string }>((resolve) => {
      timer = setTimeout(() => {
        budget.abort();
        resolve({ error: `timed out after ${budgetMs} ms` });
      }, budgetMs);
      timer.unref();
    });
    try {
      const fetched = p
        .fetchQuotes({ signal: budget.signal, requestTimeoutMs: this.o.providerTimeoutMs })
        .then((result) => ({ result }))
        .catch((err: unknown) => ({ error: errorText(err) }));
      return await Promise.race([fetched, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Upper-case codes, fiat allow-list, the provider's `only`/`except`. */
  private filterQuotes(entry: ProviderEntry, quotes: ReadonlyMap<string, Quote>): Map<string, Quote> {
    const out = new Map<string, Quote>();
    for (const [raw, q] of quotes) {
      const code = raw.toUpperCase();
      if (out.has(code)) continue;
      if (this.o.fiatAllowList && !isKnownFiat(code)) continue;
      if (entry.only != null && !entry.only.has(code)) continue;
      if (entry.except != null && entry.except.has(code)) continue;
      out.set(code, q.kind === 'per-base' ? { ...q, base: q.base.toUpperCase() } : q);
    }
    return out;
  }

  private logSummary(aggregates: ReadonlyMap<string, Aggregate>, answered: number, polled: number): void {
    const bySources: Record<string, string[]> = {};
    const single = new Set<string>();
    const outliers: Record<string, string[]> = {};
    for (const [code, a] of aggregates) {
      (bySources[a.sources.join(',')] ??= []).push(code);
      if (a.sources.length === 1 && this.sources.length > 1) single.add(code);
      if (a.outliers.length > 0) outliers[code] = a.outliers;
    }
    const kept = [...this.cache.keys()].filter((c) => !aggregates.has(c));
    this.o.logger.info(
      {
        fresh: aggregates.size,
        sourcesAnswered: answered,
        sourcesPolled: polled,
        lastKnownGood: kept.length,
        bySources,
        ...(Object.keys(outliers).length > 0 ? { outliers } : {}),
      },
      `Bitcoin prices updated. Got BTC price in ${aggregates.size} fiat currencies`,
    );
    // Two sources further apart than the threshold: their mean is used (as upstream), but one of
    // them may quote another market (an official rate beside the street rate) — say so, once.
    const wide = new Map([...aggregates].filter(([, a]) => a.spreadPct > this.o.outlierThresholdPct).map(([c, a]) => [c, a]));
    for (const [code, a] of wide) {
      if (this.wideReported.has(code)) continue;
      this.o.logger.warn(
        { currency: code, providers: a.sources, spreadPct: Math.round(a.spreadPct * 10) / 10, price: a.price },
        'price sources far apart; using their mean — if one quotes another market, scope it out with only/except',
      );
    }
    this.wideReported = new Set(wide.keys());
    const newlySingle = [...single].filter((c) => !this.singleSource.has(c));
    if (newlySingle.length > 0) {
      this.o.logger.warn({ currencies: newlySingle }, 'price now from a single source');
    }
    this.singleSource = single;
    const now = this.o.clock.now();
    const stale = new Set([...this.cache.entries()].filter(([, a]) => now - a.asOf > this.o.maxStalenessSeconds).map(([c]) => c));
    const newlyStale = [...stale].filter((c) => !this.staleReported.has(c));
    if (newlyStale.length > 0) {
      this.o.logger.warn(
        { currencies: newlyStale.slice(0, 50), count: newlyStale.length, maxStalenessSeconds: this.o.maxStalenessSeconds },
        'prices too old to be served (market-price orders in these currencies are refused)',
      );
    }
    const recovered = [...this.staleReported].filter((c) => !stale.has(c));
    if (recovered.length > 0) this.o.logger.info({ currencies: recovered.slice(0, 50), count: recovered.length }, 'prices fresh again');
    this.staleReported = stale;
  }
}
