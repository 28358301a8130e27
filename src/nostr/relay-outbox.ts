/**
 * The production Outbox (DAEMON.md §4.10, §8.4, §8.6).
 *
 * Messages: three FIFO queues (order, cant-do, restore) drained concurrently. Within a queue,
 * messages are wrapped and handed to the relays strictly in enqueue order (the EVENT frames go
 * out in that order on each connection), with up to `window` of them awaiting relay OKs at once —
 * no 250 ms pacing like mostrod. A message counts as sent when at least one relay accepted it;
 * otherwise it is retried with backoff (a retried message may then arrive after later ones) and
 * finally logged as dropped.
 *
 * Transport per recipient (protocol v2, transport.ts): each message goes on the transport its
 * recipient key speaks (`transports`, absent = gift wrap for everyone, as 0.17.1). Gift wrap: the
 * message made 0.8-decodable by toProtocolV1 (version 1, today's bytes). Kind 14: signed by the node
 * key, `[message(version 2), null, null]`, `p` = recipient, NIP-40 expiration after `dmLifetime`.
 * A message is never sent on both.
 *
 * Events: `publish()` signs with the node key, keeps created_at strictly increasing per
 * replaceable/addressable coordinate (same-second updates would otherwise tie and relays keep
 * the lowest id — STACK.md §8), and publishes to every relay, retrying the relays that refused
 * or did not answer (upstream #872/#888).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DurableFn } from '../db/durability.js';
import type { MostroKeys } from '../context.js';
import { getEventHash, type NostrEvent } from '../crypto/event.js';
import type { Message } from '../protocol/types.js';
import { toProtocolV1 } from '../protocol/v1-compat.js';
import { CreatedAtClock } from './created-at.js';
import { InThreadCrypto, type CryptoExecutor } from './crypto-pool.js';
import type { DurableNotice, EventTemplate, MessageQueue, Outbox, PreparedEvent, PublishOptions, SendOptions } from './outbox.js';
import type { PublishResult } from './relay-pool.js';
import type { TransportResolver } from './transport-registry.js';
import type { WireTransport } from './transport.js';

/** What the outbox needs from the relay pool. */
export interface Publisher {
  publish(event: NostrEvent, urls?: readonly string[]): Promise<PublishResult[]>;
  urls(): string[];
}

export interface RetryPolicy {
  attempts: number;
  initialMs: number;
  maxMs: number;
}

export interface RelayOutboxOptions {
  pool: Publisher;
  keys: MostroKeys;
  clock: Clock;
  logger: Logger;
  /** NIP-13 difficulty mined on outgoing wraps (mostrod mines none). Default 0. */
  pow?: number;
  /** Which transport each recipient key speaks; absent = gift wrap for every recipient. */
  transports?: TransportResolver;
  /** NIP-40 lifetime (s) of kind-14 messages (`[expiration] dm_days`). Default 30 days. */
  dmLifetimeSeconds?: number;
  messageRetry?: Partial<RetryPolicy>;
  publishRetry?: Partial<RetryPolicy>;
  /** Messages of one queue awaiting relay OKs at once. Default 32. */
  window?: number;
  /**
   * cant-do replies waiting at most; more are dropped (counted in messagesDropped) — a flood of
   * refused requests must not grow memory without bound. Trade notices (order, restore queues) are
   * never dropped. Default 1000.
   */
  maxCantDoQueued?: number;
  /** Injectable delay (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Where wraps and signatures are computed (crypto-pool.ts). Absent = this thread. */
  crypto?: CryptoExecutor;
  /**
   * The database's durability barrier (db/durability.ts): every hand-off to the relays first waits
   * until the commits made before it are on disk. Absent = commits are durable when made.
   */
  durable?: DurableFn;
  /**
   * Called once per message when its frame is first handed to the relays, with the seconds since
   * sendMessage queued it: the queue's window, the wrap (crypto thread), the wait for the messages
   * before it and for the durability barrier's sync. Not called again on a retry, nor for a message
   * dropped before any hand-off (its wrap failed, or it has no form on the recipient's protocol).
   */
  onHandOff?: (queue: MessageQueue, seconds: number) => void;
}

