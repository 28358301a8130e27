import type { NostrEvent } from '../crypto/event.js';
import type { Executor } from '../db/schema.js';
import type { Message } from '../protocol/types.js';

/** An unsigned event the node will sign with its own key. `created_at` defaults to now. */
export interface EventTemplate {
  kind: number;
  tags: string[][];
  content: string;
  created_at?: number;
}

export type MessageQueue = 'order' | 'cant-do' | 'restore';

export interface SendOptions {
  /** Which FIFO queue (mostrod keeps three); default 'order'. */
  queue?: MessageQueue;
  /** The message is a stored notice (app/flows/notices.ts): see DurableNotice. */
  notice?: DurableNotice;
}

/**
 * A message stored in the durable outbox (`mostrod_ts_notices`). The outbox sends `event` as is
 * when an earlier attempt made it (the same event id: relays and clients drop a repeat); otherwise
 * it wraps the message, calls `wrapped` and hands the event to the relays only once that resolved
 * (and, as every hand-off, after the durability barrier, which then covers the recorded event).
 */
export interface DurableNotice {
  readonly id: number;
  readonly event: NostrEvent | null;
  /** Record the wrapped event; a rejection leaves the notice stored, unsent, for a later attempt. */
  wrapped(event: NostrEvent): Promise<void>;
  /** A relay accepted the event, or the message has no form on the recipient's protocol. Must not throw. */
  done(): void;
  /** No relay accepted it through every retry (or it could not be wrapped): it stays stored. Must not throw. */
  released(): void;
}

export interface PublishOptions {
  /**
   * The caller commits a transaction right after `publish` resolves (publishOrder: the event id and
   * the change log). A decorator that records the publication in the database (the publication
   * ledger) appends its write here instead of committing it on its own, so the caller's one
   * transaction carries both. Each write must not throw (it logs its own failure).
   */
  writes?: Array<(ex: Executor) => Promise<void>>;
  /**
   * Called once with the publication's outcome: true as soon as a relay accepted the event (the
   * outbox goes on retrying the relays that did not), false when no relay accepted it through all
   * retries, or it could not be signed. The order publisher deletes the change-log row the event
   * publishes only then (db/order-changes.ts OrderChangeAcks). Must not throw.
   */
  onOutcome?: (accepted: boolean) => void;
  /**
   * Called by `publish`, before it returns, with the created_at the outbox gave the event (the
   * template's may have been moved past the coordinate's last one). The publication ledger records
   * it, so a restarted process can go on after it (`rememberCreatedAt`). Must not throw.
   */
  onCreatedAt?: (createdAt: number) => void;
}

/** An event with its created_at and id fixed, not signed yet (Outbox.prepare). */
export interface PreparedEvent {
  readonly id: string;
  readonly kind: number;
  readonly tags: string[][];
  readonly content: string;
  readonly created_at: number;
}

/**
 * Where handlers, flows and jobs put what goes out. Implementations: the relay outbox (gift-wraps
 * and publishes with retries) and the memory outbox used by tests.
 */
export interface Outbox {
  /**
   * Send `message` to `recipient` (hex pubkey) from the node key, on the transport that key speaks
   * (gift wrap, or kind 14 for a protocol-v2 client). Handlers need not know which; a message to a
   * protocol-v1 client is reduced to mostro-core 0.8 vocabulary (protocol/v1-compat.ts).
   */
  sendMessage(recipient: string, message: Message, opts?: SendOptions): void;
  /**
   * Protocol version of the client behind `recipient`: 2 = it reads mostro-core ≥ 0.13 vocabulary
   * (e.g. a `price_too_stale` reason); 1 = mostro-core 0.8 only. Absent = 1 for everyone.
   */
  protocolOf?(recipient: string): 1 | 2;
  /**
   * Sign with the node key and publish. For addressable kinds the outbox keeps `created_at`
   * strictly increasing per (kind, d) so a later state always replaces an earlier one.
   * Resolves with the event id once signed (publication continues in the background).
   */
  publish(event: EventTemplate, opts?: PublishOptions): Promise<string>;
  /**
   * Fix an event's created_at as `publish` would and compute its id, without signing or sending
   * anything. The caller records the id in the transaction that makes the event true (a new
   * order's insert) and calls `publishPrepared` once that transaction committed; a failed one
   * publishes nothing. So the event is signed and handed to the relays after the commit (the
   * durability barrier covers it), and the id needs no second transaction. `opts.writes` as for
   * `publish`. Optional, together with `publishPrepared`: without them callers publish first and
   * record the id after.
   */
  prepare?(event: EventTemplate, opts?: PublishOptions): PreparedEvent;
  /**
   * Sign and publish an event from `prepare` (publication continues in the background);
   * `opts.onOutcome` as for `publish`.
   */
  publishPrepared?(event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>): void;
  /**
   * An earlier process published the event of this coordinate (`kind`, `d`) with `createdAt`: the
   * next one must get a later created_at (created-at.ts). Optional: an outbox that keeps no
   * created_at order ignores it.
   */
  rememberCreatedAt?(kind: number, d: string, createdAt: number): void;
  /** Wait until everything queued so far was handed to relays (or dropped after retries). */
  flush(): Promise<void>;
}

/** Protocol version of the client behind `recipient` (1 when the outbox cannot tell). */
export function recipientProtocol(outbox: Outbox, recipient: string): 1 | 2 {
  return outbox.protocolOf?.(recipient) ?? 1;
}
