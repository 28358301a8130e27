import { PriceFetchError } from '../price-fetch-error.js';
import { CODE_RE, getFromMirrors, isPlainObject, isPrice, parseJson, type HttpProviderOptions } from '../http-get.js';
import type { FetchOptions, PriceProvider, ProviderResult, Quote } from '../types.js';

/**
 * blockchain.info `GET <base>/ticker` →
 * `{"USD": {"15m": 76273.1, "last": 76273.1, "buy": …, "sell": …, "symbol": "USD"}, …}`.
 * The mid-market `last` is used; `buy`/`sell` (a spread) are ignored. About 28 major currencies.
 */
export class BlockchainProvider implements PriceProvider {
  readonly id = 'blockchain' as const;
  readonly attempts: number;

  constructor(private readonly o: HttpProviderOptions) {
    this.attempts = o.urls.length;
  }

  fetchQuotes(opts: FetchOptions): Promise<ProviderResult> {
    return getFromMirrors(this.o, opts, '/ticker', {}, parseBlockchain);
  }
}

export function parseBlockchain(body: string, url: string): ProviderResult {
  const json = parseJson(body, url);
  if (!isPlainObject(json)) throw new PriceFetchError(`${url}: body is not a JSON object`, 'malformed');
  const quotes = new Map<string, Quote>();
  for (const [code, entry] of Object.entries(json)) {
    if (!CODE_RE.test(code) || !isPlainObject(entry)) continue;
    const last = entry['last'];
    if (isPrice(last)) quotes.set(code, { kind: 'per-btc', value: last });
  }
  if (quotes.size === 0) throw new PriceFetchError(`${url}: no usable "last" price in the response`, 'empty');
  return { quotes };
}