const QUEUES: readonly MessageQueue[] = ['order', 'cant-do', 'restore'];

interface QueuedMessage {
  to: string;
  message: Message;
  createdAt: number;
  queue: MessageQueue;
  /** performance.now() when queued (onHandOff) */
  queuedAt: number;
  done: () => void;
  /** A stored notice (outbox.ts DurableNotice). */
  notice: DurableNotice | undefined;
}

interface QueueState {
  items: QueuedMessage[];
  inflight: number;
  /** Settles once the previous message of this queue was handed to the relays (wire order). */
  handedOff: Promise<void>;
}

export interface OutboxStats {
  queued: Record<MessageQueue, number>;
  inflight: number;
  messagesSent: number;
  messagesDropped: number;
  eventsPublished: number;
  eventsIncomplete: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RelayOutbox implements Outbox {
  private readonly queues = new Map<MessageQueue, QueueState>();
  private readonly pending = new Set<Promise<void>>();
  private readonly crypto: CryptoExecutor;
  private readonly createdAts = new CreatedAtClock();
  private readonly messageRetry: RetryPolicy;
  private readonly publishRetry: RetryPolicy;
  private readonly window: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly counters = { messagesSent: 0, messagesDropped: 0, eventsPublished: 0, eventsIncomplete: 0 };
  /** Messages wrapped per transport. */
  private readonly wrapped: Record<WireTransport, number> = { 'gift-wrap': 0, nip44: 0 };

  constructor(private readonly o: RelayOutboxOptions) {
    for (const q of QUEUES) this.queues.set(q, { items: [], inflight: 0, handedOff: Promise.resolve() });
    this.crypto = o.crypto ?? new InThreadCrypto(o.keys);
    this.messageRetry = { attempts: 5, initialMs: 500, maxMs: 8000, ...o.messageRetry };
    this.publishRetry = { attempts: 8, initialMs: 1000, maxMs: 30_000, ...o.publishRetry };
    this.window = o.window ?? 32;
    this.sleep = o.sleep ?? defaultSleep;
  }

  sendMessage(recipient: string, message: Message, opts?: SendOptions): void {
    const queue = opts?.queue ?? 'order';
    const state = this.queues.get(queue);
    if (state === undefined) throw new Error(`unknown queue ${queue}`);
    if (queue === 'cant-do' && state.items.length >= (this.o.maxCantDoQueued ?? 1000)) {
      this.counters.messagesDropped++;
      opts?.notice?.released();
      return;
    }
    let done!: () => void;
    const p = new Promise<void>((r) => (done = r));
    this.track(p);
    const createdAt = this.o.clock.now();
    // A message to a key is activity of that key: its remembered transport is kept a retention
    // period from now (transport-registry.ts), so the transport it is wrapped on is still known.
    this.o.transports?.touch?.(recipient, createdAt);
    state.items.push({ to: recipient, message, createdAt, queue, queuedAt: performance.now(), done, notice: opts?.notice });
    this.pump(state);
  }

  /** Protocol version of the client behind `recipient`: 2 when it is on kind 14, else 1. */
  protocolOf(recipient: string): 1 | 2 {
    return this.transportOf(recipient) === 'nip44' ? 2 : 1;
  }

  /** Messages wrapped so far on each transport. */
  transportStats(): Record<WireTransport, number> {
    return { ...this.wrapped };
  }

  private transportOf(recipient: string): WireTransport {
    return this.o.transports?.transportOf(recipient) ?? 'gift-wrap';
  }

  /**
   * The event carrying `item` on its recipient's transport; null = not expressible there. A stored
   * notice keeps the event an earlier attempt made, and a new one is recorded before it is used.
   */
  private async wrap(item: QueuedMessage): Promise<NostrEvent | null> {
    const notice = item.notice;
    if (notice === undefined) return this.wrapNew(item);
    if (notice.event !== null) return notice.event;
    const event = await this.wrapNew(item);
    if (event !== null) await notice.wrapped(event);
    return event;
  }

  private async wrapNew(item: QueuedMessage): Promise<NostrEvent | null> {
    const pow = this.o.pow ?? 0;
    if (this.transportOf(item.to) === 'nip44') {
      this.wrapped.nip44++;
      return this.crypto.run({
        op: 'direct-message',
        message: item.message,
        recipient: item.to,
        now: item.createdAt,
        expiration: item.createdAt + (this.o.dmLifetimeSeconds ?? 30 * 24 * 60 * 60),
        pow,
      });
    }
    const v1 = toProtocolV1(item.message);
    if (v1 === null) return null;
    this.wrapped['gift-wrap']++;
    return this.crypto.run({ op: 'wrap-message', message: v1, recipient: item.to, now: item.createdAt, pow });
  }

  publish(template: EventTemplate, opts?: PublishOptions): Promise<string> {
    const createdAt = this.reserveCreatedAt(template);
    opts?.onCreatedAt?.(createdAt);
    const signed = this.crypto.run({ op: 'sign-event', kind: template.kind, tags: template.tags, content: template.content, created_at: createdAt });
    const onOutcome = opts?.onOutcome;
    this.track(signed.then((event) => this.publishWithRetry(event, onOutcome), () => onOutcome?.(false)));
    return signed.then((event) => event.id);
  }

  prepare(template: EventTemplate): PreparedEvent {
    const createdAt = this.reserveCreatedAt(template);
    const id = getEventHash({ pubkey: this.o.keys.pubkey, created_at: createdAt, kind: template.kind, tags: template.tags, content: template.content });
    return { id, kind: template.kind, tags: template.tags, content: template.content, created_at: createdAt };
  }

  publishPrepared(event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>): void {
    const signed = this.crypto.run({ op: 'sign-event', kind: event.kind, tags: event.tags, content: event.content, created_at: event.created_at });
    const onOutcome = opts?.onOutcome;
    this.track(
      signed.then(
        (e) => {
          // The same fields and key give the same id; anything else is a bug worth seeing.
          if (e.id !== event.id) this.o.logger.error({ kind: e.kind, prepared: event.id, signed: e.id }, 'outbox: a prepared event was signed with another id');
          return this.publishWithRetry(e, onOutcome);
        },
        (err: unknown) => {
          this.o.logger.error({ err, kind: event.kind, id: event.id }, 'outbox: could not sign a prepared event; not published');
          onOutcome?.(false);
        },
      ),
    );
  }

  /** created_at.ts: strictly after the coordinate's last one (this process's or a remembered one). */
  private reserveCreatedAt(template: EventTemplate): number {
    return this.createdAts.reserve(template.kind, template.tags, template.created_at ?? this.o.clock.now());
  }

  /** An earlier process published this coordinate's event with `createdAt` (created-at.ts). */
  rememberCreatedAt(kind: number, d: string, createdAt: number): void {
    this.createdAts.remember(kind, d, createdAt);
  }

  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  stats(): OutboxStats {
    const queued = { order: 0, 'cant-do': 0, restore: 0 } as Record<MessageQueue, number>;
    let inflight = 0;
    for (const [name, s] of this.queues) {
      queued[name] = s.items.length;
      inflight += s.inflight;
    }
    return { queued, inflight, ...this.counters };
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * Start up to `window` messages of the queue: each is wrapped (on a crypto thread when there is a
   * pool, several at once) and handed to the relays strictly in enqueue order — a message whose
   * wrap is ready waits for the previous one's hand-off (pool.publish writes the EVENT frames
   * synchronously, so hand-off order = wire order).
   */
  private pump(state: QueueState): void {
    while (state.inflight < this.window && state.items.length > 0) {
      const item = state.items.shift()!;
      state.inflight++;
      const wrapped = this.wrap(item);
      const previous = state.handedOff;
      const finish = (): void => {
        state.inflight--;
        item.done();
        this.pump(state);
      };
      state.handedOff = (async () => {
        let wrap: NostrEvent | null;
        try {
          wrap = await wrapped;
        } catch (err) {
          await previous;
          this.o.logger.error(
            { err, action: item.message.kind.action, notice: item.notice?.id },
            item.notice === undefined ? 'outbox: could not wrap message; dropped' : 'outbox: could not wrap or record a stored notice; kept for a later attempt',
          );
          this.counters.messagesDropped++;
          item.notice?.released();
          finish();
          return;
        }
        await previous;
        if (wrap === null) {
          this.o.logger.warn({ action: item.message.kind.action }, 'outbox: message not expressible for a protocol-v1 client; dropped');
          this.counters.messagesDropped++;
          item.notice?.done();
          finish();
          return;
        }
        void this.deliver(wrap, item).finally(finish);
      })();
    }
  }

  /**
   * pool.publish once the commits made so far are durable. Without a wait (already durable) the
   * frames are written synchronously as before; waits resolve in request order, so hand-off order
   * is kept either way.
   */
  private handOff(event: NostrEvent, urls?: readonly string[], onWrite?: () => void): Promise<PublishResult[]> {
    const wait = this.o.durable?.() ?? null;
    const write = (): Promise<PublishResult[]> => {
      onWrite?.();
      return this.o.pool.publish(event, urls);
    };
    return wait === null ? write() : wait.then(write);
  }

  private backoff(policy: RetryPolicy, attempt: number): number {
    const base = Math.min(policy.maxMs, policy.initialMs * 2 ** (attempt - 1));
    return Math.round(base * (0.75 + 0.5 * Math.random()));
  }

  private async deliver(wrap: NostrEvent, item: QueuedMessage): Promise<void> {
    const policy = this.messageRetry;
    let results: PublishResult[] = [];
    const observe = this.o.onHandOff;
    const firstWrite = observe === undefined ? undefined : () => observe(item.queue, (performance.now() - item.queuedAt) / 1000);
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (attempt > 1) await this.sleep(this.backoff(policy, attempt - 1));
      try {
        results = await this.handOff(wrap, undefined, attempt === 1 ? firstWrite : undefined);
      } catch (err) {
        results = [{ url: '*', ok: false, message: err instanceof Error ? err.message : String(err) }];
      }
      if (results.some((r) => r.ok)) {
        this.counters.messagesSent++;
        item.notice?.done();
        return;
      }
    }
    this.counters.messagesDropped++;
    item.notice?.released();
    this.o.logger.warn(
      { action: item.message.kind.action, attempts: policy.attempts, relays: results.map((r) => `${r.url}: ${r.message}`) },
      item.notice === undefined ? 'outbox: message not accepted by any relay; dropped' : 'outbox: stored notice not accepted by any relay; kept for the next redelivery',
    );
  }

