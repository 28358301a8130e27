import { finalizeEvent, getEventHash, getPublicKey, type Event } from 'nostr-tools/pure';
import type { Clock } from '../../src/clock.js';
import type { DurableNotice, EventTemplate, MessageQueue, Outbox, PreparedEvent, PublishOptions, SendOptions } from '../../src/nostr/outbox.js';
import type { Action, Message } from '../../src/protocol/types.js';

export interface SentMessage {
  to: string;
  message: Message;
  queue: MessageQueue;
}

/**
 * Outbox for tests: records messages and signs published events with the node key. A published
 * event counts as accepted by a relay at once (`onOutcome(true)`), unless `refuse` is set: then
 * every relay refused it (`onOutcome(false)`).
 */
export class MemoryOutbox implements Outbox {
  readonly sent: SentMessage[] = [];
  readonly published: Event[] = [];
  /** Publications from now on are refused by every relay (still recorded in `published`). */
  refuse = false;

  constructor(
    private readonly secretKey: Uint8Array,
    private readonly clock?: Clock,
  ) {}

  /**
   * Stored notices (outbox.ts DurableNotice) count as accepted by a relay at once (`done`), unless
   * `holdNotices` is set: then they are recorded and left in flight (see `heldNotices`).
   */
  holdNotices = false;
  readonly heldNotices: DurableNotice[] = [];

  sendMessage(recipient: string, message: Message, opts?: SendOptions): void {
    this.sent.push({ to: recipient, message, queue: opts?.queue ?? 'order' });
    const notice = opts?.notice;
    if (notice === undefined) return;
    if (this.holdNotices) this.heldNotices.push(notice);
    else notice.done();
  }

  publish(event: EventTemplate, opts?: PublishOptions): Promise<string> {
    const signed = finalizeEvent(
      {
        kind: event.kind,
        tags: event.tags,
        content: event.content,
        created_at: event.created_at ?? this.clock?.now() ?? Math.floor(Date.now() / 1000),
      },
      this.secretKey,
    );
    this.published.push(signed);
    opts?.onOutcome?.(!this.refuse);
    return Promise.resolve(signed.id);
  }

  /** Prepared events not published (yet): a transaction that failed leaves its event here. */
  readonly prepared: PreparedEvent[] = [];

  prepare(event: EventTemplate): PreparedEvent {
    const created_at = event.created_at ?? this.clock?.now() ?? Math.floor(Date.now() / 1000);
    const unsigned = { kind: event.kind, tags: event.tags, content: event.content, created_at, pubkey: getPublicKey(this.secretKey) };
    const p = { id: getEventHash(unsigned), kind: event.kind, tags: event.tags, content: event.content, created_at };
    this.prepared.push(p);
    return p;
  }

  publishPrepared(event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>): void {
    const i = this.prepared.indexOf(event);
    if (i < 0) throw new Error('publishPrepared: not an event of prepare()');
    this.prepared.splice(i, 1);
    const signed = finalizeEvent({ kind: event.kind, tags: event.tags, content: event.content, created_at: event.created_at }, this.secretKey);
    if (signed.id !== event.id) throw new Error(`publishPrepared: signed id ${signed.id} differs from the prepared ${event.id}`);
    this.published.push(signed);
    opts?.onOutcome?.(!this.refuse);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  messagesTo(pubkey: string): Message[] {
    return this.sent.filter((s) => s.to === pubkey).map((s) => s.message);
  }

  actions(pubkey: string): Action[] {
    return this.messagesTo(pubkey).map((m) => m.kind.action);
  }

  eventsOfKind(kind: number): Event[] {
    return this.published.filter((e) => e.kind === kind);
  }

  clear(): void {
    this.sent.length = 0;
    this.published.length = 0;
    this.prepared.length = 0;
  }
}
