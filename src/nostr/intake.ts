/**
 * Inbound pipeline: every event from the relay pool goes through the gates of intake-gates.ts in
 * order, then to the router. `handle()` never throws and always resolves with a verdict.
 *
 * Order: kind → size → PoW → content envelope (NIP-44 length/base64/version, no crypto) →
 * [shedding] → replay cache → id (one hash) → wrap decryption (one ECDH) → outer signature →
 * seal (signature, decryption) → freshness → parse → tuple signature → structure →
 * (per-identity lock) trade index → dispatch. The outer signature is checked after the wrap
 * decrypted: a Schnorr verification costs more than an ECDH (~1.4× native, ~3.5× in WASM), and
 * junk not encrypted to the node fails the decryption first; nothing reaches a handler without a
 * verified id and signature.
 *
 * Protocol v2 (kind 14, when served) goes through the same pipeline, dispatched by kind:
 * kind → size → recipient (`p`) → PoW → first-contact PoW (author not a known active key, on the
 * claimed id) → author allowance → content envelope → [shedding] → replay cache → id → NIP-44
 * decrypt (one ECDH, cached per author once a decryption succeeded) → event signature →
 * freshness (event created_at) → 3-tuple parse → trade_sig and identity proof → structure →
 * trade index → dispatch. A kind-14 author over its allowance is refused even earlier, from the
 * raw frame before it is decoded (refusesFrame, wired as the relay pool's frame gate): a flooding
 * key's events cost a byte search and a map lookup. Handlers get the same Message and Inbound
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
 *
 * Copies: the relay pool hands over every relay's copy of an event (it does not de-duplicate, so a
 * forged copy can never shadow the real one). A copy whose id is in the replay cache (verified
 * before) costs nothing; one read while another copy with the same id is in crypto waits for that
 * copy's verification and is a duplicate if it verified (openOnce), so a node on several relays
 * unwraps each request once even under load.
 */
import type { Logger } from 'pino';
import type { Inbound } from '../app/inbound.js';
import { KeyedLock } from '../app/locks.js';
import type { Clock } from '../clock.js';
import type { Settings } from '../config/types.js';
import type { MostroKeys } from '../context.js';
import { ConversationKeyCache } from '../crypto/conversation-key.js';
import { cantDoMessage } from '../protocol/build.js';
import type { Message } from '../protocol/types.js';
import { AuthorLimiter, DEFAULT_AUTHOR_LIMITS, type AuthorLimits, type AuthorTicket } from './author-limiter.js';
import { InThreadCrypto, MAX_BATCH, type CryptoExecutor } from './crypto-pool.js';
import type { OpenOutcome, VerifyOutcome } from './crypto-tasks.js';
import {
  gateKind,
  gatePayload,
  gateRecipient,
  gatePow,
  gateSize,
  gateStructure,
  gateTradeIndex,
  type DropReason,
  type TradeIndexStore,
} from './intake-gates.js';
import type { Outbox } from './outbox.js';
import { leadingZeroBits } from './pow.js';
import { ReplayCache } from './replay-cache.js';
import { rawDirectAuthor } from './relay-pool.js';
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
  /**
   * With a crypto pool, a round of crypto slots handed out takes microseconds; one that took
   * longer than this (ms) ran crypto on the event-loop thread after all (AdaptiveCrypto) and makes
   * the next round wait for the next turn (scheduleCrypto). Default 1.
   */
  inlineRoundMs: number;
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
  inlineRoundMs: 1,
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
  /**
   * Where the crypto gates run (crypto-pool.ts: worker threads, or this thread). Absent = this
   * thread. Must hold the node key of `keys`.
   */
  crypto?: CryptoExecutor;
  /** Protocol v2 per-author admission (author-limiter.ts). Absent = DEFAULT_AUTHOR_LIMITS. */
  authorLimits?: Partial<AuthorLimits>;
  /**
   * Told, for every event that enters a crypto lane, how long it waited there for a crypto slot
   * (0 when it started at once): `mostrod_intake_lane_wait_seconds`. Absent = not measured.
   */
  onLaneWait?: (lane: CryptoLane, seconds: number) => void;
}

