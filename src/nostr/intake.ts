/**
 * Inbound pipeline: every event from the relay pool goes through the gates of intake-gates.ts in
 * order, then to the router. `handle()` never throws and always resolves with a verdict.
 *
 * Order: kind → size → PoW → [shedding] → outer signature → replay cache → unwrap → freshness →
 * parse → tuple signature → structure → (per-identity lock) trade index → dispatch.
 *
 * Protocol v2 (kind 14, when served) goes through the same pipeline, dispatched by kind:
 * kind → size → recipient (`p`) → PoW → [shedding] → event signature → replay cache →
 * first-contact PoW (author not a known active key) → NIP-44 decrypt (one ECDH, cached per
 * author, and one decryption) → freshness (event created_at) → 3-tuple parse → trade_sig and
 * identity proof → structure → trade index → dispatch. Handlers get the same Message and Inbound
 * either way; the transport each trade key spoke is recorded (persisted) before its request is
 * dispatched, so every message to that key, replies and unsolicited ones, goes out on it.
 *
 * Shedding before decryption: the cheap gates (kind, size, PoW) run synchronously in handle();
 * everything from the outer signature on is crypto (Schnorr verify, two ECDHs, two NIP-44
 * decryptions) and runs from a FIFO queue drained a batch per event-loop turn, so the socket keeps
 * being read while the backlog is worked off. When `maxPendingCrypto` events already wait for that
 * stage, or the post-crypto queue (`maxQueued`) is full, a new event is dropped as 'overloaded'
 * without any crypto at all — the bound applies before the outer signature check too, since that
 * check costs about as much as one ECDH and a flood of validly signed junk is cheap to produce.
 * (0.17.1 checks the trade index before the structure; checking structure first means a
 * malformed request no longer creates a user row.)
 */
import type { Logger } from 'pino';
import type { Inbound } from '../app/inbound.js';
import { KeyedLock } from '../app/locks.js';
import type { Clock } from '../clock.js';
import type { Settings } from '../config/types.js';
import type { MostroKeys } from '../context.js';
import { ConversationKeyCache } from '../crypto/conversation-key.js';
import type { NostrEvent } from '../crypto/event.js';
import { cantDoMessage } from '../protocol/build.js';
import type { Message, RumorContent } from '../protocol/types.js';
import {
  gateDirectSignatures,
  gateFirstContact,
  gateFreshness,
  gateKind,
  gateOpenDirect,
  gateParseDirect,
  gateRecipient,
  gateParse,
  gatePow,
  gateSignature,
  gateSize,
  gateStructure,
  gateTradeIndex,
  gateTupleSignature,
  gateUnwrap,
  type Drop,
  type DropReason,
  type TradeIndexStore,
} from './intake-gates.js';
import type { Outbox } from './outbox.js';
import { enforcedFirstContactPow, KIND_DIRECT_MESSAGE, subscriptionKinds, type WireTransport } from './transport.js';

export type { DropReason, TradeIndexStore } from './intake-gates.js';

export type Verdict =
  | { ok: true; message: Message; inbound: Inbound; transport: WireTransport }
  | { ok: false; reason: DropReason; detail?: string; reply?: Message };

export type Dispatch = (msg: Message, inbound: Inbound) => Promise<void>;

export interface IntakeLimits {
  /** Max characters of the wrap's content (base64). Default 16384 (mostrod: 6500-byte events). */
  maxContentBytes: number;
  /** Rumors older than this are stale (mostrod: 10 s). */
  pastSeconds: number;
  /** Rumors dated further ahead than this are dropped (mostrod: no bound, HQ-2). Default 300 s. */
  futureSeconds: number;
  /** Wrap ids remembered against replays (entries also expire). Default 100 000. */
  replayCacheSize: number;
  /** Requests processed concurrently after the crypto gates. Default 32. */
  maxConcurrent: number;
  /** Requests waiting for a slot before new ones are dropped as 'overloaded'. Default 10 000. */
  maxQueued: number;
  /** Seal-layer conversation keys cached (node key × identity keys). Default 10 000. */
  sealKeyCacheSize: number;
  /**
   * Events waiting for the crypto gates (signature, unwrap) before new ones are shed as
   * 'overloaded' without being verified or decrypted. Default 1 000 (a fraction of a second of
   * crypto work; anything waiting much longer would be stale by the 10 s rule anyway).
   */
  maxPendingCrypto: number;
  /** Events taken through the crypto gates per event-loop turn. Default 64. */
  cryptoBatch: number;
}

