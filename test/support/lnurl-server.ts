/**
 * A local LNURL-pay server (LUD-06/LUD-16) on 127.0.0.1 and a random port, issuing real signed
 * BOLT11 invoices — by default from a fixed payee key, or from the LND simulator. Per-user modes
 * script misbehaviour (wrong amount, wrong network, hangs, …) for the resolver's tests. Use it with
 * `allowPrivateHosts: true` (plain http, loopback).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Network } from '../../src/lightning/bolt11.js';
import { encodeLnurl } from '../../src/lightning/lnurl.js';
import { signInvoice } from './lnd-sim/invoices.js';

export type LnurlUserMode =
  | 'ok'
  /** the invoice is for 1 sat more than asked */
  | 'wrong-amount'
  /** the invoice is for another network */
  | 'wrong-network'
  /** min_final_cltv_expiry of 1000 blocks */
  | 'big-cltv'
  /** tag is not payRequest */
  | 'bad-tag'
  /** the callback answers {status: ERROR} */
  | 'error-status'
  /** the callback returns a string that is not an invoice */
  | 'garbage-pr'
  /** never answers the first request */
  | 'hang'
  /** answers the first request with a body larger than 1 MiB */
  | 'huge'
  /** the invoice commits to another user's metadata (`h` of `other`'s): a stale or misrouted answer */
  | 'foreign-description-hash'
  /** the invoice carries a plain `d` description and no `h` */
  | 'no-description-hash'
  /** the first answer has no `metadata` */
  | 'no-metadata'
  /** the invoice is timestamped an hour ago (a stale invoice kept from an earlier request) */
  | 'stale';

export interface LnurlServerOptions {
  network?: Network;
  /** msat; default 1 000 … 1 000 000 000 */
  minSendable?: bigint;
  maxSendable?: bigint;
  /** issue invoices another way (e.g. `sim.createPayeeInvoice`); `descriptionHash` is the `h` field to write */
  issueInvoice?: (amountMsat: bigint, user: string, descriptionHash: string) => string;
}

export interface LnurlServer {
  readonly port: number;
  readonly origin: string;
  /** every request path+query received */
  readonly requests: string[];
  /** `user@127.0.0.1:PORT` */
  address(user: string): string;
  /** bech32 `lnurl1…` of the user's pay endpoint */
  lnurl(user: string): string;
  setMode(user: string, mode: LnurlUserMode): void;
  close(): Promise<void>;
}

export async function startLnurlServer(opts: LnurlServerOptions = {}): Promise<LnurlServer> {
  const modes = new Map<string, LnurlUserMode>();
  const requests: string[] = [];
  const network = opts.network ?? 'regtest';
  const minSendable = opts.minSendable ?? 1000n;
  const maxSendable = opts.maxSendable ?? 1_000_000_000n;
  let origin = '';
  /** LUD-06 metadata naming the address (LUD-16 `text/identifier`); invoices commit to its sha256 */
  const metadataOf = (user: string): string =>
    JSON.stringify([
      ['text/plain', `pay ${user}`],
      ['text/identifier', `${user}@${new URL(origin).host}`],
    ]);
  const metadataHash = (user: string): string => createHash('sha256').update(metadataOf(user)).digest('hex');

  const json = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    requests.push(url.pathname + url.search);
    const pay = /^\/\.well-known\/lnurlp\/([^/]+)$/.exec(url.pathname);
    const cb = /^\/lnurlp\/callback\/([^/]+)$/.exec(url.pathname);
    const user = decodeURIComponent(pay?.[1] ?? cb?.[1] ?? '');
    const mode = modes.get(user);
    if (!mode) return json(res, 404, { status: 'ERROR', reason: 'unknown user' });
    if (pay) {
      if (mode === 'hang') return; // never answers
      if (mode === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ tag: 'payRequest', pad: 'x'.repeat(1024 * 1024 + 10) }));
        return;
      }
      return json(res, 200, {
        tag: mode === 'bad-tag' ? 'withdrawRequest' : 'payRequest',
        // a callback that already carries a query: the amount must be appended with `&`
        callback: `${origin}/lnurlp/callback/${encodeURIComponent(user)}?k1=abc`,
        minSendable: Number(minSendable),
        maxSendable: Number(maxSendable),
        ...(mode === 'no-metadata' ? {} : { metadata: metadataOf(user) }),
      });
    }
    if (cb) {
      if (url.searchParams.get('k1') !== 'abc') return json(res, 400, { status: 'ERROR', reason: 'lost k1' });
      const amount = url.searchParams.get('amount');
      if (amount === null || !/^\d+$/.test(amount)) return json(res, 400, { status: 'ERROR', reason: 'bad amount' });
      const msat = BigInt(amount);
      if (mode === 'error-status') return json(res, 200, { status: 'ERROR', reason: 'no liquidity' });
      if (mode === 'garbage-pr') return json(res, 200, { pr: 'lnbcrt1garbage', routes: [] });
      const h = metadataHash(mode === 'foreign-description-hash' ? `${user}-other` : user);
      let pr: string;
      if (opts.issueInvoice && mode === 'ok') pr = opts.issueInvoice(msat, user, h);
      else {
        pr = signInvoice({
          amountMsat: mode === 'wrong-amount' ? msat + 1000n : msat,
          network: mode === 'wrong-network' ? (network === 'mainnet' ? 'testnet' : 'mainnet') : network,
          minFinalCltv: mode === 'big-cltv' ? 1000 : 80,
          ...(mode === 'stale' ? { timestamp: Math.floor(Date.now() / 1000) - 3600 } : {}),
          ...(mode === 'no-description-hash' ? { description: `pay ${user}` } : { descriptionHash: h }),
        }).paymentRequest;
      }
      return json(res, 200, { pr, routes: [] });
    }
    json(res, 404, { status: 'ERROR', reason: 'not found' });
  });

  const port = await new Promise<number>((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  origin = `http://127.0.0.1:${port}`;

  return {
    port,
    origin,
    requests,
    address: (user) => `${user}@127.0.0.1:${port}`,
    lnurl: (user) => encodeLnurl(`${origin}/.well-known/lnurlp/${encodeURIComponent(user)}`),
    setMode: (user, mode) => void modes.set(user, mode),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
