/**
 * The daemon's crypto as self-contained tasks: plain data in, plain data out (structured-clone
 * safe), so the same function runs on the event-loop thread or in a worker thread
 * (crypto-pool.ts) and gives the same bytes either way.
 *
 *  - verify-event: authenticate an event: id (one hash) → outer layer decrypted with the node key
 *    (one ECDH) → signature; the decrypted text comes back so the rest never redoes the ECDH;
 *  - open-gift-wrap: the v1 intake gates from the id to the tuple signature (verify-event's three →
 *    seal verification and decryption → freshness → the tuple signature over the raw message
 *    text), in that order, with the same verdicts as intake-gates.ts;
 *  - open-direct: the v2 (kind 14) gates from the id to the in-tuple signatures (raw text);
 *  - verify-signatures: Schnorr signatures over given texts (a tuple signature over the canonical
 *    re-serialization of a Message, which only the event-loop thread has parsed);
 *  - wrap-message / direct-message: a reply on either transport (seal, wrap, signatures, PoW);
 *  - sign-event: a node event (38383, 38385, …) signed with the node key.
 *
 * This module and what it imports are the worker thread's whole module graph: it does not load the
 * Message schema (zod, protocol/schema.ts; a test keeps it so). The open-* tasks hand back the
 * decrypted tuple text instead of the parsed Message; the executors (crypto-pool.ts) finish them
 * on the calling thread (complete-open.ts: parse, then the signature verdicts from what the worker
 * found), so `CryptoExecutor.run` answers with the same verdicts and parsed messages as ever.
 *
 * A task never throws: failures are values (`CryptoReply`), so a rejected promise from a pool
 * always means the thread itself failed (and the task may be run again).
 */
import { ConversationKeyCache } from '../crypto/conversation-key.js';
import { finalizeEvent, isNostrEventShape, type NostrEvent } from '../crypto/event.js';
import { schnorrVerify, sha256 } from '../crypto/secp.js';
import type { RumorContent } from '../protocol/types.js';
import type { Message } from '../protocol/types.js';
import {
  gateEventId,
  gateEventSignature,
  gateFirstContact,
  gateFreshness,
  gateOpenDirect,
  gateSealLayer,
  gateWrapLayer,
  rawDirectChecks,
  rawTupleChecks,
  type Drop,
  type RawSignatureChecks,
} from './crypto-gates.js';
import { buildDirectMessage } from './direct-message.js';
import { wrapMessage } from './gift-wrap.js';
import { KIND_DIRECT_MESSAGE } from './transport.js';

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

/** One Schnorr signature over SHA-256 of `text` (UTF-8). */
export interface SignatureCheck {
  signature: string;
  text: string;
  pubkey: string;
}

export interface VerifySignaturesTask {
  op: 'verify-signatures';
  checks: SignatureCheck[];
}

export interface SignEventTask {
  op: 'sign-event';
  kind: number;
  tags: string[][];
  content: string;
  created_at: number;
}

export type CryptoTask =
  | VerifyEventTask
  | OpenGiftWrapTask
  | OpenDirectTask
  | VerifySignaturesTask
  | WrapMessageTask
  | DirectMessageTask
  | SignEventTask;

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

/**
 * What an open-* task hands back from the worker once every crypto gate before the parse passed:
 * the tuple's text, not parsed, and its signatures as checked over the raw message text.
 */
export interface SealedRequest {
  ok: true;
  /** v1: the seal's key. v2: the event author (the identity proof is read after the parse). */
  identity: string;
  /** v1: the rumor's key. v2: the event author. */
  tradeKey: string;
  createdAt: number;
  /** The rumor content (v1) or the kind-14 plaintext (v2). */
  content: string;
  checks: RawSignatureChecks;
}

/** An open-* task's result as the worker returns it (complete-open.ts turns it into an OpenOutcome). */
export type SealedOutcome = { signedId: null; verdict: Drop } | { signedId: string; verdict: SealedRequest | Drop };

/** What a task returns where it runs (runCryptoTask). */
export interface WorkerResults {
  'verify-event': VerifyOutcome;
  'open-gift-wrap': SealedOutcome;
  'open-direct': SealedOutcome;
  'verify-signatures': boolean[];
  'wrap-message': NostrEvent;
  'direct-message': NostrEvent;
  'sign-event': NostrEvent;
}

/** What `CryptoExecutor.run` answers: the open-* tasks finished (parsed, signatures decided). */
export interface CryptoResults extends Omit<WorkerResults, 'open-gift-wrap' | 'open-direct'> {
  'open-gift-wrap': OpenOutcome;
  'open-direct': OpenOutcome;
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

function openGiftWrap(state: CryptoState, t: OpenGiftWrapTask): SealedOutcome {
  const auth = authenticated(state, t.event, t.sealText);
  if (auth.signedId === null) return auth;
  const wrap = auth.event;
  const unwrapped = gateSealLayer(wrap, auth.opened, state.nodeSecretKey, state.convKeys);
  if (!unwrapped.ok) return { signedId: wrap.id, verdict: unwrapped };
  const { gift } = unwrapped;
  const fresh = gateFreshness(gift.rumor.created_at, t.now, t.pastSeconds, t.futureSeconds);
  if (!fresh.ok) return { signedId: wrap.id, verdict: fresh };
  // Parse and tuple-signature verdicts: complete-open.ts, on the calling thread.
  const content = gift.rumor.content;
  return {
    signedId: wrap.id,
    verdict: {
      ok: true,
      identity: gift.identity,
      tradeKey: gift.tradeKey,
      createdAt: gift.rumor.created_at,
      content,
      checks: rawTupleChecks(content, gift.identity, gift.tradeKey),
    },
  };
}

function openDirect(state: CryptoState, t: OpenDirectTask): SealedOutcome {
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
  // Parse, trade_sig and identity-proof verdicts: complete-open.ts, on the calling thread.
  return {
    signedId: event.id,
    verdict: {
      ok: true,
      identity: event.pubkey,
      tradeKey: event.pubkey,
      createdAt: event.created_at,
      content: auth.opened,
      checks: rawDirectChecks(auth.opened, event.pubkey),
    },
  };
}

/** Each signature over SHA-256 of its text; never throws (a malformed one is false). */
export function verifySignatures(checks: readonly SignatureCheck[]): boolean[] {
  return checks.map((c) => schnorrVerify(c.signature, sha256(c.text), c.pubkey));
}

function runTask(state: CryptoState, t: CryptoTask): WorkerResults[CryptoTask['op']] {
  switch (t.op) {
    case 'verify-event':
      return verifyOnly(state, t);
    case 'open-gift-wrap':
      return openGiftWrap(state, t);
    case 'open-direct':
      return openDirect(state, t);
    case 'verify-signatures':
      return verifySignatures(t.checks);
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
/** Several tasks in one message to a worker thread (crypto-pool.ts batches a turn's tasks). */
export interface CryptoBatch {
  op: 'batch';
  tasks: CryptoTask[];
}

/** What a worker thread answers: one reply per task, a batch's in its order. */
export function runPoolMessage(state: CryptoState, message: CryptoTask | CryptoBatch): CryptoReply | CryptoReply[] {
  if (message.op === 'batch') return message.tasks.map((t) => runCryptoTask(state, t));
  return runCryptoTask(state, message);
}

export function runCryptoTask(state: CryptoState, task: CryptoTask): CryptoReply {
  try {
    return { ok: true, value: runTask(state, task) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
