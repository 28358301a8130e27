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
import { parseJsonArrayWithSpans } from './json.js';
import { parseMessage } from './parse.js';
import { serializeMessage } from './serialize.js';
import { identityProofPayload, parseIdentityProof, parseSignature, type IdentityProof } from './tuple.js';
import type { RumorContent } from './types.js';

// The zod-free half of the v2 wire lives in tuple.ts (the crypto worker thread loads it without
// the Message schema); re-exported here for the modules that speak v2.
export { identityProofPayload, PROTOCOL_VERSION_V2, serializeDirectContent } from './tuple.js';

/** Parsed v2 content: the v1 fields plus the identity proof (null in full privacy). */
export interface DirectContent extends RumorContent {
  identityProof: IdentityProof;
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
