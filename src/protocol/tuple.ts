/**
 * The request tuple around the Message, without the Message itself:
 *
 *   v1 rumor content   [Message, sig | null]
 *   v2 kind-14 text    [Message, trade_sig | null, [identity_pubkey, identity_sig] | null]
 *
 * The signature and identity-proof elements, the raw text of the Message as sent (the span the
 * signatures may be over, found by a scan), the v2 serialization and the identity-proof payload. Nothing here needs
 * the Message schema (schema.ts, zod): this is what the crypto worker thread (nostr/crypto-tasks.ts)
 * uses to check the tuple's signatures, while the Message is parsed on the event-loop thread
 * (parse.ts, direct.ts). Pure: no I/O.
 */
import { ProtocolError } from './errors.js';
import type { JsonValue } from './json.js';
import { serializeMessage } from './serialize.js';
import type { Message } from './types.js';

/** Protocol version carried in `Message.version` on the v2 transport. */
export const PROTOCOL_VERSION_V2 = 2;

const SIGNATURE_HEX = /^[0-9a-fA-F]{128}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

/** The v2 identity proof: the identity key and its signature (null in full privacy). */
export type IdentityProof = { pubkey: string; signature: string } | null;

/**
 * Parse a signature element: null, or a 64-byte hex string (secp256k1's `schnorr::Signature`
 * `FromStr`: exactly 128 hex digits, either case). Returned lowercase.
 */
export function parseSignature(value: JsonValue): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !SIGNATURE_HEX.test(value)) {
    throw new ProtocolError('signature must be null or 128 hex characters', '[1]');
  }
  return value.toLowerCase();
}

/** Parse the v2 identity-proof element: null, or `[pubkey (64 hex), signature (128 hex)]`. Lowercase. */
export function parseIdentityProof(v: JsonValue): IdentityProof {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length !== 2) throw new ProtocolError('identity proof must be null or a 2-element array', '[2]');
  const [pk, sig] = v;
  if (typeof pk !== 'string' || !HEX64.test(pk)) throw new ProtocolError('identity pubkey must be 64 hex characters', '[2][0]');
  if (typeof sig !== 'string' || !SIGNATURE_HEX.test(sig)) throw new ProtocolError('identity signature must be 128 hex characters', '[2][1]');
  return { pubkey: pk.toLowerCase(), signature: sig.toLowerCase() };
}

/** A tuple's elements other than the Message, and where the Message's raw text is. */
export interface TupleParts {
  /** The Message's text as sent: `text.slice(start, end)`. */
  start: number;
  end: number;
  signature: string | null;
  /** v2 only (always null for a 2-element tuple). */
  identityProof: IdentityProof;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(t: string, i: number): number {
  while (i < t.length && isWs(t.charCodeAt(i))) i++;
  return i;
}

/** Index past the string whose opening quote is at `i`, or -1. */
function stringEnd(t: string, i: number): number {
  for (let j = i + 1; j < t.length; j++) {
    const c = t.charCodeAt(j);
    if (c === 0x5c /* \ */) j++;
    else if (c === 0x22 /* " */) return j + 1;
  }
  return -1;
}

/** Index past the JSON value starting at `i` (scanned, not validated), or -1. */
function valueEnd(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === 0x22) return stringEnd(t, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    for (let j = i; j < t.length; j++) {
      const d = t.charCodeAt(j);
      if (d === 0x22) {
        const e = stringEnd(t, j);
        if (e < 0) return -1;
        j = e - 1;
      } else if (d === 0x7b || d === 0x5b) {
        depth++;
      } else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < t.length) {
    const d = t.charCodeAt(j);
    if (d === 0x2c || d === 0x5d || d === 0x7d || isWs(d)) break;
    j++;
  }
  return j === i ? -1 : j;
}

/**
 * Find a v1 (`arity` 2) or v2 (`arity` 3) tuple's parts with a scan, not a parse (a few µs: the
 * Message is not parsed, nor even validated as JSON). For every text parseRumorContent /
 * parseDirectContent accept it gives their rawMessageText, signature and identity proof; for other
 * text it may give anything or null — those are refused by the parse gate whatever their
 * signatures. (The crypto worker uses it to check signatures over the raw text; the event-loop
 * thread checks its parsed rawMessageText is the text that was checked: complete-open.ts.)
 */
export function scanTuple(text: string, arity: 2 | 3): TupleParts | null {
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== 0x5b) return null;
  const spans: Array<[number, number]> = [];
  i = skipWs(text, i + 1);
  for (;;) {
    const end = valueEnd(text, i);
    if (end < 0) return null;
    spans.push([i, end]);
    i = skipWs(text, end);
    const c = text.charCodeAt(i);
    if (c === 0x5d /* ] */) break;
    if (c !== 0x2c /* , */ || spans.length >= arity) return null;
    i = skipWs(text, i + 1);
  }
  if (spans.length !== arity || skipWs(text, i + 1) !== text.length) return null;
  const element = (k: number): JsonValue => {
    const [a, b] = spans[k]!;
    return JSON.parse(text.slice(a, b)) as JsonValue;
  };
  try {
    const [start, end] = spans[0]!;
    return { start, end, signature: parseSignature(element(1)), identityProof: arity === 3 ? parseIdentityProof(element(2)) : null };
  } catch {
    return null;
  }
}

/** Serialize v2 plaintext. The node's own messages are `[message, null, null]`. */
export function serializeDirectContent(m: Message, signature: string | null, identityProof: IdentityProof): string {
  const sig = signature === null ? 'null' : JSON.stringify(signature);
  const proof = identityProof === null ? 'null' : `[${JSON.stringify(identityProof.pubkey)},${JSON.stringify(identityProof.signature)}]`;
  return `[${serializeMessage(m)},${sig},${proof}]`;
}

/** The text the identity key signs: `mostro-transport-v2-identity:<trade_pubkey>:<message_json>`. */
export function identityProofPayload(tradePubkey: string, messageJson: string): string {
  return `mostro-transport-v2-identity:${tradePubkey.toLowerCase()}:${messageJson}`;
}
