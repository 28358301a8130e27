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
import { verifyEvent, type NostrEvent } from '../crypto/event.js';
import { parseDirectContent, verifyIdentityProof, type DirectContent } from '../protocol/direct.js';
import { parseRumorContent } from '../protocol/parse.js';
import { verifyMessageSignature } from '../protocol/signature.js';
import type { Message, RumorContent } from '../protocol/types.js';
import { verifyStructure } from '../protocol/verify.js';
import { drop, type Drop, type Gate } from './crypto-gates.js';
import { KIND_GIFT_WRAP } from './gift-wrap.js';
import { nip44Precheck } from './nip44.js';
import { leadingZeroBits } from './pow.js';

// The gates the crypto worker thread runs (4a–6, v2-4b, v2-5) live in crypto-gates.ts, which does
// not load the Message schema (zod); they are part of this list all the same.
export {
  gateEventId,
  gateEventSignature,
  gateFirstContact,
  gateFreshness,
  gateOpenDirect,
  gateSealLayer,
  gateWrapLayer,
} from './crypto-gates.js';
export type { Drop, DropReason, Gate } from './crypto-gates.js';

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

/** 7. Rumor content must be exactly `[Message, sig | null]` with a valid Message. */
export function gateParse(content: string): Gate<{ parsed: RumorContent }> {
  try {
    return { ok: true, parsed: parseRumorContent(content) };
  } catch (err) {
    return drop('parse', err instanceof Error ? err.message : 'unparsable');
  }
}

/** How the signature gates verify a signature over a Message (signature.ts's rule by default). */
export type MessageSignatureCheck = (m: Message, sigHex: string, pubkeyHex: string, rawMessageText?: string) => boolean;

/**
 * 8. Tuple signature (PROTOCOL.md §2.4 step 7): when the seal key differs from the trade key the
 * signature is mandatory and must verify against the trade key; with equal keys it is ignored.
 * `verify` is verifyMessageSignature, or (complete-open.ts) the verdict the crypto worker and a
 * canonical-text check already reached for this very signature.
 */
export function gateTupleSignature(parsed: RumorContent, identity: string, tradeKey: string, verify: MessageSignatureCheck = verifyMessageSignature): Gate {
  if (identity === tradeKey) return { ok: true };
  if (parsed.signature === null) return drop('tuple-signature', 'reputation mode without a signature');
  if (!verify(parsed.message, parsed.signature, tradeKey, parsed.rawMessageText)) {
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

/** v2-7. Plaintext must be exactly `[Message, sig | null, [pubkey, sig] | null]`. */
export function gateParseDirect(plaintext: string): Gate<{ parsed: DirectContent }> {
  try {
    return { ok: true, parsed: parseDirectContent(plaintext) };
  } catch (err) {
    return drop('parse', err instanceof Error ? err.message : 'unparsable');
  }
}

/** The two v2 signature checks (verifyIdentityProof: true when there is no proof). */
export interface DirectSignatureChecks {
  trade: MessageSignatureCheck;
  proof: (parsed: DirectContent, author: string) => boolean;
}

const DIRECT_SIGNATURE_CHECKS: DirectSignatureChecks = { trade: verifyMessageSignature, proof: verifyIdentityProof };

/**
 * v2-8. Signatures inside the tuple, against the event author (= trade key):
 * - trade_sig, when present, must verify over the message JSON (a foreign one fails by construction);
 * - the identity proof, when present, must verify over the payload bound to this author (a proof
 *   grafted from another trade key fails);
 * - the identity is the proof's key, or the author (full privacy); identity ≠ author without a
 *   trade_sig is refused (the v1 reputation-mode rule).
 * `verify` as for gateTupleSignature (complete-open.ts passes the verdicts already reached).
 */
export function gateDirectSignatures(parsed: DirectContent, author: string, verify: DirectSignatureChecks = DIRECT_SIGNATURE_CHECKS): Gate<{ identity: string }> {
  if (parsed.signature !== null && !verify.trade(parsed.message, parsed.signature, author, parsed.rawMessageText)) {
    return drop('tuple-signature', 'trade signature does not verify against the author');
  }
  if (!verify.proof(parsed, author)) return drop('identity-proof', 'identity proof does not verify for this author');
  const identity = parsed.identityProof?.pubkey ?? author;
  if (identity !== author && parsed.signature === null) return drop('tuple-signature', 'reputation mode without a trade signature');
  return { ok: true, identity };
}
