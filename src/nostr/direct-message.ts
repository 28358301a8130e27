/**
 * Protocol v2 events (kind 14): build the node's messages, build client requests (tests and
 * benchmarks), and open a request with one ECDH (cached per author) and one NIP-44 decryption.
 *
 *   { kind: 14, pubkey: <sender>, tags: [["p", <recipient>], ["expiration", <t>]],
 *     content: NIP-44(sender ↔ recipient, `[Message, trade_sig|null, [identity, sig]|null]`) }
 */
import type { ConversationKeyCache } from '../crypto/conversation-key.js';
import { conversationKey } from '../crypto/conversation-key.js';
import { finalizeEvent, signWithId, type NostrEvent, type UnsignedEvent } from '../crypto/event.js';
import { getPublicKey, schnorrSign, sha256 } from '../crypto/secp.js';
import { identityProofPayload, PROTOCOL_VERSION_V2, serializeDirectContent } from '../protocol/tuple.js';
import { serializeMessage } from '../protocol/serialize.js';
import type { Message } from '../protocol/types.js';
import { nip44Decrypt, nip44Encrypt } from './nip44.js';
import { minePow } from './pow.js';
import { KIND_DIRECT_MESSAGE } from './transport.js';

/** A copy of `m` stamped with protocol version `version` (covered by any signature made after). */
export function withVersion(m: Message, version: number): Message {
  return m.kind.version === version ? m : { wrapper: m.wrapper, kind: { ...m.kind, version } };
}

export interface DirectMessageOptions {
  /** created_at (unix s) */
  now: number;
  /** NIP-40 expiration (unix s); omitted when undefined. */
  expiration?: number;
  /** NIP-13 difficulty mined on the event id (0 = none). */
  pow?: number;
  /** The node key's conversation keys (saves the ECDH for a recipient seen before). */
  convKeys?: ConversationKeyCache;
  /** Public key of `nodeSk` when already known. */
  nodePubkey?: string;
}

function finish(unsigned: UnsignedEvent, sk: Uint8Array, pow: number): NostrEvent {
  if (pow > 0) return signWithId(minePow(unsigned, pow), sk, true);
  return finalizeEvent(unsigned, sk, unsigned.pubkey);
}

/**
 * A node message on protocol v2: kind 14 signed by the node key, content
 * `[message(version 2), null, null]` (node messages are unsigned, as on v1), `p` = recipient.
 */
export function buildDirectMessage(message: Message, recipient: string, nodeSk: Uint8Array, opts: DirectMessageOptions): NostrEvent {
  const key = opts.convKeys !== undefined ? opts.convKeys.get(recipient) : conversationKey(nodeSk, recipient);
  const content = nip44Encrypt(serializeDirectContent(withVersion(message, PROTOCOL_VERSION_V2), null, null), key);
  const tags: string[][] = [['p', recipient]];
  if (opts.expiration !== undefined) tags.push(['expiration', String(opts.expiration)]);
  const unsigned: UnsignedEvent = {
    pubkey: opts.nodePubkey ?? getPublicKey(nodeSk),
    created_at: opts.now,
    kind: KIND_DIRECT_MESSAGE,
    tags,
    content,
  };
  return finish(unsigned, nodeSk, opts.pow ?? 0);
}

export interface DirectRequestOptions {
  /** Sent with version 2, as mostro-core ≥ 0.13 builds it. */
  message: Message;
  /** Trade key: authors and signs the event, signs the message (reputation mode). */
  tradeSk: Uint8Array;
  /** Identity key: adds the identity proof. Omit (or pass tradeSk) for full privacy. */
  identitySk?: Uint8Array;
  /** The Mostro node pubkey. */
  recipient: string;
  now: number;
  expiration?: number;
  pow?: number;
  /** 'auto' (default): signed in reputation mode, null in full privacy; or as given (negative tests). */
  signature?: 'auto' | string | null;
  /** Replace the identity proof (negative tests); 'auto' (default) computes it. */
  identityProof?: 'auto' | { pubkey: string; signature: string } | null;
  /** Replace the plaintext entirely (negative tests). */
  rawContent?: string;
  /** Replace the `p` tag value (negative tests). */
  pTag?: string;
}

/** A client request as a mostro-core 0.14 client builds it (for tests and benchmarks). */
export function buildDirectRequest(o: DirectRequestOptions): NostrEvent {
  const tradePk = getPublicKey(o.tradeSk);
  const identitySk = o.identitySk ?? o.tradeSk;
  const identityPk = getPublicKey(identitySk);
  const fullPrivacy = identityPk === tradePk;
  // mostro-core ≥ 0.13 stamps every message it builds with PROTOCOL_VER = 2.
  const message = withVersion(o.message, PROTOCOL_VERSION_V2);
  const json = serializeMessage(message);
  const sig =
    o.signature === undefined || o.signature === 'auto'
      ? fullPrivacy
        ? null
        : schnorrSign(sha256(json), o.tradeSk)
      : o.signature;
  const proof =
    o.identityProof === undefined || o.identityProof === 'auto'
      ? fullPrivacy
        ? null
        : { pubkey: identityPk, signature: schnorrSign(sha256(identityProofPayload(tradePk, json)), identitySk) }
      : o.identityProof;
  const plaintext = o.rawContent ?? serializeDirectContent(message, sig, proof);
  const tags: string[][] = [['p', o.pTag ?? o.recipient]];
  if (o.expiration !== undefined) tags.push(['expiration', String(o.expiration)]);
  const unsigned: UnsignedEvent = {
    pubkey: tradePk,
    created_at: o.now,
    kind: KIND_DIRECT_MESSAGE,
    tags,
    content: nip44Encrypt(plaintext, conversationKey(o.tradeSk, o.recipient)),
  };
  return finish(unsigned, o.tradeSk, o.pow ?? 0);
}

export type OpenDirectResult = { ok: true; plaintext: string } | { ok: false; error: string };

/**
 * Decrypt a kind-14 event addressed to `nodeSk` (the caller checked kind, `p` and id; the intake
 * verifies the signature after this, so undecryptable junk costs one ECDH and no Schnorr check).
 */
export function openDirectMessage(event: NostrEvent, nodeSk: Uint8Array, convKeys?: ConversationKeyCache): OpenDirectResult {
  try {
    const plaintext =
      convKeys !== undefined
        ? convKeys.use(event.pubkey, (key) => nip44Decrypt(event.content, key))
        : nip44Decrypt(event.content, conversationKey(nodeSk, event.pubkey));
    return { ok: true, plaintext };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