export const DEFAULT_INTAKE_LIMITS: IntakeLimits = {
  maxContentBytes: 16 * 1024,
  pastSeconds: 10,
  futureSeconds: 300,
  replayCacheSize: 100_000,
  maxConcurrent: 32,
  maxQueued: 10_000,
  sealKeyCacheSize: 10_000,
  maxPendingCrypto: 1_000,
  cryptoBatch: 64,
};

/** Trade keys and solvers allowed to skip the first-contact PoW (see active-keys.ts). */
export interface KnownSenders {
  has(pubkey: string): boolean;
  /** A key whose request was just accepted (recognised at once, not at the next reload). */
  add(pubkey: string): void;
}

/** Where the transport each trade key speaks is remembered (see transport-registry.ts). */
export interface TransportRecorder {
  record(tradeKey: string, transport: WireTransport, now: number): Promise<void>;
}

export interface IntakeDeps {
  keys: MostroKeys;
  settings: Settings;
  clock: Clock;
  logger: Logger;
  tradeIndexStore: TradeIndexStore;
  dispatch: Dispatch;
  outbox: Outbox;
  limits?: Partial<IntakeLimits>;
  /** Protocol v2: keys that skip the first-contact PoW. Absent = every author is first contact. */
  knownSenders?: KnownSenders;
  /** Protocol v2: remembers each trade key's transport. Absent = not recorded (v1-only tests). */
  transports?: TransportRecorder;
}

/** What both transports yield: who sent which request, when. */
interface Opened {
  transport: WireTransport;
  identity: string;
  tradeKey: string;
  createdAt: number;
  parsed: RumorContent;
}

export type IntakeCounter = DropReason | 'dispatched' | 'dispatch-error';

/** Wrap ids already accepted, each kept until any rumor it could carry is stale anyway. */
class ReplayCache {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  seen(id: string, now: number): boolean {
    const exp = this.expiries.get(id);
    return exp !== undefined && exp >= now;
  }

  add(id: string, expiresAt: number, now: number): void {
    this.expiries.set(id, expiresAt);
    // Map order = insertion order; expiries are roughly monotonic, so trim from the front.
    for (const [k, exp] of this.expiries) {
      if (this.expiries.size <= this.capacity && exp >= now) break;
      this.expiries.delete(k);
    }
  }

  get size(): number {
    return this.expiries.size;
  }
}

export class Intake {
  private readonly limits: IntakeLimits;
  private readonly kinds: readonly number[];
  private readonly firstContactPow: number;
  private readonly sealKeys: ConversationKeyCache;
  private readonly replay: ReplayCache;
  private readonly identityLocks = new KeyedLock();
  private readonly counts = new Map<IntakeCounter, number>();
  private readonly inflight = new Set<Promise<Verdict>>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  /** Events past the cheap gates, waiting for their turn at the crypto gates. */
  private readonly cryptoQueue: Array<() => void> = [];
  private cryptoScheduled = false;

  constructor(private readonly deps: IntakeDeps) {
    this.limits = { ...DEFAULT_INTAKE_LIMITS, ...deps.limits };
    this.kinds = subscriptionKinds(deps.settings);
    this.firstContactPow = enforcedFirstContactPow(deps.settings);
    // Conversation keys of the node key with seal authors (v1) and event authors (v2) alike.
    this.sealKeys = new ConversationKeyCache(deps.keys.secretKey, this.limits.sealKeyCacheSize);
    this.replay = new ReplayCache(this.limits.replayCacheSize);
  }

