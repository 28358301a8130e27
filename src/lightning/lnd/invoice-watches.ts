/**
 * Hold-invoice watches over LND's SubscribeSingleInvoice: one stream per watched hash, however many
 * listeners. A stream that ends or errors is resubscribed (with backoff) unless the invoice is
 * final; after a (re)connect `reconcile()` looks every watched invoice up by hash, delivers its
 * state and resubscribes, so no state change is missed across outages.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { InvoiceLookup, InvoiceUpdate } from '../backend.js';
import { isFinalInvoiceState, toHoldInvoiceState } from './mapping.js';
import type { Invoice } from './protos.js';

export type InvoiceListener = (update: InvoiceUpdate) => void;

export interface InvoiceWatchDeps {
  logger: Logger;
  /** Opens the stream, or returns null when there is no usable connection (the next reconcile subscribes). */
  open(hash: string): grpc.ClientReadableStream<Invoice> | null;
  lookup(hash: string): Promise<InvoiceLookup | null>;
  isUp(): boolean;
  /** Called with stream errors (an UNAVAILABLE one makes the backend check the link). */
  noteFailure(err: Error): void;
  resubscribeDelayMs: number;
  maxDelayMs: number;
}

interface Watch {
  hash: string;
  listeners: Set<InvoiceListener>;
  stream: grpc.ClientReadableStream<Invoice> | null;
  last: InvoiceUpdate['state'] | null;
  timer: NodeJS.Timeout | null;
  delayMs: number;
}

export class InvoiceWatches {
  private readonly watches = new Map<string, Watch>();
  private closed = false;

  constructor(private readonly deps: InvoiceWatchDeps) {}

  /** `hash` must be lowercase hex (validated by the caller). */
  add(hash: string, listener: InvoiceListener): () => void {
    let w = this.watches.get(hash);
    if (!w) {
      w = { hash, listeners: new Set(), stream: null, last: null, timer: null, delayMs: this.deps.resubscribeDelayMs };
      this.watches.set(hash, w);
      this.subscribe(w);
    } else if (w.last !== null) {
      const update: InvoiceUpdate = { hash, state: w.last };
      queueMicrotask(() => this.deliverTo(listener, update));
    }
    w.listeners.add(listener);
    const watch = w;
    return () => {
      watch.listeners.delete(listener);
      if (watch.listeners.size === 0) this.end(watch);
    };
  }

  get size(): number {
    return this.watches.size;
  }

  private deliverTo(listener: InvoiceListener, update: InvoiceUpdate): void {
    try {
      const r: unknown = listener(update);
      if (r instanceof Promise) r.catch((err: unknown) => this.deps.logger.error({ err, hash: update.hash }, 'invoice listener failed'));
    } catch (err) {
      this.deps.logger.error({ err, hash: update.hash }, 'invoice listener failed');
    }
  }

  private deliver(w: Watch, update: InvoiceUpdate): void {
    for (const l of [...w.listeners]) this.deliverTo(l, update);
  }

  private subscribe(w: Watch): void {
    if (this.closed || !this.deps.isUp() || w.stream || this.watches.get(w.hash) !== w) return;
    const stream = this.deps.open(w.hash);
    if (!stream) return;
    w.stream = stream;
    stream.on('data', (inv: Invoice) => {
      if (w.stream !== stream) return;
      w.delayMs = this.deps.resubscribeDelayMs;
      const state = toHoldInvoiceState(inv.state);
      if (state !== w.last) {
        w.last = state;
        this.deliver(w, { hash: w.hash, state });
      }
      if (isFinalInvoiceState(state)) this.end(w);
    });
    const ended = (err?: Error): void => {
      if (w.stream !== stream) return;
      w.stream = null;
      if (this.closed || this.watches.get(w.hash) !== w) return;
      if (err) {
        this.deps.logger.debug({ hash: w.hash, err: err.message }, 'invoice stream error');
        this.deps.noteFailure(err);
      }
      this.scheduleResubscribe(w);
    };
    stream.on('error', (err: Error) => ended(err));
    stream.on('end', () => ended());
  }

  private scheduleResubscribe(w: Watch): void {
    if (w.timer || this.closed) return;
    const delay = w.delayMs;
    w.delayMs = Math.min(w.delayMs * 2, this.deps.maxDelayMs);
    w.timer = setTimeout(() => {
      w.timer = null;
      // while the link is down, reconcile() after the reconnect resubscribes every watch
      if (this.deps.isUp()) this.subscribe(w);
    }, delay);
    w.timer.unref();
  }

  private end(w: Watch): void {
    if (this.watches.get(w.hash) === w) this.watches.delete(w.hash);
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    const s = w.stream;
    w.stream = null;
    s?.cancel();
  }

  /** Cancels every stream (before the connection is replaced); the watches stay registered. */
  stopStreams(): void {
    for (const w of this.watches.values()) {
      const s = w.stream;
      w.stream = null;
      s?.cancel();
    }
  }

  /** After a (re)connect: look every watched invoice up, deliver its state, resubscribe live ones. */
  async reconcile(): Promise<void> {
    for (const w of [...this.watches.values()]) {
      if (this.closed || !this.deps.isUp()) return;
      if (this.watches.get(w.hash) !== w) continue;
      try {
        const found = await this.deps.lookup(w.hash);
        if (found) {
          w.last = found.state;
          this.deliver(w, { hash: w.hash, state: found.state });
          if (isFinalInvoiceState(found.state)) {
            this.end(w);
            continue;
          }
        } else {
          this.deps.logger.warn({ hash: w.hash }, 'watched invoice unknown to LND');
        }
      } catch (err) {
        this.deps.logger.warn({ hash: w.hash, err: String(err) }, 'lookup of watched invoice failed; resubscribing anyway');
      }
      this.subscribe(w);
    }
  }

  close(): void {
    this.closed = true;
    for (const w of [...this.watches.values()]) this.end(w);
  }
}
