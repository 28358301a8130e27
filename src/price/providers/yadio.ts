import { PriceFetchError } from '../price-fetch-error.js';
import { CODE_RE, getFromMirrors, isPlainObject, isPrice, parseJson, type HttpProviderOptions } from '../http-get.js';
import type { FetchOptions, PriceProvider, ProviderResult, Quote } from '../types.js';

/**
 * Yadio `GET <base>/exrates/BTC` → `{"BTC": {"USD": 50000.0, …}, "base": "BTC", "timestamp": …}`;
 * every value is fiat per BTC. Entries that are not finite positive numbers (null, strings, 0 —
 * upstream #748) or have an implausible code are skipped; a body with no usable rate is a failure.
 */
export class YadioProvider implements PriceProvider {
  readonly id = 'yadio' as const;
  readonly attempts: number;

  constructor(private readonly o: HttpProviderOptions) {
    this.attempts = o.urls.length;
  }

  fetchQuotes(opts: FetchOptions): Promise<ProviderResult> {
    return getFromMirrors(this.o, opts, '/exrates/BTC', {}, parseYadio);
  }
}

export function parseYadio(body: string, url: string): ProviderResult {
  const json = parseJson(body, url);
  if (!isPlainObject(json)) throw new PriceFetchError(`${url}: body is not a JSON object`, 'malformed');
  const btc = json['BTC'];
  if (!isPlainObject(btc)) throw new PriceFetchError(`${url}: "BTC" is missing or not an object`, 'malformed');
  const quotes = new Map<string, Quote>();
  for (const [code, value] of Object.entries(btc)) {
    if (CODE_RE.test(code) && isPrice(value)) quotes.set(code, { kind: 'per-btc', value });
  }
  if (quotes.size === 0) throw new PriceFetchError(`${url}: no usable BTC price in the response`, 'empty');
  return { quotes };
}
