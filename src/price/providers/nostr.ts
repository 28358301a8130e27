import type { Clock } from '../../clock.js';
import { verifyEvent, type NostrEvent } from '../../crypto/event.js';
import { PriceFetchError } from '../price-fetch-error.js';
import { CODE_RE, isPlainObject, isPrice } from '../http-get.js';
import type { FetchOptions, PriceProvider, ProviderResult, Quote } from '../types.js';

export const EXCHANGE_RATES_KIND = 30078;
export const EXCHANGE_RATES_D = 'mostro-rates';

/** Reads kind-30078 rate events from relays (the daemon's relays; a test relay in tests). */
export interface NostrRatesReader {
  /**
   * Events matching `{kinds:[30078], authors, "#d":["mostro-rates"]}` from every reachable relay,
   * as received (NOT verified: the provider checks each one). Resolves when every relay answered
   * EOSE or `timeoutMs` passed; rejects only when no relay could be queried at all.
   */
  fetchRateEvents(authors: readonly string[], opts: { timeoutMs: number; signal: AbortSignal }): Promise<unknown[]>;
}

export interface NostrProviderOptions {
  /** lower-case hex public keys */
  trustedNodes: readonly string[];
  reader: NostrRatesReader;
  clock: Clock;
  /** events older than this are ignored (`max_price_staleness_seconds`) */
  maxAgeSeconds: number;
  /** tolerated clock skew for events dated in the future (default 120 s) */
  maxFutureSeconds?: number;
}

function tagValue(e: NostrEvent, name: string): string | undefined {
  return e.tags.find((t) => t[0] === name)?.[1];
}

/**
 * Rates other Mostro nodes publish (kind 30078, `d = mostro-rates`, content `{"BTC": {"USD": …}}`)
 * from the nodes listed in `trusted_nodes` — for operators whose network blocks the HTTP price
 * APIs but not Nostr. Every event is checked: valid id and signature, author in the trusted list,
 * kind and d tag, not expired (NIP-40), not older than `maxAgeSeconds`, not from the future. The
 * freshest usable event wins (several trusted nodes are redundancy, not samples), and its quotes
 * are as old as its `created_at` — so a price relayed over Nostr ages from when it was published,
 * not from when we read it. The aggregator uses this provider only for currencies no HTTP provider
 * produced in the same poll.
 */
export class NostrProvider implements PriceProvider {
  readonly id = 'nostr' as const;
  readonly attempts = 1;
  private readonly trusted: ReadonlySet<string>;

  constructor(private readonly o: NostrProviderOptions) {
    if (o.trustedNodes.length === 0) throw new RangeError('nostr provider needs trusted nodes');
    this.trusted = new Set(o.trustedNodes);
  }

  async fetchQuotes(opts: FetchOptions): Promise<ProviderResult> {
    let events: unknown[];
    try {
      events = await this.o.reader.fetchRateEvents([...this.trusted], { timeoutMs: opts.requestTimeoutMs, signal: opts.signal });
    } catch (err) {
      throw new PriceFetchError(`nostr: ${err instanceof Error ? err.message : String(err)}`, 'transport', { cause: err });
    }
    const now = this.o.clock.now();
    const skew = this.o.maxFutureSeconds ?? 120;
    const rejected = { signature: 0, untrusted: 0, stale: 0, expired: 0, unusable: 0 };
    const fresh: NostrEvent[] = [];
    for (const e of events) {
      if (!verifyEvent(e)) {
        rejected.signature++;
        continue;
      }
      if (!this.trusted.has(e.pubkey)) {
        rejected.untrusted++;
        continue;
      }
      if (e.kind !== EXCHANGE_RATES_KIND || tagValue(e, 'd') !== EXCHANGE_RATES_D) {
        rejected.unusable++;
        continue;
      }
      const exp = Number(tagValue(e, 'expiration') ?? NaN);
      if (Number.isFinite(exp) && exp <= now) {
        rejected.expired++;
        continue;
      }
      if (e.created_at > now + skew || now - e.created_at > this.o.maxAgeSeconds) {
        rejected.stale++;
        continue;
      }
      fresh.push(e);
    }
    fresh.sort((a, b) => b.created_at - a.created_at);
    for (const e of fresh) {
      const quotes = parseRatesContent(e.content);
      if (quotes !== null && quotes.size > 0) return { quotes, asOf: Math.min(e.created_at, now) };
      rejected.unusable++;
    }
    throw new PriceFetchError(
      `nostr: no fresh, signed rates event from a trusted node (${events.length} received; rejected: ` +
        `${Object.entries(rejected)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`,
      'empty',
    );
  }
}

/** `{"BTC": {"USD": 50000.0, …}}` → quotes; null when the shape is wrong. */
export function parseRatesContent(content: string): Map<string, Quote> | null {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    return null;
  }
  if (!isPlainObject(json) || !isPlainObject(json['BTC'])) return null;
  const quotes = new Map<string, Quote>();
  for (const [code, value] of Object.entries(json['BTC'])) {
    if (CODE_RE.test(code) && isPrice(value)) quotes.set(code, { kind: 'per-btc', value });
  }
  return quotes;
}
