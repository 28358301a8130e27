/**
 * LNURL-pay (LUD-06) and Lightning addresses (LUD-16): reachability checks when a buyer gives one
 * as payout target, and resolution to a BOLT11 invoice for an exact amount at payout time.
 * Every HTTP request goes through safeGet (https only, public addresses only, timeouts, size cap).
 */
import { bech32 } from '@scure/base';
import type { Logger } from 'pino';
import { sha256Hex } from '../crypto/secp.js';
import { decodeBolt11, sameNetwork } from './bolt11.js';
import { LnurlError } from './lnurl-error.js';
import { safeGet, type SafeGetOptions } from './safe-get.js';
import type { DecodedPaymentRequest } from './backend.js';

export { LnurlError } from './lnurl-error.js';
export type { LnurlErrorCode } from './lnurl-error.js';

/** Checks applied to the invoice an LNURL service returns (upstream #858/#861). */
export interface ResolveInvoiceOptions {
  /** The node's network (LND name, e.g. `regtest`); the invoice must be for it. null/absent = not checked. */
  nodeNetwork?: string | null;
  /** Cap on the invoice's min_final_cltv_expiry_delta (settings.lightning.max_invoice_final_cltv_delta). */
  maxFinalCltvDelta?: number;
  /** Unix seconds; when given the invoice must not be expired. */
  now?: number;
  /**
   * Unix seconds; an invoice timestamped before it is refused. The daemon passes the time its
   * process started: an invoice a service issued before then may be one a previous process was
   * handed for another order and whose record a power cut lost (simulation finding F10s: a service
   * whose metadata does not name the user can hand it to the next caller, and nothing else tells
   * it apart). A fresh invoice is timestamped at the request, after the start (a service whose
   * clock is behind ours is refused for that long after a start: the payout retries later).
   */
  issuedNotBefore?: number;
}

export interface LnurlResolver {
  /**
   * The target (Lightning address or bech32 LNURL) answers as an LNURL-pay service. When
   * `amountSats` is given, that amount must also be within its min/maxSendable. Throws otherwise.
   */
  check(target: string, amountSats?: number): Promise<void>;
  /**
   * Asks the service for an invoice of exactly `amountSats` and returns it (BOLT11). Throws if the
   * service refuses, or the invoice is not exactly that amount or fails `opts`.
   */
  resolveInvoice(target: string, amountSats: number, opts?: ResolveInvoiceOptions): Promise<string>;
}

const ADDRESS_RE = /^[a-z0-9._+-]+@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?::\d{1,5})?$/i;

/** `user@domain` (LUD-16; a `:port` is tolerated for local test servers). */
export function isLightningAddress(s: string): boolean {
  return s.length <= 320 && ADDRESS_RE.test(s);
}

