import type { Logger } from 'pino';
import { PriceFetchError } from './price-fetch-error.js';
import type { PriceProvider } from './types.js';

export interface YadioProviderOptions {
  /** `mostro.bitcoin_price_api_url`, e.g. https://api.yadio.io (a trailing slash is tolerated) */
  baseUrl: string;
  /** Whole-request timeout (connect + headers + body). 0.17.1 used 10 s. */
  timeoutMs: number;
  /** Injected for tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** 0.17.1 sent `mostro/0.17.1`. */
  userAgent: string;
  /** Refuse bodies larger than this (default 1 MiB; Yadio's answer is a few KB). */
  maxBodyBytes?: number;
  /** Skipped entries are reported here at debug level. */
  logger?: Logger;
}

/** Currency codes accepted from the API (Yadio uses upper-case ISO-4217-like codes). */
const CODE_RE = /^[A-Za-z][A-Za-z0-9]{1,15}$/;
const DEFAULT_MAX_BODY = 1024 * 1024;

/**
 * Yadio `GET <base>/exrates/BTC` (DAEMON.md §6.2): `{"BTC": {"USD": 50000.0, …}, …}`.
 * Differences from 0.17.1, deliberately: a non-2xx status is a failure (0.17.1 looked only at the
 * body); entries that are not finite positive numbers (null, strings, 0, negatives — upstream #748)
 * or have an implausible code are skipped instead of failing the whole fetch; a response with no
 * usable rate is a failure (0.17.1 would have emptied the cache).
 */
export class YadioProvider implements PriceProvider {
  readonly name = 'yadio';
  private readonly url: string;
  private readonly fetchImpl: typeof fetch;
  private readonly maxBodyBytes: number;

  constructor(private readonly opts: YadioProviderOptions) {
    if (!(opts.timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/exrates/BTC`;
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  }

  async fetchRates(): Promise<Map<string, number>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs);
    timer.unref();
    try {
      const body = await this.get(controller.signal);
      return this.parse(body);
    } catch (err) {
      if (err instanceof PriceFetchError) throw err;
      if (controller.signal.aborted) {
        throw new PriceFetchError(`${this.url}: timed out after ${this.opts.timeoutMs} ms`, 'timeout', { cause: err });
      }
      throw new PriceFetchError(`${this.url}: ${describe(err)}`, 'transport', { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async get(signal: AbortSignal): Promise<string> {
    const res = await this.fetchImpl(this.url, {
      method: 'GET',
      headers: { 'user-agent': this.opts.userAgent, accept: 'application/json' },
      signal,
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new PriceFetchError(`${this.url}: HTTP ${res.status}`, 'http');
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxBodyBytes) {
      await res.body?.cancel();
      throw new PriceFetchError(`${this.url}: body of ${declared} bytes exceeds ${this.maxBodyBytes}`, 'too-large');
    }
    if (res.body === null) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > this.maxBodyBytes) {
        await reader.cancel();
        throw new PriceFetchError(`${this.url}: body exceeds ${this.maxBodyBytes} bytes`, 'too-large');
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private parse(body: string): Map<string, number> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      throw new PriceFetchError(`${this.url}: body is not JSON`, 'malformed', { cause: err });
    }
    if (!isPlainObject(json)) throw new PriceFetchError(`${this.url}: body is not a JSON object`, 'malformed');
    const btc = json['BTC'];
    if (!isPlainObject(btc)) throw new PriceFetchError(`${this.url}: "BTC" is missing or not an object`, 'malformed');
    const rates = new Map<string, number>();
    const skipped: string[] = [];
    for (const [code, value] of Object.entries(btc)) {
      if (CODE_RE.test(code) && typeof value === 'number' && Number.isFinite(value) && value > 0) {
        rates.set(code, value);
      } else {
        skipped.push(code);
      }
    }
    if (skipped.length > 0) {
      this.opts.logger?.debug({ skipped: skipped.slice(0, 20), count: skipped.length }, 'price entries skipped');
    }
    if (rates.size === 0) throw new PriceFetchError(`${this.url}: no usable BTC price in the response`, 'empty');
    return rates;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