  /** `onOutcome` (PublishOptions): true at the first relay's OK, false if none accepted it through every retry. */
  private async publishWithRetry(event: NostrEvent, onOutcome?: (accepted: boolean) => void): Promise<void> {
    const policy = this.publishRetry;
    let targets: readonly string[] = this.o.pool.urls();
    let results: PublishResult[] = [];
    let accepted = false;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (attempt > 1) await this.sleep(this.backoff(policy, attempt - 1));
      try {
        results = await this.handOff(event, targets);
      } catch (err) {
        results = targets.map((url) => ({ url, ok: false, message: err instanceof Error ? err.message : String(err) }));
      }
      if (!accepted && results.some((r) => r.ok)) {
        accepted = true;
        onOutcome?.(true);
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length === 0) {
        this.counters.eventsPublished++;
        if (!accepted) onOutcome?.(false); // no relay to publish to
        return;
      }
      targets = failed.map((r) => r.url);
      this.o.logger.debug({ kind: event.kind, id: event.id, attempt, failed }, 'outbox: publish incomplete; will retry');
    }
    this.counters.eventsIncomplete++;
    if (!accepted) onOutcome?.(false);
    this.o.logger.warn(
      { kind: event.kind, id: event.id, relays: results.filter((r) => !r.ok).map((r) => `${r.url}: ${r.message}`) },
      'outbox: event not accepted by every relay after retries',
    );
  }
}
