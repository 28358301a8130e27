import type { Clock } from '../../clock.js';
import { PriceFetchError } from '../price-fetch-error.js';
import { getFromMirrors, isPlainObject, isPrice, parseJson, type HttpProviderOptions } from '../http-get.js';
import type { FetchOptions, PriceProvider, ProviderResult, Quote } from '../types.js';

export interface ElToqueOptions extends HttpProviderOptions {
  /** Bearer token (required; never logged) */
  token: string;
  clock: Clock;
}

/** The API refuses windows of 24 h or more; 23 h still spans a full daily publication cycle. */
const WINDOW_SECONDS = 23 * 3600;

function utcStamp(unix: number): string {
  // YYYY-MM-DD HH:MM:SS in UTC
  return new Date(unix * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * El Toque (informal Cuban market) `GET <base>/v1/trmi?date_from=…&date_to=…` with
 * `Authorization: Bearer <token>` → `{"tasas": {"USD": 490.0, "MLC": 200.0, "ECU": 540.0, …},
 * "date": …}`: CUP per unit of each currency. Not a BTC source: it yields fiat-cross quotes
 * CUP = tasas.USD CUP per USD and MLC = tasas.USD / tasas.MLC MLC per USD, which the aggregator
 * turns into per-BTC prices with this poll's aggregated USD price. Opt-in; CUP/MLC only.
 */
export class ElToqueProvider implements PriceProvider {
  readonly id = 'eltoque' as const;
  readonly attempts: number;

  constructor(private readonly o: ElToqueOptions) {
    if (o.token.trim() === '') throw new RangeError('eltoque needs a token');
    this.attempts = o.urls.length;
  }

  fetchQuotes(opts: FetchOptions): Promise<ProviderResult> {
    const now = this.o.clock.now();
    const q = new URLSearchParams({ date_from: utcStamp(now - WINDOW_SECONDS), date_to: utcStamp(now) });
    return getFromMirrors(this.o, opts, `/v1/trmi?${q.toString()}`, { authorization: `Bearer ${this.o.token}` }, parseElToque);
  }
}

export function parseElToque(body: string, url: string): ProviderResult {
  const json = parseJson(body, url);
  if (!isPlainObject(json)) throw new PriceFetchError(`${url}: body is not a JSON object`, 'malformed');
  const tasas = json['tasas'];
  if (!isPlainObject(tasas)) throw new PriceFetchError(`${url}: "tasas" is missing or not an object`, 'malformed');
  const cupPerUsd = tasas['USD'];
  if (!isPrice(cupPerUsd)) throw new PriceFetchError(`${url}: no usable CUP per USD rate`, 'empty');
  const quotes = new Map<string, Quote>([['CUP', { kind: 'per-base', base: 'USD', value: cupPerUsd }]]);
  const cupPerMlc = tasas['MLC'];
  if (isPrice(cupPerMlc)) quotes.set('MLC', { kind: 'per-base', base: 'USD', value: cupPerUsd / cupPerMlc });
  return { quotes };
}
