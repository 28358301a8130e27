/**
 * NIP-01 events: id computation, signing and verification on the fast secp backend.
 */
import { getPublicKey, isHex128, isHex64, schnorrSign, schnorrVerify, sha256, sha256Hex, hexToBytes } from './secp.js';

/** A signed Nostr event (NIP-01). */
export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

/** An event without id/sig (the rumor of NIP-59 has an id but no sig). */
export interface UnsignedEvent {
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
}

/** Everything but the author; `finalizeEvent` fills pubkey, id and sig. */
export interface EventDraft {
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
}

/** The NIP-01 serialization whose SHA-256 is the event id. */
export function serializeForId(e: UnsignedEvent): string {
  return JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content]);
}

export function getEventHash(e: UnsignedEvent): string {
  return sha256Hex(serializeForId(e));
}

/**
 * Sign `draft` with `secretKey`: sets pubkey, id and sig. `pubkey` may be passed when the caller
 * already derived it (saves one scalar multiplication); it must belong to `secretKey`.
 */
export function finalizeEvent(draft: EventDraft, secretKey: Uint8Array, pubkey?: string): NostrEvent {
  const unsigned: UnsignedEvent = {
    pubkey: pubkey ?? getPublicKey(secretKey),
    created_at: draft.created_at,
    kind: draft.kind,
    tags: draft.tags,
    content: draft.content,
  };
  const id = getEventHash(unsigned);
  const sig = schnorrSign(hexToBytes(id), secretKey);
  return { id, ...unsigned, sig };
}

/**
 * Sign an event whose id was already computed (e.g. mined for PoW); the id is re-checked, and so
 * is the key unless `trustedPubkey` says the caller derived e.pubkey from this very key.
 */
export function signWithId(e: UnsignedEvent & { id: string }, secretKey: Uint8Array, trustedPubkey = false): NostrEvent {
  const unsigned: UnsignedEvent = {
    pubkey: e.pubkey,
    created_at: e.created_at,
    kind: e.kind,
    tags: e.tags,
    content: e.content,
  };
  if (!trustedPubkey && getPublicKey(secretKey) !== e.pubkey) throw new Error('secret key does not match event pubkey');
  const id = getEventHash(unsigned);
  if (id !== e.id) throw new Error('event id does not match its content');
  return { id, ...unsigned, sig: schnorrSign(hexToBytes(id), secretKey) };
}

function isTags(v: unknown): v is string[][] {
  if (!Array.isArray(v)) return false;
  for (const t of v) {
    if (!Array.isArray(t)) return false;
    for (const s of t) if (typeof s !== 'string') return false;
  }
  return true;
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Shape check of an untrusted value as a signed event (types and hex formats only). */
export function isNostrEventShape(v: unknown): v is NostrEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return (
    isHex64(e['id']) &&
    isHex64(e['pubkey']) &&
    isHex128(e['sig']) &&
    isUint(e['created_at']) &&
    isUint(e['kind']) &&
    typeof e['content'] === 'string' &&
    isTags(e['tags'])
  );
}

/** Shape check of an untrusted value as an unsigned event (the rumor); id/sig not required. */
export function isUnsignedEventShape(v: unknown): v is UnsignedEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return (
    isHex64(e['pubkey']) &&
    isUint(e['created_at']) &&
    isUint(e['kind']) &&
    typeof e['content'] === 'string' &&
    isTags(e['tags'])
  );
}

/** Full NIP-01 check: shape, id = sha256(serialization), valid BIP-340 signature. Never throws. */
export function verifyEvent(v: unknown): v is NostrEvent {
  if (!isNostrEventShape(v)) return false;
  const digest = sha256(serializeForId(v));
  if (!idMatches(v.id, digest)) return false;
  return schnorrVerify(v.sig, digest, v.pubkey);
}

/**
 * The first half of verifyEvent: shape and id = sha256(serialization), no signature (one hash,
 * about a hundredth of a Schnorr verification). Never throws.
 */
export function checkEventId(v: unknown): v is NostrEvent {
  if (!isNostrEventShape(v)) return false;
  return idMatches(v.id, sha256(serializeForId(v)));
}

/**
 * The second half: the BIP-340 signature over the id, for an event that passed checkEventId
 * (checkEventId then verifyEventSignature accept exactly what verifyEvent accepts). Never throws.
 */
export function verifyEventSignature(e: NostrEvent): boolean {
  return schnorrVerify(e.sig, hexToBytes(e.id), e.pubkey);
}

/** Compare the claimed hex id with the computed digest without allocating a second hex string. */
function idMatches(idHex: string, digest: Uint8Array): boolean {
  const claimed = hexToBytes(idHex);
  if (claimed.length !== digest.length) return false;
  for (let i = 0; i < claimed.length; i++) if (claimed[i] !== digest[i]) return false;
  return true;
}