/** Decodes a bech32 `lnurl1…` string to its URL. Throws LnurlError('parse'). */
export function decodeLnurl(s: string): URL {
  const lower = s.trim().toLowerCase();
  if (!lower.startsWith('lnurl1')) throw new LnurlError('parse', 'not an lnurl');
  let text: string;
  try {
    const d = bech32.decode(lower as `lnurl1${string}`, 4096);
    text = new TextDecoder('utf-8', { fatal: true }).decode(bech32.fromWords(d.words));
  } catch (err) {
    throw new LnurlError('parse', `invalid lnurl: ${(err as Error).message}`, { cause: err });
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new LnurlError('parse', 'lnurl does not contain a URL', { cause: err });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new LnurlError('parse', 'lnurl is not an http(s) URL');
  return url;
}

/** A bech32 `lnurl1…` string that decodes to an http(s) URL. */
export function isLnurl(s: string): boolean {
  if (!s.trim().toLowerCase().startsWith('lnurl1')) return false;
  try {
    decodeLnurl(s);
    return true;
  } catch {
    return false;
  }
}

/** Encodes a URL as a bech32 LNURL (uppercase-insensitive; returned lowercase). */
export function encodeLnurl(url: string): string {
  return bech32.encode('lnurl', bech32.toWords(new TextEncoder().encode(url)), 4096);
}

function isLocalHost(host: string): boolean {
  return host === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[');
}

/**
 * The LNURL-pay endpoint of a target: `https://<domain>/.well-known/lnurlp/<user>` for an address
 * (plain http only for localhost/IP-literal domains when private hosts are allowed, i.e. tests),
 * or the decoded URL of an `lnurl1…`.
 */
export function lnurlEndpoint(target: string, allowPrivateHosts: boolean): URL {
  const t = target.trim();
  if (isLightningAddress(t)) {
    const at = t.indexOf('@');
    const user = t.slice(0, at).toLowerCase();
    const domain = t.slice(at + 1).toLowerCase();
    const scheme = allowPrivateHosts && isLocalHost(domain.replace(/:\d+$/, '')) ? 'http' : 'https';
    return new URL(`${scheme}://${domain}/.well-known/lnurlp/${encodeURIComponent(user)}`);
  }
  if (t.toLowerCase().startsWith('lnurl1')) return decodeLnurl(t);
  throw new LnurlError('parse', 'not a Lightning address or LNURL');
}

interface PayParams {
  callback: URL;
  minSendable: bigint;
  maxSendable: bigint;
  /** the raw `metadata` string; the invoice's `h` field must be its sha256 (LUD-06 step 6) */
  metadata: string;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new LnurlError('http', 'response is not JSON', { cause: err });
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LnurlError('protocol', 'response is not a JSON object');
  return v as Record<string, unknown>;
}

function msatField(o: Record<string, unknown>, key: string): bigint {
  const v = o[key];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  throw new LnurlError('protocol', `missing or invalid ${key}`);
}

function errorReason(o: Record<string, unknown>): string | null {
  if (typeof o['status'] === 'string' && o['status'].toUpperCase() === 'ERROR') {
    return typeof o['reason'] === 'string' ? o['reason'].slice(0, 200) : 'unspecified';
  }
  return null;
}

/**
 * The checks on an invoice an LNURL-pay service returned for `amountSats` (LUD-06 steps 6–7, and
 * upstream #858/#861's network and CLTV checks); returns it decoded, throws LnurlError otherwise.
 * - Exactly the amount asked for.
 * - An `h` field equal to sha256 of the service's `metadata` string, as LUD-06 requires of every
 *   wallet. A Lightning address's metadata names the address (LUD-16: `text/identifier` or
 *   `text/email`), so this binds the invoice to the address it was asked from: an invoice the
 *   service issued for another user (a stale or cached answer) is refused, whatever the daemon
 *   remembers of earlier resolutions (finding F10, docs/SIMULATION.md).
 * - The node's network, a CLTV delta within the cap, not expired.
 */
export function verifyLnurlInvoice(pr: string, amountSats: number, metadata: string, opts: ResolveInvoiceOptions = {}): DecodedPaymentRequest {
  let decoded: DecodedPaymentRequest;
  try {
    decoded = decodeBolt11(pr);
  } catch (err) {
    throw new LnurlError('invoice', `callback returned an invalid invoice: ${(err as Error).message}`, { cause: err });
  }
  const msat = BigInt(amountSats) * 1000n;
  if (decoded.amountMsat !== msat) {
    throw new LnurlError('amount', `invoice is for ${decoded.amountMsat} msat, expected ${msat}`);
  }
  const expected = sha256Hex(metadata); // a string is hashed as its UTF-8 bytes
  if (decoded.descriptionHash === undefined) {
    throw new LnurlError('invoice', 'invoice has no description hash (LUD-06: it must commit to the service metadata)');
  }
  if (decoded.descriptionHash !== expected) {
    throw new LnurlError('invoice', 'invoice description hash is not the hash of the service metadata (issued for another request?)');
  }
  if (opts.nodeNetwork && !sameNetwork(decoded.network, opts.nodeNetwork)) {
    throw new LnurlError('invoice', `invoice is for ${decoded.network}, node is on ${opts.nodeNetwork}`);
  }
  if (opts.maxFinalCltvDelta !== undefined && decoded.minFinalCltvExpiry > opts.maxFinalCltvDelta) {
    throw new LnurlError('invoice', `invoice min_final_cltv_expiry ${decoded.minFinalCltvExpiry} > ${opts.maxFinalCltvDelta}`);
  }
  if (opts.now !== undefined && decoded.timestamp + decoded.expirySeconds <= opts.now) {
    throw new LnurlError('invoice', 'invoice already expired');
  }
  if (opts.issuedNotBefore !== undefined) assertIssuedNotBefore(decoded.timestamp, opts.issuedNotBefore);
  return decoded;
}

/** ResolveInvoiceOptions.issuedNotBefore: throws when an invoice's timestamp is before `notBefore`. */
export function assertIssuedNotBefore(timestamp: number, notBefore: number): void {
  if (timestamp < notBefore) {
    throw new LnurlError(
      'invoice',
      `invoice issued at ${timestamp}, before this process started (${notBefore}): possibly one issued for another request (or the service's clock is behind)`,
    );
  }
}

export interface HttpLnurlResolverOptions {
  /** per-request budget (DNS + connect + body), milliseconds */
  timeoutMs: number;
  /** tests only: allow plain http and loopback/private addresses */
  allowPrivateHosts: boolean;
  logger: Logger;
  /** default 256 KiB */
  maxBodyBytes?: number;
  /** ResolveInvoiceOptions.issuedNotBefore for every resolution (the daemon: its start time). */
  issuedNotBefore?: number;
}

export class HttpLnurlResolver implements LnurlResolver {
  private readonly get: SafeGetOptions;
  private readonly logger: Logger;
  private readonly allowPrivateHosts: boolean;
  private readonly issuedNotBefore: number | undefined;

  constructor(opts: HttpLnurlResolverOptions) {
    this.allowPrivateHosts = opts.allowPrivateHosts;
    this.issuedNotBefore = opts.issuedNotBefore;
    this.logger = opts.logger;
    this.get = {
      timeoutMs: opts.timeoutMs,
      allowPrivateHosts: opts.allowPrivateHosts,
      maxBodyBytes: opts.maxBodyBytes ?? 256 * 1024,
      maxRedirects: 3,
      userAgent: 'mostrod-ts',
    };
  }

  async check(target: string, amountSats?: number): Promise<void> {
    const params = await this.payParams(target);
    if (amountSats !== undefined) this.assertSendable(params, amountSats);
  }

  async resolveInvoice(target: string, amountSats: number, opts: ResolveInvoiceOptions = {}): Promise<string> {
    const params = await this.payParams(target);
    const msat = this.assertSendable(params, amountSats);
    const callback = new URL(params.callback);
    // URLSearchParams keeps an existing query (joined with `&`), unlike 0.17.1's blind `?amount=`.
    callback.searchParams.set('amount', msat.toString());
    const res = await safeGet(callback, this.get);
    if (res.status < 200 || res.status >= 300) throw new LnurlError('http', `callback answered HTTP ${res.status}`);
    const o = asRecord(parseJson(res.body));
    const reason = errorReason(o);
    if (reason !== null) throw new LnurlError('protocol', `service refused: ${reason}`);
    const pr = o['pr'];
    if (typeof pr !== 'string' || pr.length === 0) throw new LnurlError('protocol', 'callback returned no invoice');
    const decoded = verifyLnurlInvoice(pr, amountSats, params.metadata, {
      ...(this.issuedNotBefore !== undefined ? { issuedNotBefore: this.issuedNotBefore } : {}),
      ...opts,
    });
    this.logger.debug({ target, amountSats, hash: decoded.hash }, 'lnurl resolved invoice');
    return pr.trim();
  }

  private async payParams(target: string): Promise<PayParams> {
    const url = lnurlEndpoint(target, this.allowPrivateHosts);
    const res = await safeGet(url, this.get);
    if (res.status < 200 || res.status >= 300) throw new LnurlError('http', `${url.host} answered HTTP ${res.status}`);
    const o = asRecord(parseJson(res.body));
    const reason = errorReason(o);
    if (reason !== null) throw new LnurlError('protocol', `service refused: ${reason}`);
    if (o['tag'] !== 'payRequest') throw new LnurlError('protocol', 'not an LNURL-pay endpoint (tag is not payRequest)');
    const cb = o['callback'];
    if (typeof cb !== 'string') throw new LnurlError('protocol', 'missing callback');
    let callback: URL;
    try {
      callback = new URL(cb);
    } catch (err) {
      throw new LnurlError('protocol', 'callback is not a URL', { cause: err });
    }
    const minSendable = msatField(o, 'minSendable');
    const maxSendable = msatField(o, 'maxSendable');
    if (minSendable > maxSendable) throw new LnurlError('protocol', 'minSendable > maxSendable');
    const metadata = o['metadata'];
    if (typeof metadata !== 'string' || metadata.length === 0) throw new LnurlError('protocol', 'missing metadata');
    return { callback, minSendable, maxSendable, metadata };
  }

  private assertSendable(p: PayParams, amountSats: number): bigint {
    if (!Number.isSafeInteger(amountSats) || amountSats <= 0) throw new LnurlError('amount', `invalid amount ${amountSats}`);
    const msat = BigInt(amountSats) * 1000n;
    if (msat < p.minSendable || msat > p.maxSendable) {
      throw new LnurlError('amount', `${msat} msat outside [${p.minSendable}, ${p.maxSendable}]`);
    }
    return msat;
  }
}
