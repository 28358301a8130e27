/**
 * The intake gates that run in the crypto worker thread (crypto-tasks.ts): event id and signature,
 * the decryptions (wrap and seal layers, kind-14 NIP-44), freshness, the first-contact PoW, and the
 * tuple's signatures checked over the raw message text. Nothing here loads the Message schema
 * (zod): the parse gate and the verdicts that need the parsed Message (tuple signature, identity
 * proof) are taken on the event-loop thread (complete-open.ts, intake-gates.ts), with what the
 * worker found. intake-gates.ts re-exports these; the order they run in is described there.
 */
import type { ConversationKeyCache } from '../crypto/conversation-key.js';
import { checkEventId, verifyEventSignature, type NostrEvent } from '../crypto/event.js';
import { schnorrVerify, sha256 } from '../crypto/secp.js';
import { identityProofPayload, scanTuple } from '../protocol/tuple.js';
import { openDirectMessage } from './direct-message.js';
import { openSealLayer, openWrapLayer, type UnwrappedGift } from './gift-wrap.js';
import { leadingZeroBits } from './pow.js';

export type DropReason =
  | 'kind'
  | 'too-large'
  | 'pow'
  | 'signature'
  | 'duplicate'
  | 'unwrap'
  | 'stale'
  | 'parse'
  | 'tuple-signature'
  | 'structure'
  | 'trade-index'
  | 'overloaded'
  | 'error'
  // protocol v2 only
  | 'recipient'
  | 'first-contact-pow'
  | 'identity-proof'
  /** a kind-14 author over its allowance (author-limiter.ts) */
  | 'author-rate';

export interface Drop {
  ok: false;
  reason: DropReason;
  detail?: string;
}

export type Gate<T = object> = ({ ok: true } & T) | Drop;

export function drop(reason: DropReason, detail?: string): Drop {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}

/**
 * 4a. Shape and id (one SHA-256): the first half of gateSignature, run before the decryption so the
 * PoW counted on the id is real work on this very event.
 */
export function gateEventId(e: unknown): Gate<{ event: NostrEvent }> {
  if (!checkEventId(e)) return drop('signature', 'event id or shape invalid');
  return { ok: true, event: e };
}

/**
 * 4c. The signature over an id checked by gateEventId, run after the content decrypted: a Schnorr
 * verification (~4 ECDHs of CPU) is spent only on events that were encrypted to the node.
 */
export function gateEventSignature(e: NostrEvent): Gate {
  return verifyEventSignature(e) ? { ok: true } : drop('signature', 'event signature invalid');
}

/** 4b. The wrap layer: its content decrypted with the node key (one ECDH) to the seal's text. */
export function gateWrapLayer(wrap: NostrEvent, nodeSk: Uint8Array): Gate<{ sealText: string }> {
  const r = openWrapLayer(wrap, nodeSk);
  if (!r.ok) return drop('unwrap', `${r.stage}: ${r.error}`);
  return { ok: true, sealText: r.sealText };
}

/** 5. The seal layer (seal verified, rumor decrypted) from the wrap layer's text. */
export function gateSealLayer(wrap: NostrEvent, sealText: string, nodeSk: Uint8Array, sealKeys?: ConversationKeyCache): Gate<{ gift: UnwrappedGift }> {
  const r = openSealLayer(wrap, sealText, nodeSk, sealKeys);
  if (!r.ok) return drop('unwrap', `${r.stage}: ${r.error}`);
  return { ok: true, gift: r.gift };
}

/**
 * 6. Freshness of rumor.created_at: not older than `pastSeconds` (mostrod: 10 s) and, a fix of
 * HQ-2, not more than `futureSeconds` ahead (a far-future rumor could otherwise be replayed
 * until that time).
 */
export function gateFreshness(createdAt: number, now: number, pastSeconds: number, futureSeconds: number): Gate {
  if (createdAt < now - pastSeconds) return drop('stale', `rumor ${now - createdAt} s old`);
  if (createdAt > now + futureSeconds) return drop('stale', `rumor ${createdAt - now} s in the future`);
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Protocol v2 (kind 14)

/**
 * v2-4b. First contact (after the signature, before decryption): an author that is not a known
 * active trade key or solver must carry `bits` of PoW on the event id (`pow_first_contact`).
 */
export function gateFirstContact(e: NostrEvent, known: boolean, bits: number): Gate {
  if (known || bits <= 0) return { ok: true };
  if (leadingZeroBits(e.id) < bits) return drop('first-contact-pow', `unknown author needs ${bits} bits`);
  return { ok: true };
}

/** v2-5. One NIP-44 decryption with the node key and the author (conversation key cached). */
export function gateOpenDirect(e: NostrEvent, nodeSk: Uint8Array, convKeys?: ConversationKeyCache): Gate<{ plaintext: string }> {
  const r = openDirectMessage(e, nodeSk, convKeys);
  if (!r.ok) return drop('unwrap', `nip44: ${r.error}`);
  return { ok: true, plaintext: r.plaintext };
}

// ---------------------------------------------------------------------------------------------
// The tuple's signatures over the raw message text (the worker's half of gates 8 and v2-8)

/**
 * Signatures of a request's tuple checked by the worker over the Message's raw text as sent (one
 * Schnorr verification each): `true`/`false` = verified / refused over that text; absent = not
 * checked. A signature over the canonical re-serialization instead (when it differs from the raw
 * text) needs the parsed Message, so it is checked after the parse, on request of the event-loop
 * thread (complete-open.ts). Either text is accepted (signature.ts), so the verdict is the same.
 */
export interface RawSignatureChecks {
  /** The raw message text checked: `content.slice(start, end)` (absent: nothing checked). */
  span?: { start: number; end: number };
  /** v1 tuple signature / v2 trade_sig, by the trade key. */
  trade?: boolean;
  /** v2 identity proof, by the identity key, over the payload bound to the author. */
  proof?: boolean;
}

/**
 * v1: the tuple signature over the raw message text, when the tuple-signature gate will need it
 * (seal key ≠ trade key and a signature present).
 */
export function rawTupleChecks(content: string, identity: string, tradeKey: string): RawSignatureChecks {
  if (identity === tradeKey) return {};
  // A tuple the scan does not find is refused by the parse gate whatever its signature.
  const t = scanTuple(content, 2);
  if (t === null || t.signature === null) return {};
  const raw = content.slice(t.start, t.end);
  return { span: { start: t.start, end: t.end }, trade: schnorrVerify(t.signature, sha256(raw), tradeKey) };
}

/**
 * v2: trade_sig (by the author) and the identity proof over the raw message text. The proof is
 * not checked once trade_sig failed over the raw text: the gate stops at a failing trade_sig, and
 * should trade_sig verify over the canonical text instead, the proof is checked along with it.
 */
export function rawDirectChecks(content: string, author: string): RawSignatureChecks {
  const t = scanTuple(content, 3);
  if (t === null || (t.signature === null && t.identityProof === null)) return {};
  const raw = content.slice(t.start, t.end);
  const checks: RawSignatureChecks = { span: { start: t.start, end: t.end } };
  if (t.signature !== null) checks.trade = schnorrVerify(t.signature, sha256(raw), author);
  const proof = t.identityProof;
  if (proof !== null && checks.trade !== false) {
    checks.proof = schnorrVerify(proof.signature, sha256(identityProofPayload(author, raw)), proof.pubkey);
  }
  return checks;
}
