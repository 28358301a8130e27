/**
 * The intake gates (PROTOCOL.md §2.4, HANDLERS.md §2.1), each a small pure function returning a
 * verdict. Cheap checks first; nothing is decrypted before kind, size, PoW and the outer
 * signature passed. The Intake class (intake.ts) runs them in order.
 */
import type { ConversationKeyCache } from '../crypto/conversation-key.js';
import { verifyEvent, type NostrEvent } from '../crypto/event.js';
import { parseRumorContent } from '../protocol/parse.js';
import { verifyMessageSignature } from '../protocol/signature.js';
import type { Message, RumorContent } from '../protocol/types.js';
import { verifyStructure } from '../protocol/verify.js';
import { KIND_GIFT_WRAP, unwrapGiftWrap, type UnwrappedGift } from './gift-wrap.js';
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
  | 'error';

export interface Drop {
  ok: false;
  reason: DropReason;
  detail?: string;
}

export type Gate<T = object> = ({ ok: true } & T) | Drop;

function drop(reason: DropReason, detail?: string): Drop {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}

/** 1. Only kind 1059 objects go on. */
export function gateKind(e: unknown): Gate<{ event: { kind: number } & Record<string, unknown> }> {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return drop('kind', 'not an object');
  const event = e as Record<string, unknown>;
  if (event['kind'] !== KIND_GIFT_WRAP) return drop('kind', `kind ${String(event['kind'])}`);
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

/** 4. Outer id and signature. 0.17.1 only logged a failure (HQ-1); we drop. */
export function gateSignature(e: unknown): Gate<{ event: NostrEvent }> {
  if (!verifyEvent(e)) return drop('signature', 'wrap id or signature invalid');
  return { ok: true, event: e };
}

/** 5. Unwrap with the node key: wrap → seal (verified) → rumor. */
export function gateUnwrap(wrap: NostrEvent, nodeSk: Uint8Array, sealKeys?: ConversationKeyCache): Gate<{ gift: UnwrappedGift }> {
  const r = unwrapGiftWrap(wrap, nodeSk, sealKeys);
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