/**
 * Crypto lanes. 'first-contact': events nobody has verified yet (every gift wrap before its
 * signature check, kind 14 from unknown authors). 'priority': events whose signature already
 * verified (the unwrap stage of a gift wrap, the rest of a first-contact kind 14) and kind 14 from
 * known active trade keys or solvers. A priority event never waits behind a first-contact one.
 */
export type CryptoLane = 'priority' | 'first-contact';

export type IntakeCounter = DropReason | 'dispatched' | 'dispatch-error';

/**
 * A claimed kind-14 author that failed authentication: a bad id or signature, or content that does
 * not decrypt with the author's key (its real client never sends either).
 */
function forged(reason: DropReason): boolean {
  return reason === 'signature' || reason === 'unwrap';
}

/** A copy of an event whose crypto is under way (Intake.openOnce): that copy's verification. */
interface InFlightCopy {
  copyOf: Promise<boolean>;
}

/** Marks an event found in the replay cache before its crypto ran. */
const DUPLICATE: OpenOutcome = { signedId: null, verdict: { ok: false, reason: 'duplicate' } };

export class Intake {
  private readonly limits: IntakeLimits;
  private readonly kinds: readonly number[];
  private readonly servesDirect: boolean;
  private readonly firstContactPow: number;
  private readonly sealKeys: ConversationKeyCache;
  private readonly replay: ReplayCache;
  private readonly identityLocks = new KeyedLock();
  private readonly counts = new Map<IntakeCounter, number>();
  private readonly inflight = new Set<Promise<Verdict>>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  private readonly crypto: CryptoExecutor;
  /** Events past the cheap gates, waiting for their turn at the crypto gates, per lane. */
  private readonly lanes: Record<CryptoLane, Array<() => void>> = { priority: [], 'first-contact': [] };
  /** Crypto tasks started and not finished (bounded by maxCryptoInFlight). */
  private inCrypto = 0;
  private readonly maxCryptoInFlight: number;
  private cryptoScheduled = false;
  /** The last round ran crypto on this thread (see scheduleCrypto). */
  private yieldBeforeNextRound = false;
  private readonly shed: Record<CryptoLane, number> = { priority: 0, 'first-contact': 0 };
  /** Kind-14 authors: allowance, priority-lane share, demotion after forged signatures. */
  private readonly authors: AuthorLimiter;
  /**
   * Events whose crypto is under way, by claimed id: resolves true once that copy's id and
   * signature verified (see openOnce).
   */
  private readonly opening = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: IntakeDeps) {
    this.limits = { ...DEFAULT_INTAKE_LIMITS, ...deps.limits };
    this.authors = new AuthorLimiter({ ...DEFAULT_AUTHOR_LIMITS, ...deps.authorLimits });
    this.kinds = subscriptionKinds(deps.settings);
    this.servesDirect = this.kinds.includes(KIND_DIRECT_MESSAGE);
    this.firstContactPow = enforcedFirstContactPow(deps.settings);
    // Conversation keys of the node key with seal authors (v1) and event authors (v2) alike.
    this.sealKeys = new ConversationKeyCache(deps.keys.secretKey, this.limits.sealKeyCacheSize);
    this.replay = new ReplayCache(this.limits.replayCacheSize);
    this.crypto = deps.crypto ?? new InThreadCrypto(deps.keys, this.sealKeys);
    // On this thread a batch runs back to back; a pool gets one batch's worth of tasks per thread
    // (crypto-pool.ts MAX_BATCH), so a priority event never has more than that ahead of it inside
    // the pool. (4 per thread before batching kept the pool's queue short, but also capped the
    // unwraps in flight: the closed loop stalled at 4 / round-trip time with both threads idle.)
    this.maxCryptoInFlight = this.crypto.threads > 0 ? this.crypto.threads * MAX_BATCH : Math.max(1, this.limits.cryptoBatch);
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

  /**
   * The raw frame (relay-pool.ts setFrameGate, before decoding) of a kind-14 event whose author
   * spent its allowance: refused at once and counted as 'author-rate', as process() would have
   * refused the decoded event (AuthorLimiter.refuses is the condition of both admissions failing,
   * so this only ever drops what process() drops). Everything else is decoded and gated as usual.
   */
  refusesFrame(frame: Buffer): boolean {
    if (!this.servesDirect) return false;
    const author = rawDirectAuthor(frame);
    if (author === null || !this.authors.refuses(author, this.deps.clock.now())) return false;
    this.count('author-rate');
    return true;
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

    // Kind 14 names its author in clear. A key that spent its allowance is refused before any
    // crypto (after the cheap gates below). A known active trade key or solver takes the priority lane at
    // once — unless it already has its share queued there, or events claiming it failed their
    // signature lately (then it is first contact). Everything else is first contact until its
    // signature verified.
    const author = direct && typeof kind.event['pubkey'] === 'string' ? kind.event['pubkey'] : null;
    const now0 = clock.now();
    const known = author !== null && (this.deps.knownSenders?.has(author) ?? false);
    // First contact must carry pow_first_contact: checked on the claimed id before any crypto (an
    // id that does not match its event fails the signature check later anyway), so first-contact
    // junk without that work costs no signature verification.
    if (author !== null && !known && this.firstContactPow > 0) {
      const claimed = kind.event['id'];
      if (typeof claimed === 'string' && leadingZeroBits(claimed) < this.firstContactPow) {
        return this.dropped('first-contact-pow', `unknown author needs ${this.firstContactPow} bits`);
      }
    }

    // Content that cannot be a NIP-44 v2 payload (length, alphabet, version byte) never decrypts:
    // dropped here, before any crypto.
    if (author === null) {
      const payload = gatePayload(kind.event);
      if (!payload.ok) return this.dropped(payload.reason, payload.detail);
      return this.pastAdmission(raw, kind.event, direct, null, null, known, now0);
    }
    // A kind-14 author that spent its allowance — counting its events admitted and not yet charged —
    // is refused here, before any crypto and before the payload check (a map lookup instead of a
    // pass over the content: a flooding key's events cost the least); an admitted event is charged
    // once verified, or released.
    // A known key whose claimed events failed their signature lately, with its allowance held by
    // events in flight (a forger naming it keeps that full), has its further events admitted
    // unreserved: they take the first-contact lane (it is demoted) and are charged once verified.
    // They pay the base pow only, as every known key does (upstream #780): requiring
    // pow_first_contact here would lock the real client out again, and would not make forgeries
    // costlier — a forger gets the same verifications from the reserved allowances of a few keys.
    const ticket = this.authors.admit(author, now0) ?? (known ? this.authors.admitSuspected(author, now0) : null);
    if (ticket === null) return this.dropped('author-rate', 'author over its allowance');
    try {
      const payload = gatePayload(kind.event);
      if (!payload.ok) return this.dropped(payload.reason, payload.detail);
      return await this.pastAdmission(raw, kind.event, direct, author, ticket, known, now0);
    } finally {
      this.authors.release(ticket);
    }
  }

  /** From the shedding on (see process); `ticket` is the kind-14 author's admission. */
  private async pastAdmission(
    raw: unknown,
    event: Record<string, unknown>,
    direct: boolean,
    author: string | null,
    ticket: AuthorTicket | null,
    known: boolean,
    now0: number,
  ): Promise<Verdict> {
    const { clock } = this.deps;
    const limits = this.limits;
    // Shed before any crypto when the lane or the handler queue is already saturated.
    if (this.waiting.length >= limits.maxQueued) return this.dropped('overloaded', 'shed before decryption: handler queue full');
    const knownAuthor = known && author !== null && this.admit('priority', false) && this.authors.enterPriority(author, now0);
    const firstLane: CryptoLane = knownAuthor ? 'priority' : 'first-contact';
    if (!knownAuthor && !this.admit(firstLane)) {
      return this.dropped('overloaded', known ? 'shed before decryption: crypto backlog (known author past its priority share)' : 'shed before decryption: crypto backlog');
    }

    // A copy of an event already processed (the same wrap from another relay, or a replay) is
    // dropped before the signature check. The id is remembered only once its signature is valid,
    // so a forged copy must not shadow the original.
    const claimedId = event['id'];
    const fresh = { pastSeconds: limits.pastSeconds, futureSeconds: limits.futureSeconds };
    let outcome: OpenOutcome;
    if (knownAuthor) {
      let opened: OpenOutcome | InFlightCopy;
      try {
        opened = await this.inLane('priority', () => {
          if (typeof claimedId === 'string' && this.replay.seen(claimedId, clock.now())) return Promise.resolve(DUPLICATE);
          return this.openOnce(claimedId, () => this.crypto.run({ op: 'open-direct', event: raw, knownAuthor: true, firstContactPow: this.firstContactPow, now: clock.now(), ...fresh }));
        });
      } finally {
        this.authors.leavePriority(author);
      }
      if ('copyOf' in opened) return this.afterCopy(opened, () => this.pastAdmission(raw, event, direct, author, ticket, known, now0));
      outcome = opened;
      if (outcome.signedId === null && forged(outcome.verdict.reason)) this.authors.demote(author, clock.now());
    } else {
      // With a pool and nothing verified waiting, an event's signature check and the rest of its
      // crypto (a gift wrap's seal and freshness, a kind 14's freshness and tuple signatures) go to
      // the pool as one task (one round trip); otherwise the signature alone, then the priority
      // lane. Either way nothing past the event's signature runs for an event whose signature
      // fails: the task stops there.
      const combine = this.crypto.threads > 0 && this.lanes.priority.length === 0;
      const first = await this.inLane('first-contact', (): Promise<VerifyOutcome | OpenOutcome | InFlightCopy | null> => {
        if (typeof claimedId === 'string' && this.replay.seen(claimedId, clock.now())) return Promise.resolve(null);
        return this.openOnce(claimedId, (): Promise<VerifyOutcome | OpenOutcome> => {
          if (combine) {
            return direct
              ? this.crypto.run({ op: 'open-direct', event: raw, knownAuthor: known, firstContactPow: this.firstContactPow, now: clock.now(), ...fresh })
              : this.crypto.run({ op: 'open-gift-wrap', event: raw, now: clock.now(), ...fresh });
          }
          return this.crypto.run({ op: 'verify-event', event: raw });
        });
      });
      if (first === null) return this.dropped('duplicate');
      if ('copyOf' in first) return this.afterCopy(first, () => this.pastAdmission(raw, event, direct, author, ticket, known, now0));
      if (first.signedId === null) {
        if (author !== null && known && forged(first.verdict.reason)) this.authors.demote(author, clock.now());
        return this.dropped(first.verdict.reason, first.verdict.detail);
      }
      const now = clock.now();
      // Signature verified: the author is charged (a forger never reaches this point).
      if (ticket !== null && !this.authors.take(ticket, now)) return this.dropped('author-rate', 'author over its allowance');
      if (this.replay.seen(first.signedId, now)) return this.dropped('duplicate');
      this.replay.add(first.signedId, now + limits.pastSeconds + limits.futureSeconds + 1, now);
      if ('verdict' in first) {
        outcome = first;
      } else {
        // Signature verified: the rest of its crypto is priority work.
        if (!this.admit('priority')) return this.dropped('overloaded', 'shed after the signature: priority crypto backlog');
        outcome = await this.inLane('priority', () =>
          direct
            ? this.crypto.run({ op: 'open-direct', event: raw, plaintext: first.opened, knownAuthor: known, firstContactPow: this.firstContactPow, now: clock.now(), ...fresh })
            : this.crypto.run({ op: 'open-gift-wrap', event: raw, sealText: first.opened, now: clock.now(), ...fresh }),
        );
      }
    }
    if (outcome.signedId === null) {
      if (outcome === DUPLICATE) return this.dropped('duplicate');
      return this.dropped(outcome.verdict.reason, outcome.verdict.detail);
    }
    if (knownAuthor) {
      const now = clock.now();
      if (this.replay.seen(outcome.signedId, now)) return this.dropped('duplicate');
      this.replay.add(outcome.signedId, now + limits.pastSeconds + limits.futureSeconds + 1, now);
      if (ticket !== null && !this.authors.take(ticket, now)) return this.dropped('author-rate', 'author over its allowance');
    }
    const opened = outcome.verdict;
    if (!opened.ok) return this.dropped(opened.reason, opened.detail);
    const eventId = outcome.signedId;
    const transport: WireTransport = direct ? 'nip44' : 'gift-wrap';
    const { identity, tradeKey, parsed } = opened;
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
          eventId,
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

  /**
   * Runs `open` (the crypto that verifies the event's id and signature, and maybe more) unless a
   * copy with the same claimed id is in crypto already — the same event from another relay, read
   * before the first copy's signature verified. Such a copy does not pay the crypto again: it
   * gets that copy's verification to wait for (InFlightCopy, outside any crypto slot). The replay
   * cache only learns an id once its signature verified, so before this every relay's copy that
   * started its crypto meanwhile paid for the whole of it (a node with eight relays, under load:
   * up to eight unwraps per request).
   */
  private openOnce<T extends { signedId: string | null }>(claimedId: unknown, open: () => Promise<T>): Promise<T | InFlightCopy> {
    if (typeof claimedId !== 'string') return open();
    const running = this.opening.get(claimedId);
    if (running !== undefined) return Promise.resolve({ copyOf: running });
    const p = open();
    const verified = p.then(
      (o) => o.signedId !== null,
      () => false,
    );
    this.opening.set(claimedId, verified);
    // A verified id stays until the next turn, by when the copy that verified it has put it in the
    // replay cache; a failed one goes at once, so the copies waiting for it run their own crypto.
    void verified.then((ok) => {
      const done = (): void => {
        if (this.opening.get(claimedId) === verified) this.opening.delete(claimedId);
      };
      if (ok) setImmediate(done);
      else done();
    });
    return p;
  }

  /**
   * A copy whose twin was in crypto: a duplicate once the twin's id and signature verified (the twin
   * goes on, or was dropped for what this copy would be dropped for too). If the twin failed (a
   * forged copy read first, or a crypto thread that failed it), this copy is processed on its own,
   * from the shedding on: a forged copy never shadows the real event.
   */
  private async afterCopy(copy: InFlightCopy, again: () => Promise<Verdict>): Promise<Verdict> {
    if (await copy.copyOf) return this.dropped('duplicate', 'a copy of an event in crypto');
    return again();
  }

  /** Room in `lane` for one more event? Counts a shed verdict per lane when not (unless `count` is false). */
  private admit(lane: CryptoLane, count = true): boolean {
    if (this.lanes[lane].length < this.limits.maxPendingCrypto) return true;
    if (!count) return false;
    this.shed[lane]++;
    return false;
  }

  /**
   * Wait for a crypto slot in `lane`, run `f`, give the slot back. A queued event's `f` is started
   * by scheduleCrypto itself (not by a continuation a microtask later), so with a pool the task is
   * already handed to it when scheduleCrypto asks the pool to send what it holds (flushNow).
   */
  private inLane<T>(lane: CryptoLane, f: () => Promise<T>): Promise<T> {
    const observe = this.deps.onLaneWait;
    if (lane === 'priority' && this.lanes.priority.length === 0 && this.inCrypto < this.maxCryptoInFlight) {
      this.inCrypto++; // a free slot and nobody ahead: priority work starts at once
      observe?.(lane, 0);
      return this.inSlot(f);
    }
    const queuedAt = observe === undefined ? 0 : performance.now();
    return new Promise<T>((resolve, reject) => {
      this.lanes[lane].push(() => {
        observe?.(lane, (performance.now() - queuedAt) / 1000);
        this.inSlot(f).then(resolve, reject);
      });
      this.scheduleCrypto();
    });
  }

  /** Runs `f` in a slot already counted in inCrypto, and gives the slot back once it settles. */
  private async inSlot<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } finally {
      this.inCrypto--;
      this.scheduleCrypto();
    }
  }

  /**
   * Slots are handed out priority lane first, while fewer than maxCryptoInFlight tasks run, so a
   * flood of first-contact events never delays a verified one. On this thread (no pool) a batch is
   * started per event-loop turn (setImmediate), so the socket keeps being read while a backlog is
   * worked off. With a pool, starting a task only hands it over: the slots a pool batch's answer
   * freed are filled in the same turn (a microtask, once every task of the answer gave its slot
   * back) and the new tasks leave for the threads at once (flushNow), before that answer's handlers
   * run — otherwise the threads wait idle for the length of those handlers each round. A round in
   * which crypto ran on this thread after all (AdaptiveCrypto, an idle loop) lets I/O in before
   * the next one.
   */
  private scheduleCrypto(): void {
    if (this.cryptoScheduled || this.inCrypto >= this.maxCryptoInFlight) return;
    if (this.lanes.priority.length === 0 && this.lanes['first-contact'].length === 0) return;
    this.cryptoScheduled = true;
    const pool = this.crypto.threads > 0;
    if (pool && !this.yieldBeforeNextRound) queueMicrotask(this.startCryptoRound);
    else setImmediate(this.startCryptoRound);
  }

  /** One round of scheduleCrypto. */
  private readonly startCryptoRound = (): void => {
    this.cryptoScheduled = false;
    const pool = this.crypto.threads > 0;
    const t0 = pool ? performance.now() : 0;
    let started = 0;
    while (started < Math.max(1, this.limits.cryptoBatch) && this.inCrypto < this.maxCryptoInFlight) {
      const go = this.lanes.priority.shift() ?? this.lanes['first-contact'].shift();
      if (go === undefined) break;
      this.inCrypto++;
      started++;
      go();
    }
    if (pool && started > 0) {
      this.crypto.flushNow?.();
      this.yieldBeforeNextRound = performance.now() - t0 > this.limits.inlineRoundMs;
    }
    this.scheduleCrypto();
  };

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
  stats(): {
    active: number;
    queued: number;
    pendingCrypto: number;
    priorityQueued: number;
    firstContactQueued: number;
    inCrypto: number;
    shedPriority: number;
    shedFirstContact: number;
    replayCache: number;
    sealKeyCache: number;
  } {
    return {
      active: this.active,
      queued: this.waiting.length,
      pendingCrypto: this.lanes.priority.length + this.lanes['first-contact'].length,
      priorityQueued: this.lanes.priority.length,
      firstContactQueued: this.lanes['first-contact'].length,
      inCrypto: this.inCrypto,
      shedPriority: this.shed.priority,
      shedFirstContact: this.shed['first-contact'],
      replayCache: this.replay.size,
      sealKeyCache: this.sealKeys.size,
    };
  }
}

/** The intake's load figures (queues, crypto in flight, sheds per lane), read by /metrics. */
export type IntakeLoad = ReturnType<Intake['stats']>;

/** The load of an intake that has not started (all zero). */
export const IDLE_INTAKE: IntakeLoad = {
  active: 0,
  queued: 0,
  pendingCrypto: 0,
  priorityQueued: 0,
  firstContactQueued: 0,
  inCrypto: 0,
  shedPriority: 0,
  shedFirstContact: 0,
  replayCache: 0,
  sealKeyCache: 0,
};
