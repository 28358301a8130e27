/**
 * The intake gates (PROTOCOL.md §2.4, HANDLERS.md §2.1), each a small pure function returning a
 * verdict. The cheapest check that can fail goes first: kind, size, PoW, the content's NIP-44
 * envelope, the event id (one hash), then the decryption of the outer layer (one ECDH), and only
 * then the event's signature (a Schnorr verification costs several ECDHs): junk that is not
 * encrypted to the node never costs a signature check, and nothing reaches a handler without a
 * verified id and signature. The Intake class (intake.ts) runs them in order.
 *
 * Protocol v2 (kind 14, transport.ts) shares kind, size, PoW, id, signature, freshness, structure
 * and trade index, and has its own: recipient (`p` = node) before PoW, first-contact PoW on the id,
 * one NIP-44 decryption (before the signature, as above), the 3-tuple parse and its two signatures.
 */
import type { ConversationKeyCache } from '../crypto/conversation-key.js';
import { checkEventId, verifyEvent, verifyEventSignature, type NostrEvent } from '../crypto/event.js';
import { parseDirectContent, verifyIdentityProof, type DirectContent } from '../protocol/direct.js';
import { parseRumorContent } from '../protocol/parse.js';
import { verifyMessageSignature } from '../protocol/signature.js';
import type { Message, RumorContent } from '../protocol/types.js';
import { verifyStructure } from '../protocol/verify.js';
import { openDirectMessage } from './direct-message.js';
import { KIND_GIFT_WRAP, openSealLayer, openWrapLayer, type UnwrappedGift } from './gift-wrap.js';
import { nip44Precheck } from './nip44.js';
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

function drop(reason: DropReason, detail?: string): Drop {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}

/** 1. Only objects of a served kind go on (1059 gift wrap; 14 when protocol v2 is served). */
export function gateKind(e: unknown, kinds: readonly number[] = [KIND_GIFT_WRAP]): Gate<{ event: { kind: number } & Record<string, unknown> }> {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return drop('kind', 'not an object');
  const event = e as Record<string, unknown>;
  const kind = event['kind'];
  if (typeof kind !== 'number' || !kinds.includes(kind)) return drop('kind', `kind ${String(kind)}`);
  return { ok: true, event: event as { kind: number } & Record<string, unknown> };
}

/**
 * 2. Size: the wrap's content and tags. A Mostro request is a few KB; the limit is generous (see
 * IntakeLimits.maxContentBytes) but keeps a hostile relay or sender from making us decrypt and
 * parse megabytes.
 */
export function gateSize(e: Record<string, unknown>, maxContentBytes: number, maxTags = 64): Gate {
  const content = e['content'];
  if (typeof content === 'string' && content.length > maxContentBytes) {
    return drop('too-large', `content ${content.length} > ${maxContentBytes}`);
  }
  const tags = e['tags'];
  if (Array.isArray(tags) && tags.length > maxTags) return drop('too-large', `${tags.length} tags`);
  return { ok: true };
}

/** 3. NIP-13 PoW on the outer wrap id (settings.mostro.pow); the nonce tag is not required. */
export function gatePow(e: Record<string, unknown>, bits: number): Gate {
  if (bits <= 0) return { ok: true };
  const id = e['id'];
  if (typeof id !== 'string' || leadingZeroBits(id) < bits) return drop('pow', `needs ${bits} bits`);
  return { ok: true };
}

/**
 * 3b. The encrypted content's envelope (length, base64, NIP-44 version byte), before any key is
 * used: content that cannot be a NIP-44 v2 payload is dropped as 'unwrap' with no crypto at all.
 * Content that is not a string is left to the shape check ('signature').
 */
export function gatePayload(e: Record<string, unknown>): Gate {
  const content = e['content'];
  if (typeof content !== 'string') return { ok: true };
  const bad = nip44Precheck(content);
  return bad === null ? { ok: true } : drop('unwrap', `nip44: ${bad}`);
}

