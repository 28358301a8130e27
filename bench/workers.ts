/**
 * A small pool of gen-worker threads. On Node 20 a worker cannot be started with
 * `--import tsx` (ERR_UNKNOWN_FILE_EXTENSION), so each worker registers tsx itself and then
 * imports the TypeScript module (STACK.md §0).
 */
import { Worker } from 'node:worker_threads';
import { registerCollector } from './equipment-gc.js';
import type { WorkerTask } from './gen-worker.js';

const WORKER_URL = new URL('./gen-worker.ts', import.meta.url).href;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private next = 0;
  private readonly unregister: () => void;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL)}); })`, {
        eval: true,
      });
      w.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: string }) => {
        const p = this.pending.get(m.seq);
        if (p === undefined) return;
        this.pending.delete(m.seq);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error ?? 'worker task failed'));
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
    }
    // a full collection in every thread before a measured window (equipment-gc.ts)
    this.unregister = registerCollector(() => Promise.all(this.workers.map((_, i) => this.run({ op: 'gc' }, i))));
  }

  /** Run a task on worker `index` (default: round robin). */
  run<T>(task: WorkerTask, index?: number): Promise<T> {
    const seq = ++this.seq;
    const w = this.workers[index ?? this.next++ % this.workers.length]!;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ seq, task });
    });
  }

  async close(): Promise<void> {
    this.unregister();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
