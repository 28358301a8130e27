import type { IncomingMessage } from 'node:http';
import { http, https } from '../node-http.js';
import { PriceFetchError } from './price-fetch-error.js';
import type { FetchOptions } from './types.js';

/** What a GET asks for: the request headers, the signal that aborts it, the largest body read. */
export interface HttpGetRequest {
  headers: Record<string, string>;
  signal: AbortSignal;
  maxBodyBytes: number;
}

/** The final answer after redirects; `body` is read for 2xx answers only. */
export interface HttpGetResponse {
  status: number;
  body: string;
}

/**
 * One GET. Throws PriceFetchError('too-large') past `maxBodyBytes`, 'http' on a redirect it will not
 * follow; other failures reject with the transport's own error (the caller names them).
 */
export type HttpGet = (url: string, req: HttpGetRequest) => Promise<HttpGetResponse>;

/** What every HTTP provider shares. */
export interface HttpProviderOptions {
  /** base URL first, then the ordered mirrors (`fallback_urls`) */
  urls: readonly string[];
  /** `mostro/<version>` */
  userAgent: string;
  /** Injected for tests; defaults to nodeHttpGet. */
  httpGet?: HttpGet;
  /** Refuse bodies larger than this (default 2 MiB; the largest API answer is ~20 KB). */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 2 * 1024 * 1024;
/** Redirects followed per GET (the APIs redirect at most once, e.g. to a CDN). */
export const MAX_REDIRECTS = 5;
/** Headers that stay on a redirect to another origin (an API key does not). */
const CROSS_ORIGIN_HEADERS = new Set(['user-agent', 'accept']);

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

function requestOnce(url: URL, req: HttpGetRequest): Promise<HttpGetResponse & { location?: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (mod === null) {
      reject(new PriceFetchError(`${shown(url.href)}: unsupported scheme ${url.protocol}`, 'transport'));
      return;
    }
    const request = mod.get(url, { headers: req.headers, signal: req.signal }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      res.on('error', reject);
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.destroy();
        resolve({ status, body: '', location });
        return;
      }
      if (status < 200 || status > 299) {
        res.destroy();
        resolve({ status, body: '' });
        return;
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > req.maxBodyBytes) {
        res.destroy();
        reject(new PriceFetchError(`${shown(url.href)}: body of ${declared} bytes exceeds ${req.maxBodyBytes}`, 'too-large'));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBodyBytes) {
          res.destroy();
          reject(new PriceFetchError(`${shown(url.href)}: body exceeds ${req.maxBodyBytes} bytes`, 'too-large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
  });
}

/**
 * The daemon's GET, on node:http(s) rather than fetch: fetch's engine (undici) would cost every
 * daemon ~2.3 MB of heap (src/node-http.ts). Follows up to MAX_REDIRECTS redirects, never from
 * https to http, and drops all but user-agent and accept on a redirect to another origin.
 */
export const nodeHttpGet: HttpGet = async (target, req) => {
  let url = new URL(target);
  let headers = req.headers;
  for (let hop = 0; ; hop++) {
    const res = await requestOnce(url, { ...req, headers });
    if (res.location === undefined) return { status: res.status, body: res.body };
    if (hop >= MAX_REDIRECTS) throw new PriceFetchError(`${shown(target)}: more than ${MAX_REDIRECTS} redirects`, 'http');
    const next = new URL(res.location, url);
    if (url.protocol === 'https:' && next.protocol !== 'https:') {
      throw new PriceFetchError(`${shown(target)}: refusing a redirect from https to ${next.protocol}`, 'http');
    }
    if (next.origin !== url.origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => CROSS_ORIGIN_HEADERS.has(k.toLowerCase())));
    }
    url = next;
  }
};

async function getOnce(
  url: string,
  headers: Record<string, string>,
  opts: FetchOptions,
  o: HttpProviderOptions,
): Promise<string> {
  const attempt = new AbortController();
  const timer = setTimeout(() => attempt.abort(), opts.requestTimeoutMs);
  timer.unref();
  const signal = AbortSignal.any([attempt.signal, opts.signal]);
  try {
    const res = await (o.httpGet ?? nodeHttpGet)(url, {
      headers: { 'user-agent': o.userAgent, accept: 'application/json', ...headers },
      signal,
      maxBodyBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY,
    });
    if (res.status < 200 || res.status > 299) throw new PriceFetchError(`${shown(url)}: HTTP ${res.status}`, 'http');
    return res.body;
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
