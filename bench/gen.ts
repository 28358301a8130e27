/**
 * Traffic for the benchmarks, built with the daemon's own crypto: Mostro client requests (real
 * gift wraps, reputation mode: identity-sealed, trade-key rumor, tuple signature) and junk events.
 * Pure functions; run in worker threads by bench/gen-worker.ts.
 */
import { randomBytes } from 'node:crypto';
import { conversationKey } from '../src/crypto/conversation-key.js';
import { finalizeEvent, signWithId, type NostrEvent, type UnsignedEvent } from '../src/crypto/event.js';
import { bytesToHex, generateSecretKey, getPublicKey, hexToBytes, schnorrSign, sha256 } from '../src/crypto/secp.js';
import { buildDirectRequest, withVersion } from '../src/nostr/direct-message.js';
import { wrapRequest } from '../src/nostr/gift-wrap.js';
import { nip44Encrypt } from '../src/nostr/nip44.js';
import { leadingZeroBits, minePow } from '../src/nostr/pow.js';
import { KIND_DIRECT_MESSAGE } from '../src/nostr/transport.js';
import { buildMessage } from '../src/protocol/build.js';
import { identityProofPayload, PROTOCOL_VERSION_V2, serializeDirectContent } from '../src/protocol/direct.js';
import { serializeMessage } from '../src/protocol/serialize.js';
import type { Message } from '../src/protocol/types.js';

/** A new-order request for a fixed-amount sell order (no price lookup needed by the daemon). */
export function newOrderMessage(tradeIndex: number, requestId: number): Message {
  return buildMessage({
    action: 'new-order',
    requestId: BigInt(requestId),
    tradeIndex: BigInt(tradeIndex),
    payload: {
      order: {
        kind: 'sell',
        status: 'pending',
        amount: 20_000n,
        fiat_code: 'USD',
        min_amount: null,
        max_amount: null,
        fiat_amount: 20n,
        payment_method: 'bank transfer,face to face',
        premium: 0n,
        created_at: 0n,
        expires_at: null,
      },
    },
  });
}

export interface TraderSpec {
  identitySkHex: string;
  /** first trade index to use (the next ones follow) */
  firstIndex: number;
  count: number;
}

export interface GeneratedRequest {
  /** the EVENT frame as sent to the relay */
  frame: string;
  wrapId: string;
  /** the trade key the reply will be addressed to */
  tradePubkey: string;
  tradeSkHex: string;
}

/**
 * `count` consecutive new-order requests of one trader, each from a fresh trade key: gift wraps
 * (v1), or protocol-v2 kind-14 events (trade_sig + identity proof, NIP-44 to the node).
 */
export function generateRequests(
  t: TraderSpec,
  nodePubkey: string,
  pow: number,
  rumorCreatedAt: number,
  transport: 'v1' | 'v2' = 'v1',
): GeneratedRequest[] {
  const identitySk = hexToBytes(t.identitySkHex);
  const out: GeneratedRequest[] = [];
  for (let i = 0; i < t.count; i++) {
    const tradeSk = generateSecretKey();
    const index = t.firstIndex + i;
    const request = { message: newOrderMessage(index, index), tradeSk, identitySk, recipient: nodePubkey, now: rumorCreatedAt, pow };
    const wrap = transport === 'v2' ? buildDirectRequest(request) : wrapRequest(request);
    out.push({ frame: JSON.stringify(['EVENT', wrap]), wrapId: wrap.id, tradePubkey: getPublicKey(tradeSk), tradeSkHex: bytesToHex(tradeSk) });
  }
  return out;
}

export type JunkType = 'malformed' | 'bad-pow' | 'bad-sig' | 'garbage';
export const JUNK_TYPES: readonly JunkType[] = ['malformed', 'bad-pow', 'bad-sig', 'garbage'];
/** The kind-14 junk mix of the v2 flood: the gates a key-less attacker fails (no ECDH reached). */
export const V2_JUNK_TYPES: readonly JunkType[] = ['malformed', 'bad-pow', 'bad-sig'];

