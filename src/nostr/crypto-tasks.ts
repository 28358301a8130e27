/**
 * The daemon's crypto as self-contained tasks: plain data in, plain data out (structured-clone
 * safe), so the same function runs on the event-loop thread or in a worker thread
 * (crypto-pool.ts) and gives the same bytes either way.
 *
 *  - verify-event: authenticate an event: id (one hash) → outer layer decrypted with the node key
 *    (one ECDH) → signature; the decrypted text comes back so the rest never redoes the ECDH;
 *  - open-gift-wrap: the v1 intake gates from the id to the tuple signature (verify-event's three →
 *    seal verification and decryption → freshness → parse → tuple signature), in that order, with
 *    the same verdicts as intake-gates.ts;
 *  - open-direct: the v2 (kind 14) gates from the id to the in-tuple signatures;
 *  - wrap-message / direct-message: a reply on either transport (seal, wrap, signatures, PoW);
 *  - sign-event: a node event (38383, 38385, …) signed with the node key.
 *
 * A task never throws: failures are values (`CryptoReply`), so a rejected promise from a pool
 * always means the thread itself failed (and the task may be run again).
 */
import { ConversationKeyCache } from '../crypto/conversation-key.js';
import { finalizeEvent, isNostrEventShape, type NostrEvent } from '../crypto/event.js';
import type { RumorContent } from '../protocol/types.js';
import type { Message } from '../protocol/types.js';
import { buildDirectMessage } from './direct-message.js';
import { wrapMessage } from './gift-wrap.js';
import { KIND_DIRECT_MESSAGE } from './transport.js';
import {
  gateDirectSignatures,
  gateEventId,
  gateEventSignature,
  gateFirstContact,
  gateFreshness,
  gateOpenDirect,
  gateParse,
  gateParseDirect,
  gateSealLayer,
  gateTupleSignature,
  gateWrapLayer,
  type Drop,
} from './intake-gates.js';

/** Per-thread crypto state: the node key and its conversation keys with peers. */
export interface CryptoState {
  nodeSecretKey: Uint8Array;
  nodePubkey: string;
  convKeys: ConversationKeyCache;
}

/** What a worker thread is started with (see crypto-pool.ts). */
export interface CryptoWorkerData {
  nodeSecretKey: Uint8Array;
  nodePubkey: string;
  convKeyCacheSize: number;
}

/** A thread's state from its worker data (throws on anything else: the thread cannot work). */
export function cryptoStateFrom(data: unknown): CryptoState {
  const d = data as Partial<CryptoWorkerData> | null;
  if (d === null || typeof d !== 'object' || !(d.nodeSecretKey instanceof Uint8Array) || typeof d.nodePubkey !== 'string') {
    throw new TypeError('crypto worker started without the node key');
  }
  const size = typeof d.convKeyCacheSize === 'number' ? d.convKeyCacheSize : 10_000;
  return { nodeSecretKey: d.nodeSecretKey, nodePubkey: d.nodePubkey, convKeys: new ConversationKeyCache(d.nodeSecretKey, size) };
}

export interface Freshness {
  /** Unix time (s) the verdict is taken at (from the caller's clock). */
  now: number;
  pastSeconds: number;
  futureSeconds: number;
}

/**
 * Authenticate an event (the first-contact lane's task): id, outer decryption, signature. Content
 * not encrypted to the node fails at the decryption, before the (dearer) signature check.
 */
export interface VerifyEventTask {
  op: 'verify-event';
  event: unknown;
}

export interface OpenGiftWrapTask extends Freshness {
  op: 'open-gift-wrap';
  /** The event as received (already past the kind, size, PoW and envelope gates). */
  event: unknown;
  /** verify-event authenticated it and this is its decrypted content (the seal's JSON text). */
  sealText?: string;
}

export interface OpenDirectTask extends Freshness {
  op: 'open-direct';
  event: unknown;
  /** verify-event authenticated it and this is its decrypted content. */
  plaintext?: string;
  /** The author is a known active trade key or solver (skips the first-contact PoW). */
  knownAuthor: boolean;
  firstContactPow: number;
}

export interface WrapMessageTask {
  op: 'wrap-message';
  /** Already reduced to the protocol-v1 vocabulary by the caller. */
  message: Message;
  recipient: string;
  now: number;
  pow: number;
}

export interface DirectMessageTask {
  op: 'direct-message';
  message: Message;
  recipient: string;
  now: number;
  pow: number;
  expiration: number;
}

export interface SignEventTask {
  op: 'sign-event';
  kind: number;
  tags: string[][];
  content: string;
  created_at: number;
}

export type CryptoTask = VerifyEventTask | OpenGiftWrapTask | OpenDirectTask | WrapMessageTask | DirectMessageTask | SignEventTask;

/** What the intake needs from an opened request. */
export interface OpenedRequest {
  ok: true;
  identity: string;
  tradeKey: string;
  createdAt: number;
  parsed: RumorContent;
}

/**
 * Outcome of an open-* task. `signedId` is set as soon as the outer signature verified (the
 * replay cache may remember that id even when a later gate drops the event).
 */
export type OpenOutcome = { signedId: null; verdict: Drop } | { signedId: string; verdict: OpenedRequest | Drop };

/** Outcome of verify-event: the verified id and the decrypted outer content, or the drop. */
export type VerifyOutcome = { signedId: string; opened: string } | { signedId: null; verdict: Drop };

export interface CryptoResults {
  'verify-event': VerifyOutcome;
  'open-gift-wrap': OpenOutcome;
  'open-direct': OpenOutcome;
  'wrap-message': NostrEvent;
  'direct-message': NostrEvent;
  'sign-event': NostrEvent;
}

