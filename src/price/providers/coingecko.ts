import { PriceFetchError } from '../price-fetch-error.js';
import { CODE_RE, getFromMirrors, isPlainObject, isPrice, parseJson, type HttpProviderOptions } from '../http-get.js';
import type { FetchOptions, PriceProvider, ProviderResult, Quote } from '../types.js';

/** Fiat currencies CoinGecko quotes bitcoin in (its `vs_currencies`; it has no CUP/MLC/VES). */
export const COINGECKO_VS_CURRENCIES = [
  'usd', 'eur', 'gbp', 'jpy', 'ars', 'aud', 'bdt', 'bhd', 'bmd', 'brl', 'cad', 'chf', 'clp', 'cny',
  'czk', 'dkk', 'gel', 'hkd', 'huf', 'idr', 'ils', 'inr', 'krw', 'kwd', 'lkr', 'mmk', 'mxn', 'myr',
  'ngn', 'nok', 'nzd', 'php', 'pkr', 'pln', 'rub', 'sar', 'sek', 'sgd', 'thb', 'try', 'twd', 'uah',
  'vnd', 'zar',
] as const;

export interface CoinGeckoOptions extends HttpProviderOptions {
  /** demo or pro key; sent as `x-cg-pro-api-key` to a pro-api host, else `x-cg-demo-api-key` */
  apiKey?: string;
}

/**
 * CoinGecko `GET <base>/simple/price?ids=bitcoin&vs_currencies=usd,eur,…` →
 * `{"bitcoin": {"usd": 63410, …}}` (lower-case codes, fiat per BTC). The API key travels in a
 * header only and never appears in errors or logs.
 */
export class CoinGeckoProvider implements PriceProvider {
  readonly id = 'coingecko' as const;
  readonly attempts: number;

  constructor(private readonly o: CoinGeckoOptions) {
    this.attempts = o.urls.length;
  }

  fetchQuotes(opts: FetchOptions): Promise<ProviderResult> {
    const key = this.o.apiKey;
    const headers: Record<string, string> = {};
    if (key !== undefined && key !== '') {
      const pro = this.o.urls.some((u) => u.includes('pro-api'));
      headers[pro ? 'x-cg-pro-api-key' : 'x-cg-demo-api-key'] = key;
    }
    const path = `/simple/price?ids=bitcoin&vs_currencies=${COINGECKO_VS_CURRENCIES.join(',')}`;
    return getFromMirrors(this.o, opts, path, headers, parseCoinGecko);
  }
}

export function parseCoinGecko(body: string, url: string): ProviderResult {
  const json = parseJson(body, url);
  if (!isPlainObject(json)) throw new PriceFetchError(`${url}: body is not a JSON object`, 'malformed');
  const btc = json['bitcoin'];
  if (!isPlainObject(btc)) throw new PriceFetchError(`${url}: "bitcoin" is missing or not an object`, 'malformed');
  const quotes = new Map<string, Quote>();
  for (const [code, value] of Object.entries(btc)) {
    if (CODE_RE.test(code) && isPrice(value)) quotes.set(code, { kind: 'per-btc', value });
  }
  if (quotes.size === 0) throw new PriceFetchError(`${url}: no usable BTC price in the response`, 'empty');
  return { quotes };
}
