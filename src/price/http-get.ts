import { PriceFetchError } from './price-fetch-error.js';
import type { FetchOptions } from './types.js';

/** What every HTTP provider shares. */
export interface HttpProviderOptions {
  /** base URL first, then the ordered mirrors (`fallback_urls`) */
  urls: readonly string[];
  /** `mostro/<version>` */
  userAgent: string;
  /** Injected for tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** Refuse bodies larger than this (default 2 MiB; the largest API answer is ~20 KB). */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 2 * 1024 * 1024;

export function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/** A URL safe to log and to put in an error: no query string (API keys may travel there). */
function shown(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

async function getOnce(
  url: string,
  headers: Record<string, string>,
  opts: FetchOptions,
  o: HttpProviderOptions,
): Promise<string> {
  const max = o.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const attempt = new AbortController();
  const timer = setTimeout(() => attempt.abort(), opts.requestTimeoutMs);
  timer.unref();
  const signal = AbortSignal.any([attempt.signal, opts.signal]);
  try {
    const res = await (o.fetchImpl ?? fetch)(url, {
      method: 'GET',
      headers: { 'user-agent': o.userAgent, accept: 'application/json', ...headers },
      signal,
      redirect: 'follow',
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new PriceFetchError(`${shown(url)}: HTTP ${res.status}`, 'http');
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      await res.body?.cancel();
      throw new PriceFetchError(`${shown(url)}: body of ${declared} bytes exceeds ${max}`, 'too-large');
    }
    if (res.body === null) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel();
        throw new PriceFetchError(`${shown(url)}: body exceeds ${max} bytes`, 'too-large');
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof PriceFetchError) throw err;
    if (signal.aborted) {
      throw new PriceFetchError(`${shown(url)}: timed out after ${opts.requestTimeoutMs} ms`, 'timeout', { cause: err });
    }
    throw new PriceFetchError(`${shown(url)}: ${describe(err)}`, 'transport', { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GET `path` from the first base URL that answers with a body `parse` accepts: on any failure
 * (transport, HTTP status, timeout, unusable body) the next mirror is tried, in order. Throws the
 * last error (all messages joined) when every mirror failed, or at once when the provider's
 * budget (`opts.signal`) is spent.
 */
export async function getFromMirrors<T>(
  o: HttpProviderOptions,
  opts: FetchOptions,
  path: string,
  headers: Record<string, string>,
  parse: (body: string, url: string) => T,
): Promise<T> {
  const errors: PriceFetchError[] = [];
  for (const base of o.urls) {
    const url = `${trimBase(base)}${path}`;
    try {
      return parse(await getOnce(url, headers, opts, o), shown(url));
    } catch (err) {
      const e =
        err instanceof PriceFetchError ? err : new PriceFetchError(`${shown(url)}: ${describe(err)}`, 'malformed', { cause: err });
      errors.push(e);
      if (opts.signal.aborted) break;
    }
  }
  const last = errors[errors.length - 1];
  if (last === undefined) throw new PriceFetchError('no url configured', 'transport');
  if (errors.length === 1) throw last;
  throw new PriceFetchError(errors.map((e) => e.message).join('; '), last.code, { cause: last });
}

export function parseJson(body: string, url: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new PriceFetchError(`${url}: body is not JSON`, 'malformed', { cause: err });
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isPrice(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

/** Currency codes accepted from an API before upper-casing and the fiat allow-list. */
export const CODE_RE = /^[A-Za-z][A-Za-z0-9]{1,15}$/;