  /** Run one event through the pipeline. Never throws. */
  handle(event: unknown): Promise<Verdict> {
    const p = this.process(event).catch((err: unknown): Verdict => {
      this.deps.logger.error({ err }, 'intake: unexpected error');
      return { ok: false, reason: 'error', detail: err instanceof Error ? err.message : String(err) };
    });
    const tracked = p.then((v) => {
      this.count(v.ok ? 'dispatched' : v.reason);
      return v;
    });
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
    return tracked;
  }

  /** Resolves when every event handed to handle() so far (and meanwhile) has finished. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Verdict counters since start (for metrics and benchmarks). */
  counters(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  private count(c: IntakeCounter): void {
    this.counts.set(c, (this.counts.get(c) ?? 0) + 1);
  }

  private dropped(reason: DropReason, detail?: string, reply?: Message): Verdict {
    this.deps.logger.debug({ reason, detail }, 'intake: event dropped');
    const v: Verdict = { ok: false, reason };
    if (detail !== undefined) v.detail = detail;
    if (reply !== undefined) v.reply = reply;
    return v;
  }

  private async process(raw: unknown): Promise<Verdict> {
    const { keys, settings, clock } = this.deps;
    const limits = this.limits;

    const kind = gateKind(raw, this.kinds);
    if (!kind.ok) return this.dropped(kind.reason, kind.detail);
    const size = gateSize(kind.event, limits.maxContentBytes);
    if (!size.ok) return this.dropped(size.reason, size.detail);
    const direct = kind.event.kind === KIND_DIRECT_MESSAGE;
    if (direct) {
      const to = gateRecipient(kind.event, keys.pubkey);
      if (!to.ok) return this.dropped(to.reason, to.detail);
    }
    const pow = gatePow(kind.event, settings.mostro.pow);
    if (!pow.ok) return this.dropped(pow.reason, pow.detail);

    // Shed before any crypto when the crypto stage or the handler queue is already saturated.
    if (this.cryptoQueue.length >= limits.maxPendingCrypto) return this.dropped('overloaded', 'shed before decryption: crypto backlog');
    if (this.waiting.length >= limits.maxQueued) return this.dropped('overloaded', 'shed before decryption: handler queue full');
    await this.cryptoTurn();

    // A copy of an event already processed (the same wrap from another relay, or a replay) is
    // dropped before the signature check. The id is remembered only once its signature is valid,
    // so a forged copy must not shadow the original.
    let now = clock.now();
    const claimedId = kind.event['id'];
    if (typeof claimedId === 'string' && this.replay.seen(claimedId, now)) return this.dropped('duplicate');
    const sig = gateSignature(raw);
    if (!sig.ok) return this.dropped(sig.reason, sig.detail);
    const event = sig.event;
    now = clock.now();
    if (this.replay.seen(event.id, now)) return this.dropped('duplicate');
    this.replay.add(event.id, now + limits.pastSeconds + limits.futureSeconds + 1, now);

    const opened = direct ? this.openDirect(event, now) : this.openGiftWrap(event, now);
    if (!opened.ok) return this.dropped(opened.reason, opened.detail);
    const { identity, tradeKey, parsed, transport } = opened;
    const structure = gateStructure(parsed.message);
    if (!structure.ok) return this.dropped(structure.reason, structure.detail);

    if (!(await this.acquire())) return this.dropped('overloaded');
    try {
      // One identity's requests run one at a time, in arrival order: the trade-index check and the
      // handler's index update can't interleave with another request of the same user.
      return await this.identityLocks.run(identity, async () => {
        // Authenticated and well-formed: from now on this key is answered on this transport
        // (including the invalid_trade_index reply below).
        await this.deps.transports?.record(tradeKey, transport, clock.now());
        const ti = await gateTradeIndex(this.deps.tradeIndexStore, parsed, identity, tradeKey, clock.now());
        if (!ti.ok) {
          let reply: Message | undefined;
          if (ti.stale === true) {
            const k = parsed.message.kind;
            reply = cantDoMessage('invalid_trade_index', {
              ...(k.id !== undefined ? { id: k.id } : {}),
              requestId: k.request_id,
            });
            this.deps.outbox.sendMessage(tradeKey, reply, { queue: 'cant-do' });
          }
          return this.dropped(ti.reason, ti.detail, reply);
        }
        if (transport === 'nip44') this.deps.knownSenders?.add(tradeKey);
        const inbound: Inbound = {
          identity,
          tradeKey,
          createdAt: opened.createdAt,
          eventId: event.id,
          fullPrivacy: identity === tradeKey,
        };
        try {
          await this.deps.dispatch(parsed.message, inbound);
        } catch (err) {
          this.count('dispatch-error');
          this.deps.logger.error({ err, action: parsed.message.kind.action }, 'intake: dispatch failed');
        }
        return { ok: true, message: parsed.message, inbound, transport };
      });
    } finally {
      this.release();
    }
  }

  /** v1: wrap → seal → rumor (two ECDHs, two decryptions), freshness, parse, tuple signature. */
  private openGiftWrap(wrap: NostrEvent, now: number): ({ ok: true } & Opened) | Drop {
    const limits = this.limits;
    const unwrapped = gateUnwrap(wrap, this.deps.keys.secretKey, this.sealKeys);
    if (!unwrapped.ok) return unwrapped;
    const { gift } = unwrapped;
    const fresh = gateFreshness(gift.rumor.created_at, now, limits.pastSeconds, limits.futureSeconds);
    if (!fresh.ok) return fresh;
    const parse = gateParse(gift.rumor.content);
    if (!parse.ok) return parse;
    const tuple = gateTupleSignature(parse.parsed, gift.identity, gift.tradeKey);
    if (!tuple.ok) return tuple;
    return {
      ok: true,
      transport: 'gift-wrap',
      identity: gift.identity,
      tradeKey: gift.tradeKey,
      createdAt: gift.rumor.created_at,
      parsed: parse.parsed,
    };
  }

  /** v2: first-contact PoW, one decryption, freshness, 3-tuple parse, trade_sig and identity proof. */
  private openDirect(event: NostrEvent, now: number): ({ ok: true } & Opened) | Drop {
    const limits = this.limits;
    const known = this.deps.knownSenders?.has(event.pubkey) ?? false;
    const first = gateFirstContact(event, known, this.firstContactPow);
    if (!first.ok) return first;
    const open = gateOpenDirect(event, this.deps.keys.secretKey, this.sealKeys);
    if (!open.ok) return open;
    const fresh = gateFreshness(event.created_at, now, limits.pastSeconds, limits.futureSeconds);
    if (!fresh.ok) return fresh;
    const parse = gateParseDirect(open.plaintext);
    if (!parse.ok) return parse;
    const auth = gateDirectSignatures(parse.parsed, event.pubkey);
    if (!auth.ok) return auth;
    return {
      ok: true,
      transport: 'nip44',
      identity: auth.identity,
      tradeKey: event.pubkey,
      createdAt: event.created_at,
      parsed: parse.parsed,
    };
  }

  /** Wait in the FIFO crypto queue; resolved a batch per event-loop turn (setImmediate). */
  private cryptoTurn(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.cryptoQueue.push(resolve);
      this.scheduleCrypto();
    });
  }

  private scheduleCrypto(): void {
    if (this.cryptoScheduled || this.cryptoQueue.length === 0) return;
    this.cryptoScheduled = true;
    setImmediate(() => {
      this.cryptoScheduled = false;
      // The continuations run as microtasks right after this callback, in queue order; the next
      // batch waits for the next turn so that I/O (more frames, replies) is served in between.
      for (const go of this.cryptoQueue.splice(0, Math.max(1, this.limits.cryptoBatch))) go();
      this.scheduleCrypto();
    });
  }

  private acquire(): Promise<boolean> {
    if (this.active < this.limits.maxConcurrent) {
      this.active++;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= this.limits.maxQueued) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.waiting.push(() => {
        this.active++;
        resolve(true);
      });
    });
  }

  private release(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next !== undefined) next();
  }

  /** Current load (for metrics). */
  stats(): { active: number; queued: number; pendingCrypto: number; replayCache: number; sealKeyCache: number } {
    return {
      active: this.active,
      queued: this.waiting.length,
      pendingCrypto: this.cryptoQueue.length,
      replayCache: this.replay.size,
      sealKeyCache: this.sealKeys.size,
    };
  }
}
