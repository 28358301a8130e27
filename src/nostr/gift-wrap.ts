/**
 * NIP-59 gift wraps as Mostro uses them (PROTOCOL.md §2.2, §2.5).
 *
 *   kind 1059 wrap   — fresh ephemeral key, NIP-44(ephemeral, recipient) of the seal, ["p", recipient]
 *   └ kind 13 seal   — signed by the sender's identity key (reputation) or trade key (full privacy)
 *     └ rumor        — unsigned; pubkey = trade key; content = `[Message, sig | null]`
 *
 * Unlike nostr-tools' nip59, the unwrap accepts seal.pubkey ≠ rumor.pubkey (Mostro's key split)
 * and never throws: it returns a typed result.
 */
import { randomInt } from 'node:crypto';
import type { ConversationKeyCache } from '../crypto/conversation-key.js';
import { conversationKey } from '../crypto/conversation-key.js';
import {
  finalizeEvent,
  getEventHash,
  isNostrEventShape,
  isUnsignedEventShape,
  signWithId,
  verifyEvent,
  type NostrEvent,
  type UnsignedEvent,
} from '../crypto/event.js';
import { generateSecretKey, getPublicKey } from '../crypto/secp.js';
import { serializeRumorContent } from '../protocol/serialize.js';
import { signMessage } from '../protocol/signature.js';
import type { Message } from '../protocol/types.js';
import { nip44Decrypt, nip44Encrypt } from './nip44.js';
import { minePow } from './pow.js';

export const KIND_GIFT_WRAP = 1059;
export const KIND_SEAL = 13;
export const KIND_RUMOR = 1;
/** NIP-59 timestamp blur: wraps and seals are back-dated by up to two days. */
export const TIMESTAMP_BLUR_SECONDS = 2 * 24 * 60 * 60;

/** An unsigned inner event; `id` is optional and never trusted (0.17.1 does not check it). */
export type Rumor = UnsignedEvent & { id?: string };

export interface UnwrappedGift {
  wrap: NostrEvent;
  seal: NostrEvent;
  rumor: Rumor;
  /** seal.pubkey: the identity key (reputation mode) or the trade key (full privacy). */
  identity: string;
  /** rumor.pubkey: the trade key replies go to. */
  tradeKey: string;
}

export type UnwrapStage =
  | 'wrap-decrypt' // not for us, or corrupted
  | 'seal-json'
  | 'seal-kind'
  | 'seal-signature'
  | 'seal-decrypt'
  | 'rumor-json';

export type UnwrapResult = { ok: true; gift: UnwrappedGift } | { ok: false; stage: UnwrapStage; error: string };

function parseJsonSafe(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The wrap layer alone: decrypt the wrap's content (one ECDH with its ephemeral key, one NIP-44
 * decryption) to the seal's JSON text. Nothing about the wrap but its content and pubkey is used,
 * so the intake runs this before the wrap's signature check: content not encrypted to the node
 * fails here at the cost of one ECDH.
 */
export function openWrapLayer(wrap: NostrEvent, recipientSk: Uint8Array): { ok: true; sealText: string } | { ok: false; stage: UnwrapStage; error: string } {
  try {
    return { ok: true, sealText: nip44Decrypt(wrap.content, conversationKey(recipientSk, wrap.pubkey)) };
  } catch (err) {
    return { ok: false, stage: 'wrap-decrypt', error: errorText(err) };
  }
}

/**
 * The seal layer, from the wrap's decrypted content: seal shape, kind 13 and signature, then the
 * rumor (seal-layer conversation key cached per seal author once it decrypted).
 */
export function openSealLayer(wrap: NostrEvent, sealText: string, recipientSk: Uint8Array, sealKeys?: ConversationKeyCache): UnwrapResult {
  const seal = parseJsonSafe(sealText);
  if (!isNostrEventShape(seal)) return { ok: false, stage: 'seal-json', error: 'seal is not a signed event' };
  if (seal.kind !== KIND_SEAL) return { ok: false, stage: 'seal-kind', error: `seal kind ${seal.kind}` };
  if (!verifyEvent(seal)) return { ok: false, stage: 'seal-signature', error: 'seal id or signature invalid' };
  let rumorText: string;
  try {
    rumorText =
      sealKeys !== undefined
        ? sealKeys.use(seal.pubkey, (key) => nip44Decrypt(seal.content, key))
        : nip44Decrypt(seal.content, conversationKey(recipientSk, seal.pubkey));
  } catch (err) {
    return { ok: false, stage: 'seal-decrypt', error: errorText(err) };
  }
  const rumor = parseJsonSafe(rumorText);
  if (!isUnsignedEventShape(rumor)) return { ok: false, stage: 'rumor-json', error: 'rumor is not an event' };
  return { ok: true, gift: { wrap, seal, rumor, identity: seal.pubkey, tradeKey: rumor.pubkey } };
}

/**
 * Open a gift wrap addressed to `recipientSk` (both layers). The wrap's own signature is not
 * checked here (the intake checks it). `sealKeys`, if given, must be a cache for the same `recipientSk`.
 */