export type CryptoReply<T = unknown> = { ok: true; value: T } | { ok: false; error: string };

type Authenticated = { signedId: null; verdict: Drop } | { signedId: string; event: NostrEvent; opened: string };

/**
 * id → outer decryption → signature. What reaches the signature check was encrypted to the node,
 * so a Schnorr verification is never spent on junk that is not (it costs about four ECDHs here).
 * Anything that passes has a verified id and signature, exactly as with the signature first.
 */
function authenticate(state: CryptoState, raw: unknown): Authenticated {
  const id = gateEventId(raw);
  if (!id.ok) return { signedId: null, verdict: id };
  const event = id.event;
  let opened: string;
  if (event.kind === KIND_DIRECT_MESSAGE) {
    const open = gateOpenDirect(event, state.nodeSecretKey, state.convKeys);
    if (!open.ok) return { signedId: null, verdict: open };
    opened = open.plaintext;
  } else {
    const layer = gateWrapLayer(event, state.nodeSecretKey);
    if (!layer.ok) return { signedId: null, verdict: layer };
    opened = layer.sealText;
  }
  const sig = gateEventSignature(event);
  if (!sig.ok) return { signedId: null, verdict: sig };
  return { signedId: event.id, event, opened };
}

/** An event verify-event already authenticated (its decrypted content given), or authenticate it now. */
function authenticated(state: CryptoState, raw: unknown, opened: string | undefined): Authenticated {
  if (opened !== undefined && isNostrEventShape(raw)) return { signedId: raw.id, event: raw, opened };
  return authenticate(state, raw);
}

function verifyOnly(state: CryptoState, t: VerifyEventTask): VerifyOutcome {
  const a = authenticate(state, t.event);
  return a.signedId === null ? a : { signedId: a.signedId, opened: a.opened };
}

function openGiftWrap(state: CryptoState, t: OpenGiftWrapTask): OpenOutcome {
  const auth = authenticated(state, t.event, t.sealText);
  if (auth.signedId === null) return auth;
  const wrap = auth.event;
  const unwrapped = gateSealLayer(wrap, auth.opened, state.nodeSecretKey, state.convKeys);
  if (!unwrapped.ok) return { signedId: wrap.id, verdict: unwrapped };
  const { gift } = unwrapped;
  const fresh = gateFreshness(gift.rumor.created_at, t.now, t.pastSeconds, t.futureSeconds);
  if (!fresh.ok) return { signedId: wrap.id, verdict: fresh };
  const parse = gateParse(gift.rumor.content);
  if (!parse.ok) return { signedId: wrap.id, verdict: parse };
  const tuple = gateTupleSignature(parse.parsed, gift.identity, gift.tradeKey);
  if (!tuple.ok) return { signedId: wrap.id, verdict: tuple };
  return {
    signedId: wrap.id,
    verdict: { ok: true, identity: gift.identity, tradeKey: gift.tradeKey, createdAt: gift.rumor.created_at, parsed: parse.parsed },
  };
}

function openDirect(state: CryptoState, t: OpenDirectTask): OpenOutcome {
  // The first-contact PoW is on the id: checked before the decryption (the intake checked the
  // claimed id already; here the id is the event's own).
  const id = gateEventId(t.event);
  if (!id.ok) return { signedId: null, verdict: id };
  const first = gateFirstContact(id.event, t.knownAuthor, t.firstContactPow);
  if (!first.ok) return { signedId: null, verdict: first };
  const auth = authenticated(state, id.event, t.plaintext);
  if (auth.signedId === null) return auth;
  const event = auth.event;
  const fresh = gateFreshness(event.created_at, t.now, t.pastSeconds, t.futureSeconds);
  if (!fresh.ok) return { signedId: event.id, verdict: fresh };
  const parse = gateParseDirect(auth.opened);
  if (!parse.ok) return { signedId: event.id, verdict: parse };
  const auth2 = gateDirectSignatures(parse.parsed, event.pubkey);
  if (!auth2.ok) return { signedId: event.id, verdict: auth2 };
  return {
    signedId: event.id,
    verdict: { ok: true, identity: auth2.identity, tradeKey: event.pubkey, createdAt: event.created_at, parsed: parse.parsed },
  };
}

function runTask(state: CryptoState, t: CryptoTask): CryptoResults[CryptoTask['op']] {
  switch (t.op) {
    case 'verify-event':
      return verifyOnly(state, t);
    case 'open-gift-wrap':
      return openGiftWrap(state, t);
    case 'open-direct':
      return openDirect(state, t);
    case 'wrap-message':
      return wrapMessage(t.message, t.recipient, state.nodeSecretKey, {
        now: t.now,
        nodePubkey: state.nodePubkey,
        pow: t.pow,
        sealKeys: state.convKeys,
      });
    case 'direct-message':
      return buildDirectMessage(t.message, t.recipient, state.nodeSecretKey, {
        now: t.now,
        expiration: t.expiration,
        pow: t.pow,
        convKeys: state.convKeys,
        nodePubkey: state.nodePubkey,
      });
    case 'sign-event':
      return finalizeEvent(
        { kind: t.kind, tags: t.tags, content: t.content, created_at: t.created_at },
        state.nodeSecretKey,
        state.nodePubkey,
      );
  }
}

/** Run one task; never throws. */
export function runCryptoTask(state: CryptoState, task: CryptoTask): CryptoReply {
  try {
    return { ok: true, value: runTask(state, task) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