/** 4. Outer id and signature. 0.17.1 only logged a failure (HQ-1); we drop. */
export function gateSignature(e: unknown): Gate<{ event: NostrEvent }> {
  if (!verifyEvent(e)) return drop('signature', 'wrap id or signature invalid');
  return { ok: true, event: e };
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

/** 7. Rumor content must be exactly `[Message, sig | null]` with a valid Message. */
export function gateParse(content: string): Gate<{ parsed: RumorContent }> {
  try {
    return { ok: true, parsed: parseRumorContent(content) };
  } catch (err) {
    return drop('parse', err instanceof Error ? err.message : 'unparsable');
  }
}

/**
 * 8. Tuple signature (PROTOCOL.md §2.4 step 7): when the seal key differs from the trade key the
 * signature is mandatory and must verify against the trade key; with equal keys it is ignored.
 */
export function gateTupleSignature(parsed: RumorContent, identity: string, tradeKey: string): Gate {
  if (identity === tradeKey) return { ok: true };
  if (parsed.signature === null) return drop('tuple-signature', 'reputation mode without a signature');
  if (!verifyMessageSignature(parsed.message, parsed.signature, tradeKey, parsed.rawMessageText)) {
    return drop('tuple-signature', 'signature does not verify');
  }
  return { ok: true };
}

/** 9. Structural validation (MessageKind::verify). */
export function gateStructure(message: Message): Gate {
  return verifyStructure(message.kind) ? { ok: true } : drop('structure', `invalid ${message.kind.action}`);
}

/** The users table as the trade-index gate sees it (the lead wires the DB one). */
export interface TradeIndexStore {
  /** The identity's stored last_trade_index, or null when the user is unknown. */
  lastTradeIndex(identity: string): Promise<number | null>;
  createUser(identity: string, lastTradeIndex: number, now: number): Promise<void>;
}

export const TRADE_INDEX_ACTIONS: ReadonlySet<string> = new Set(['new-order', 'take-buy', 'take-sell']);

export type TradeIndexVerdict = { ok: true } | (Drop & { stale?: true });

/**
 * 10. Trade index (PROTOCOL.md §1.3, HANDLERS.md §2.3) for new-order / take-buy / take-sell.
 * Differences from 0.17.1 (HQ-4): a known identity must send an index ≥ 1 (null, 0 or negative
 * no longer slip through and later reset its stored index); an unknown identity with a negative
 * index, or without one in reputation mode, is dropped here rather than later.
 * `stale: true` marks the one case answered with cant-do invalid_trade_index.
 */
export async function gateTradeIndex(
  store: TradeIndexStore,
  parsed: RumorContent,
  identity: string,
  tradeKey: string,
  now: number,
): Promise<TradeIndexVerdict> {
  const { message, signature } = parsed;
  if (!TRADE_INDEX_ACTIONS.has(message.kind.action)) return { ok: true };
  const index = message.kind.trade_index;
  const fullPrivacy = identity === tradeKey;
  const last = await store.lastTradeIndex(identity);
  if (last !== null) {
    if (index === null || index < 1n) return drop('trade-index', 'known identity without a trade index');
    if (signature === null) return drop('trade-index', 'known identity without a tuple signature');
    if (index <= BigInt(last)) return { ...drop('trade-index', `index ${index} <= ${last}`), stale: true };
    // Reputation mode was verified by the tuple-signature gate; full privacy was not.
    if (fullPrivacy && !verifyMessageSignature(message, signature, tradeKey, parsed.rawMessageText)) {
      return drop('trade-index', 'signature does not verify');
    }
    return { ok: true };
  }
  if (index === null) {
    return fullPrivacy ? { ok: true } : drop('trade-index', 'reputation mode without a trade index');
  }
  if (index < 1n) return drop('trade-index', `index ${index} for a new identity`);
  if (index > BigInt(Number.MAX_SAFE_INTEGER)) return drop('trade-index', 'index out of range');
  if (!fullPrivacy) await store.createUser(identity, Number(index), now);
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Protocol v2 (kind 14)

/**
 * v2-2b. The event must be addressed to the node: a `p` tag with the node key. (A gift wrap's `p`
 * is not checked: one not for us fails to decrypt anyway; a kind 14 names its recipient in clear.)
 */
export function gateRecipient(e: Record<string, unknown>, nodePubkey: string): Gate {
  const tags = e['tags'];
  if (!Array.isArray(tags)) return drop('recipient', 'no tags');
  for (const t of tags) {
    if (Array.isArray(t) && t[0] === 'p' && t[1] === nodePubkey) return { ok: true };
  }
  return drop('recipient', 'no p tag with the node key');
}

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

/** v2-7. Plaintext must be exactly `[Message, sig | null, [pubkey, sig] | null]`. */
export function gateParseDirect(plaintext: string): Gate<{ parsed: DirectContent }> {
  try {
    return { ok: true, parsed: parseDirectContent(plaintext) };
  } catch (err) {
    return drop('parse', err instanceof Error ? err.message : 'unparsable');
  }
}

/**
 * v2-8. Signatures inside the tuple, against the event author (= trade key):
 * - trade_sig, when present, must verify over the message JSON (a foreign one fails by construction);
 * - the identity proof, when present, must verify over the payload bound to this author (a proof
 *   grafted from another trade key fails);
 * - the identity is the proof's key, or the author (full privacy); identity ≠ author without a
 *   trade_sig is refused (the v1 reputation-mode rule).
 */
export function gateDirectSignatures(parsed: DirectContent, author: string): Gate<{ identity: string }> {
  if (parsed.signature !== null && !verifyMessageSignature(parsed.message, parsed.signature, author, parsed.rawMessageText)) {
    return drop('tuple-signature', 'trade signature does not verify against the author');
  }
  if (!verifyIdentityProof(parsed, author)) return drop('identity-proof', 'identity proof does not verify for this author');
  const identity = parsed.identityProof?.pubkey ?? author;
  if (identity !== author && parsed.signature === null) return drop('tuple-signature', 'reputation mode without a trade signature');
  return { ok: true, identity };
}