export function unwrapGiftWrap(wrap: NostrEvent, recipientSk: Uint8Array, sealKeys?: ConversationKeyCache): UnwrapResult {
  const outer = openWrapLayer(wrap, recipientSk);
  if (!outer.ok) return outer;
  return openSealLayer(wrap, outer.sealText, recipientSk, sealKeys);
}

export interface WrapOptions {
  /** Current unix time (s): the rumor's created_at unless the rumor has one. */
  now: number;
  /** NIP-13 difficulty to mine on the outer wrap (0 = none). */
  pow?: number;
  /** NIP-40 expiration tag on the wrap. */
  expiration?: number;
  /** Blur source; default crypto.randomInt over 0..TIMESTAMP_BLUR_SECONDS. */
  blur?: () => number;
  /** Seal-layer conversation keys of `sealSk` (saves one ECDH per message to a known peer). */
  sealKeys?: ConversationKeyCache;
}

function defaultBlur(): number {
  return randomInt(0, TIMESTAMP_BLUR_SECONDS + 1);
}

/** Seal `rumor` with `sealSk` and wrap it to `recipient` with a fresh ephemeral key. */
export function buildGiftWrap(
  rumor: Rumor,
  sealSk: Uint8Array,
  recipient: string,
  opts: WrapOptions & { sealPubkey?: string },
): NostrEvent {
  const blur = opts.blur ?? defaultBlur;
  const inner: Rumor = { ...rumor, id: getEventHash(rumor) };
  const sealKey = opts.sealKeys !== undefined ? opts.sealKeys.get(recipient) : conversationKey(sealSk, recipient);
  const seal = finalizeEvent(
    { kind: KIND_SEAL, created_at: opts.now - blur(), tags: [], content: nip44Encrypt(JSON.stringify(inner), sealKey) },
    sealSk,
    opts.sealPubkey,
  );
  const ephemeral = generateSecretKey();
  const ephemeralPk = getPublicKey(ephemeral);
  const tags: string[][] = [['p', recipient]];
  if (opts.expiration !== undefined) tags.push(['expiration', String(opts.expiration)]);
  const unsigned: UnsignedEvent = {
    pubkey: ephemeralPk,
    created_at: opts.now - blur(),
    kind: KIND_GIFT_WRAP,
    tags,
    content: nip44Encrypt(JSON.stringify(seal), conversationKey(ephemeral, recipient)),
  };
  const pow = opts.pow ?? 0;
  if (pow > 0) return signWithId(minePow(unsigned, pow), ephemeral, true);
  return finalizeEvent(unsigned, ephemeral, ephemeralPk);
}

/**
 * A node reply (PROTOCOL.md §2.5): rumor kind 1 authored by the node key with content
 * `[message, null]`, sealed by the node key, wrapped to `recipient`.
 */
export function wrapMessage(
  message: Message,
  recipient: string,
  nodeSk: Uint8Array,
  opts: WrapOptions & { nodePubkey?: string },
): NostrEvent {
  const nodePubkey = opts.nodePubkey ?? getPublicKey(nodeSk);
  const rumor: Rumor = {
    pubkey: nodePubkey,
    created_at: opts.now,
    kind: KIND_RUMOR,
    tags: [],
    content: serializeRumorContent(message, null),
  };
  return buildGiftWrap(rumor, nodeSk, recipient, { ...opts, sealPubkey: nodePubkey });
}

export interface WrapRequestOptions extends WrapOptions {
  message: Message;
  /** Trade key: authors the rumor and (reputation mode) signs the tuple. */
  tradeSk: Uint8Array;
  /** Identity key: signs the seal. Omit (or pass tradeSk) for full privacy. */
  identitySk?: Uint8Array;
  /** The Mostro node pubkey. */
  recipient: string;
  /**
   * Tuple signature: 'auto' (default) signs with the trade key in reputation mode and sends null
   * in full privacy; a string or null is sent as given (for negative tests).
   */
  signature?: 'auto' | string | null;
  /** Replace the rumor content entirely (negative tests). */
  rawContent?: string;
  /** Rumor created_at (default `now`). */
  rumorCreatedAt?: number;
}

/** A client request as mostro-cli / the mobile app build it (for tests and benchmarks). */
export function wrapRequest(opts: WrapRequestOptions): NostrEvent {
  const sealSk = opts.identitySk ?? opts.tradeSk;
  const tradePk = getPublicKey(opts.tradeSk);
  const sealPk = getPublicKey(sealSk);
  const fullPrivacy = sealPk === tradePk;
  const sig =
    opts.signature === undefined || opts.signature === 'auto'
      ? fullPrivacy
        ? null
        : signMessage(opts.message, opts.tradeSk)
      : opts.signature;
  const rumor: Rumor = {
    pubkey: tradePk,
    created_at: opts.rumorCreatedAt ?? opts.now,
    kind: KIND_RUMOR,
    tags: [],
    content: opts.rawContent ?? serializeRumorContent(opts.message, sig),
  };
  return buildGiftWrap(rumor, sealSk, opts.recipient, { ...opts, sealPubkey: sealPk });
}
