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
}

/**
 * Where handlers, flows and jobs put what goes out. Implementations: the relay outbox (gift-wraps
 * and publishes with retries) and the memory outbox used by tests.
 */
export interface Outbox {
  /** Gift-wrap `message` to `recipient` (hex pubkey) from the node key. */
  sendMessage(recipient: string, message: Message, opts?: SendOptions): void;
  /**
   * Sign with the node key and publish. For addressable kinds the outbox keeps `created_at`
   * strictly increasing per (kind, d) so a later state always replaces an earlier one.
   * Resolves with the event id once signed (publication continues in the background).
   */
  publish(event: EventTemplate): Promise<string>;
  /** Wait until everything queued so far was handed to relays (or dropped after retries). */
  flush(): Promise<void>;
}
