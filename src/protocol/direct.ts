/**
 * Protocol v2 content (mostro-core 0.14 `transport`): the NIP-44 plaintext of a kind-14 event is
 *
 *   [Message, trade_sig | null, [identity_pubkey, identity_sig] | null]
 *
 * `trade_sig` is the usual tuple signature (signature.ts) by the event author (the trade key) over
 * the Message JSON; `identity_sig` is the identity key's signature, same scheme, over the
 * domain-tagged payload `mostro-transport-v2-identity:<trade_pubkey_hex>:<message_json>`, which
 * binds the proof to the trade key that authored the event. A null third element is full privacy
 * (identity = trade key). Pure: no I/O.
 */
import { schnorrVerify, sha256 } from '../crypto/secp.js';
import { ProtocolError } from './errors.js';
import { parseJsonArrayWithSpans, type JsonValue } from './json.js';
import { parseMessage, parseSignature } from './parse.js';
import { serializeMessage } from './serialize.js';
import type { Message, RumorContent } from './types.js';

/** Protocol version carried in `Message.version` on the v2 transport. */
export const PROTOCOL_VERSION_V2 = 2;

const HEX64 = /^[0-9a-fA-F]{64}$/;
const HEX128 = /^[0-9a-fA-F]{128}$/;

/** Parsed v2 content: the v1 fields plus the identity proof (null in full privacy). */
export interface DirectContent extends RumorContent {
  identityProof: { pubkey: string; signature: string } | null;
}

function parseIdentityProof(v: JsonValue): DirectContent['identityProof'] {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length !== 2) throw new ProtocolError('identity proof must be null or a 2-element array', '[2]');
  const [pk, sig] = v;
  if (typeof pk !== 'string' || !HEX64.test(pk)) throw new ProtocolError('identity pubkey must be 64 hex characters', '[2][0]');
  if (typeof sig !== 'string' || !HEX128.test(sig)) throw new ProtocolError('identity signature must be 128 hex characters', '[2][1]');
  return { pubkey: pk.toLowerCase(), signature: sig.toLowerCase() };
}

/** Parse v2 plaintext: exactly `[Message, sig | null, [pubkey, sig] | null]`. Throws ProtocolError. */
export function parseDirectContent(text: string): DirectContent {
  const { elements, spans } = parseJsonArrayWithSpans(text);
  if (elements.length !== 3) throw new ProtocolError(`v2 content must be a 3-element array, found ${elements.length}`);
  const message = parseMessage(elements[0]!);
  const signature = parseSignature(elements[1]!);
  const identityProof = parseIdentityProof(elements[2]!);
  const span = spans[0]!;
  return { message, signature, identityProof, rawMessageText: text.slice(span.start, span.end) };
}

/** Serialize v2 plaintext. The node's own messages are `[message, null, null]`. */
export function serializeDirectContent(
  m: Message,
  signature: string | null,
  identityProof: { pubkey: string; signature: string } | null,
): string {
  const sig = signature === null ? 'null' : JSON.stringify(signature);
  const proof = identityProof === null ? 'null' : `[${JSON.stringify(identityProof.pubkey)},${JSON.stringify(identityProof.signature)}]`;
  return `[${serializeMessage(m)},${sig},${proof}]`;
}

/** The text the identity key signs: `mostro-transport-v2-identity:<trade_pubkey>:<message_json>`. */
export function identityProofPayload(tradePubkey: string, messageJson: string): string {
  return `mostro-transport-v2-identity:${tradePubkey.toLowerCase()}:${messageJson}`;
}

/**
 * Verify an identity proof against the event author `tradePubkey`: over the canonical message JSON
 * (what mostro-core 0.14 recomputes), or over the raw message text as sent when that differs —
 * the same leniency as the v1 tuple signature. Never throws.
 */
export function verifyIdentityProof(content: DirectContent, tradePubkey: string): boolean {
  const proof = content.identityProof;
  if (proof === null) return true;
  const canonical = serializeMessage(content.message);
  if (schnorrVerify(proof.signature, sha256(identityProofPayload(tradePubkey, canonical)), proof.pubkey)) return true;
  if (content.rawMessageText === canonical) return false;
  return schnorrVerify(proof.signature, sha256(identityProofPayload(tradePubkey, content.rawMessageText)), proof.pubkey);
}