function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}

/**
 * Junk addressed to the node (`kind` 1059 by default, or 14 for protocol v2; `p` = node), each
 * event distinct:
 * - malformed: not a valid event shape (short sig, string created_at) — dropped by shape checks;
 * - bad-pow: correctly signed, id without the required PoW;
 * - bad-sig: PoW mined on a correct id, random signature;
 * - garbage: PoW and signature valid, content is random bytes (fails NIP-44 after the ECDH).
 */
export function generateJunk(type: JunkType, count: number, nodePubkey: string, pow: number, createdAt: number, kind = 1059): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const sk = type === 'malformed' ? new Uint8Array(32) : generateSecretKey();
    const pubkey = type === 'malformed' ? bytesToHex(randomBytes(32)) : getPublicKey(sk);
    const base: UnsignedEvent = {
      pubkey,
      created_at: createdAt - (i % 3600),
      kind,
      tags: [['p', nodePubkey]],
      content: randomBase64(type === 'malformed' || type === 'bad-pow' ? 1500 : 300),
    };
    let ev: NostrEvent | Record<string, unknown>;
    if (type === 'malformed') {
      ev = { ...base, id: bytesToHex(randomBytes(32)), sig: 'deadbeef', created_at: String(base.created_at) };
    } else if (type === 'bad-pow') {
      let e = finalizeEvent(base, sk, pubkey);
      for (let back = 1; pow > 0 && leadingZeroBits(e.id) >= pow; back++) e = finalizeEvent({ ...base, created_at: base.created_at - back }, sk, pubkey);
      ev = e;
    } else if (type === 'bad-sig') {
      const mined = minePow(base, pow);
      ev = { ...mined, sig: bytesToHex(randomBytes(64)) };
    } else {
      ev = signWithId(minePow(base, pow), sk, true);
    }
    out.push(JSON.stringify(['EVENT', ev]));
  }
  return out;
}

/**
 * A protocol-v2 flood from ONE key: `count` distinct kind-14 events authored by the trade key
 * `tradeSkHex`, each with the PoW, a valid signature and NIP-44 content the node can open — the same
 * well-formed `new-order` (reputation mode: trade_sig and identity proof by `identitySkHex`, trade
 * index 1) under a fresh nonce each time. The node accepts the first one it processes (that makes the
 * key a known trade key); every later one fails the trade-index gate (index 1 already used) and is
 * answered `cant-do invalid_trade_index`. Only the author, created_at and `p` are visible before
 * decryption, so the author is the one handle the node has on this flood.
 */
export function generateOneKeyFlood(count: number, nodePubkey: string, pow: number, createdAt: number, tradeSkHex: string, identitySkHex: string): string[] {
  const tradeSk = hexToBytes(tradeSkHex);
  const identitySk = hexToBytes(identitySkHex);
  const tradePk = getPublicKey(tradeSk);
  const message = withVersion(newOrderMessage(1, 1), PROTOCOL_VERSION_V2);
  const json = serializeMessage(message);
  const sig = schnorrSign(sha256(json), tradeSk);
  const proof = { pubkey: getPublicKey(identitySk), signature: schnorrSign(sha256(identityProofPayload(tradePk, json)), identitySk) };
  const plaintext = serializeDirectContent(message, sig, proof);
  const key = conversationKey(tradeSk, nodePubkey);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const unsigned: UnsignedEvent = { pubkey: tradePk, created_at: createdAt, kind: KIND_DIRECT_MESSAGE, tags: [['p', nodePubkey]], content: nip44Encrypt(plaintext, key) };
    const ev = pow > 0 ? signWithId(minePow(unsigned, pow), tradeSk, true) : finalizeEvent(unsigned, tradeSk, tradePk);
    out.push(JSON.stringify(['EVENT', ev]));
  }
  return out;
}
