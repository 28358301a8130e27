/**
 * Bearer-token authentication of the gRPC services (`[rpc] auth_token_file`) and the per-client
 * gate every RPC passes first.
 *
 * Token file: one token per line, optionally preceded by a name (`alice 3f9c…`; a bare token is
 * named "operator"); blank lines and lines starting with `#` are ignored. Tokens must be at least
 * 32 characters. A call authenticates with the metadata `authorization: Bearer <token>`; the
 * comparison is constant-time (SHA-256 of both sides, timingSafeEqual, every configured token
 * compared).
 *
 * Rate limiting (fix of the lock-out in the previous port, matching 0.17.1's intent that only
 * authentication attempts are limited): only a FAILED AUTHENTICATION counts as a failure. A
 * correct token is always admitted — even from an address locked out by someone else's wrong
 * tokens — and ordinary refusals (bad ids, wrong status) never count. Without a token file
 * nothing is authenticated and nothing is limited.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { peerAddress } from './input.js';
import type { RateLimiter } from './rate-limiter.js';

export interface AuthToken {
  name: string;
  /** SHA-256 of the token (what is compared). */
  digest: Buffer;
}

export const MIN_TOKEN_LENGTH = 32;
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/** Parse a token file's text. Throws with a message naming the bad line. */
export function parseTokenFile(text: string, source = 'token file'): AuthToken[] {
  const tokens: AuthToken[] = [];
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length > 2) throw new Error(`${source} line ${i + 1}: expected "[name] token"`);
    const [name, token] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['operator', parts[0]!];
    if (!NAME.test(name)) throw new Error(`${source} line ${i + 1}: invalid token name ${JSON.stringify(name)}`);
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new Error(`${source} line ${i + 1}: token shorter than ${MIN_TOKEN_LENGTH} characters`);
    }
    if (names.has(name)) throw new Error(`${source} line ${i + 1}: duplicate token name ${JSON.stringify(name)}`);
    names.add(name);
    tokens.push({ name, digest: sha256(token) });
  });
  if (tokens.length === 0) throw new Error(`${source} holds no token`);
  return tokens;
}

/** Read and parse the token file; warns when other users can read it. */
export function loadTokenFile(path: string, logger?: Logger): AuthToken[] {
  const text = readFileSync(path, 'utf8');
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) logger?.warn({ path, mode: mode.toString(8) }, 'RPC token file is readable by other users; chmod 600 it');
  return parseTokenFile(text, path);
}

/** First token of a token file's text (optionally the one named `name`): what a client sends. */
export function clientTokenFromFile(text: string, name?: string): string {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const [n, token] = parts.length >= 2 ? [parts[0], parts[1]] : ['operator', parts[0]];
    if (token !== undefined && (name === undefined || n === name)) return token;
  }
  throw new Error(name === undefined ? 'the token file holds no token' : `the token file has no token named ${name}`);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token name the `authorization` metadata authenticates, or null. Constant-time per token. */
export function authenticate(metadata: grpc.Metadata, tokens: readonly AuthToken[]): string | null {
  const values = metadata.get('authorization');
  if (values.length !== 1) return null;
  const header = values[0];
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m === null) return null;
  const digest = sha256(m[1]!);
  let found: string | null = null;
  for (const t of tokens) {
    if (timingSafeEqual(digest, t.digest) && found === null) found = t.name;
  }
  return found;
}

/** Who made an admitted call: `client` is the peer address; `who` is what the audit records. */
export interface Caller {
  client: string;
  who: string;
}

const TOO_MANY: Partial<grpc.StatusObject> = {
  code: grpc.status.RESOURCE_EXHAUSTED,
  details: 'Too many requests, try again later',
};
const NO_ADDRESS: Partial<grpc.StatusObject> = {
  code: grpc.status.INTERNAL,
  details: 'Unable to determine client address',
};
const UNAUTHENTICATED: Partial<grpc.StatusObject> = {
  code: grpc.status.UNAUTHENTICATED,
  details: 'missing or invalid bearer token (authorization: Bearer <token>)',
};

/** The gate every RPC of both services passes first. */
export class RpcGate {
  constructor(
    private readonly tokens: readonly AuthToken[] | null,
    private readonly limiter: RateLimiter,
    private readonly logger: Logger,
  ) {}

  get authRequired(): boolean {
    return this.tokens !== null;
  }

  /** Admit the call (returns its caller) or answer it with an error (returns null). */
  admit<Req, Res>(rpc: string, call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>): Caller | null {
    const client = peerAddress(call.getPeer());
    if (client === null) {
      cb(NO_ADDRESS);
      return null;
    }
    if (this.tokens === null) return { client, who: client };
    const name = authenticate(call.metadata, this.tokens);
    if (name !== null) return { client, who: `${name}@${client}` };
    const decision = this.limiter.check(client);
    if (!decision.allowed) {
      this.logger.warn({ rpc, client, reason: decision.reason }, 'rpc refused: too many failed authentications');
      cb(TOO_MANY);
      return null;
    }
    this.limiter.recordFailure(client);
    this.logger.warn({ rpc, client, failures: this.limiter.failures(client) }, 'rpc refused: missing or invalid bearer token');
    cb(UNAUTHENTICATED);
    return null;
  }
}
