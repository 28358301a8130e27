/**
 * The test-side handle on a rust-nostr trader running in a worker thread (rust-trader-worker.ts).
 * Terminating the worker at close() drops the SDK's leftover timers so the test process can exit.
 */
import { Worker } from 'node:worker_threads';
import type { RustReply } from './rust-trader.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class RustTrader {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    private readonly worker: Worker,
    /** identity public key hex (reputation mode; unused in full privacy) */
    readonly identity: string,
  ) {
    worker.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  static async connect(relayUrl: string, nodePk: string, opts: { fullPrivacy?: boolean; v2?: boolean } = {}): Promise<RustTrader> {
    // A .ts worker needs tsx's loader registered inside the worker first.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./rust-trader-worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: { relayUrl, nodePk, fullPrivacy: opts.fullPrivacy === true, v2: opts.v2 === true } });
    const first = await new Promise<{ ready: boolean; identity?: string; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (!first.ready || first.identity === undefined) {
      await worker.terminate();
      throw new Error(`rust trader failed to start: ${first.error ?? 'unknown'}`);
    }
    return new RustTrader(worker, first.identity);
  }

  private call<T>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  /** A fresh trade key (subscribed); returns its public key hex. */
  tradeKey(): Promise<string> {
    return this.call('tradeKey');
  }

  send(messageJson: string, tradeKey: string): Promise<void> {
    return this.call('send', messageJson, tradeKey);
  }

  /** The next reply to `tradeKey` with `action` not returned before. */
  waitFor(tradeKey: string, action: string, timeoutMs = 15_000): Promise<RustReply> {
    return this.call('waitFor', tradeKey, action, timeoutMs);
  }

  fetchNodeEvents(kind: number): Promise<Array<{ tags: string[][]; content: string }>> {
    return this.call('fetchNodeEvents', kind);
  }

  /** Every reply received so far, with the event kind it came in. */
  replies(): Promise<RustReply[]> {
    return this.call('replies');
  }

  /** Wraps that did not open with rust-nostr or were not sealed by the node. */
  rejected(): Promise<number> {
    return this.call('rejected');
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
