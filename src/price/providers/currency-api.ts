import { PriceFetchError } from '../price-fetch-error.js';
import { CODE_RE, getFromMirrors, isPlainObject, isPrice, parseJson, type HttpProviderOptions } from '../http-get.js';
import type { FetchOptions, PriceProvider, ProviderResult, Quote } from '../types.js';

/**
 * fawazahmed0 currency-api `GET <base>/currencies/btc.min.json` →
 * `{"date": "2026-06-11", "btc": {"usd": 77817.3, "eth": 21.3, …}}` (lower-case codes, hundreds of
 * them including crypto, which the fiat allow-list drops). CDN-hosted with mirrors: `fallback_urls`
 * are tried in order when a base fails. Its CUP is the OFFICIAL Cuban rate, not the market one
 * traders use, hence `except = ["CUP", "MLC"]` by default.
 */
export class CurrencyApiProvider implements PriceProvider {
  readonly id = 'currency_api' as const;
  readonly attempts: number;

  constructor(private readonly o: HttpProviderOptions) {
    this.attempts = o.urls.length;
  }

  fetchQuotes(opts: FetchOptions): Promise<ProviderResult> {
    return getFromMirrors(this.o, opts, '/currencies/btc.min.json', {}, parseCurrencyApi);
  }
}

export function parseCurrencyApi(body: string, url: string): ProviderResult {
  const json = parseJson(body, url);
  if (!isPlainObject(json)) throw new PriceFetchError(`${url}: body is not a JSON object`, 'malformed');
  const btc = json['btc'];
  if (!isPlainObject(btc)) throw new PriceFetchError(`${url}: "btc" is missing or not an object`, 'malformed');
  const quotes = new Map<string, Quote>();
  for (const [code, value] of Object.entries(btc)) {
    if (CODE_RE.test(code) && isPrice(value)) quotes.set(code, { kind: 'per-btc', value });
  }
  if (quotes.size === 0) throw new PriceFetchError(`${url}: no usable BTC price in the response`, 'empty');
  return { quotes };
}
