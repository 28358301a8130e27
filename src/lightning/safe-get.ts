/**
 * A guarded HTTP GET for LNURL endpoints (upstream #858): https only, every resolved address must
 * be public (the address checked is the one connected to, so DNS rebinding does not bypass it),
 * a timeout over the whole exchange, a body size cap, and at most a few re-checked redirects.
 * `allowPrivateHosts` (tests only) lifts the scheme and address rules.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { http, https } from '../node-http.js';
import { isForbiddenAddress } from './ip-policy.js';
import { LnurlError } from './lnurl-error.js';

export interface SafeGetOptions {
  timeoutMs: number;
  allowPrivateHosts: boolean;
  maxBodyBytes: number;
  maxRedirects: number;
  userAgent: string;
}

export interface SafeGetResponse {
  status: number;
  body: string;
  /** the URL that finally answered (after redirects) */
  url: string;
}

/** Checks the URL's scheme and, for IP literals, the address. Throws LnurlError('policy'). */
export function assertAllowedUrl(url: URL, allowPrivateHosts: boolean): void {
  if (url.protocol !== 'https:' && !(allowPrivateHosts && url.protocol === 'http:')) {
    throw new LnurlError('policy', `refusing ${url.protocol} URL (https only)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new LnurlError('policy', 'refusing URL with credentials');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivateHosts && isIP(host) !== 0 && isForbiddenAddress(host)) {
    throw new LnurlError('policy', `refusing non-public address ${host}`);
  }
}

/** A dns lookup that refuses the host when any of its addresses is not public. */
function guardedLookup(allowPrivateHosts: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err, '', 0);
        return;
      }
      if (addresses.length === 0) {
        callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        return;
      }
      const bad = addresses.find((a) => isForbiddenAddress(a.address));
      if (bad && !allowPrivateHosts) {
        callback(new LnurlError('policy', `refusing ${hostname}: resolves to non-public address ${bad.address}`), '', 0);
        return;
      }
      if (options.all === true) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        const first = addresses[0]!;
        callback(null, first.address, first.family);
      }
    });
  };
}

function getOnce(url: URL, opts: SafeGetOptions, signal: AbortSignal): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new LnurlError('timeout', `timeout fetching ${url.origin}`));
      return;
    }
    const mod = url.protocol === 'https:' ? https : http;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const req = mod.request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': opts.userAgent },
        lookup: guardedLookup(opts.allowPrivateHosts),
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          const location = res.headers.location;
          res.resume();
          if (!settled) {
            settled = true;
            signal.removeEventListener('abort', onAbort);
            req.destroy();
            resolve(location === undefined ? { status, body: '' } : { status, location, body: '' });
          }
          return;
        }
        const declared = Number(res.headers['content-length'] ?? '0');
        if (declared > opts.maxBodyBytes) {
          fail(new LnurlError('http', `response too large (${declared} bytes)`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBodyBytes) {
            fail(new LnurlError('http', `response larger than ${opts.maxBodyBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => fail(new LnurlError('network', `reading ${url.origin}: ${err.message}`, { cause: err })));
      },
    );
    const onAbort = (): void => fail(new LnurlError('timeout', `timeout fetching ${url.origin}`));
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      if (err instanceof LnurlError) fail(err);
      else fail(new LnurlError('network', `request to ${url.origin} failed: ${err.message}`, { cause: err }));
    });
    req.end();
  });
}

/** GET with the policy above. Resolves with any final status; throws LnurlError on policy/transport failures. */
export async function safeGet(target: string | URL, opts: SafeGetOptions): Promise<SafeGetResponse> {
  let url: URL;
  try {
    url = new URL(target);
  } catch (err) {
    throw new LnurlError('parse', `not a URL: ${String(target)}`, { cause: err });
  }
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), opts.timeoutMs);
  try {
    for (let hop = 0; ; hop++) {
      assertAllowedUrl(url, opts.allowPrivateHosts);
      const res = await getOnce(url, opts, timeout.signal);
      if (res.location === undefined) return { status: res.status, body: res.body, url: url.toString() };
      if (hop >= opts.maxRedirects) throw new LnurlError('policy', 'too many redirects');
      url = new URL(res.location, url);
    }
  } finally {
    clearTimeout(timer);
  }
}
