/**
 * WAL checkpoints off the event loop.
 *
 * SQLite checkpoints a WAL database from the connection whose commit takes the WAL past
 * `wal_autocheckpoint` pages (1,000 by default): that commit copies the WAL's pages into the
 * database file and fsyncs both, synchronously. For the daemon that is the event loop, and a new
 * order writes ≈ 20 pages, so at 100 requests/s the loop stopped for a checkpoint about twice a
 * second, 7–19 ms each (strace of the daemon under the bench's open loop; docs/PERFORMANCE.md,
 * session 11) — a stall every request behind it waited out.
 *
 * With `MOSTROD_DB_CHECKPOINT=background` a worker thread with its own connection runs `wal_checkpoint(PASSIVE)` every `intervalMs`
 * (wal-checkpoint-worker.ts): the copying and the fsyncs happen on that thread, beside the
 * daemon's writes (WAL allows one checkpointer beside a writer). The daemon's connection keeps
 * `wal_autocheckpoint` at `BACKSTOP_PAGES` (10,000 pages, ≈ 40 MB of WAL) rather than 0: should the
 * thread fall behind or die, the WAL is still checkpointed, with the old stalls. The thread is a
 * one-thread piscina pool: a thread that dies is replaced, and the next pass runs on the new one.
 *
 * Durability is unchanged: a checkpoint only moves committed pages from the WAL into the database
 * file, syncing the WAL first; the durability barrier (durability.ts) keeps syncing the WAL.
 */
import { Piscina } from 'piscina';
import type { Worker } from 'node:worker_threads';
import type { CheckpointReport, CheckpointTask, CheckpointWorkerData } from './wal-checkpoint-worker.js';

export interface WalCheckpointerLogger {
  warn(obj: object, msg: string): void;
}

export interface WalCheckpointerOptions {
  file: string;
  /** How often the thread checkpoints (default 200 ms). */
  intervalMs?: number;
  logger?: WalCheckpointerLogger;
}

export interface WalCheckpointerStats {
  /** checkpoint passes run */
  passes: number;
  /** frames in the WAL at the last pass, and how many of them were in the database file after it */
  lastFrames: number;
  lastCheckpointed: number;
  /** passes that failed (an SQLite error, or the thread died during the pass) */
  failures: number;
  /** threads started after the first (piscina replaces a thread that died) */
  restarts: number;
}

/**
 * `MOSTROD_DB_CHECKPOINT`: who checkpoints the daemon's WAL. Default `inline` (SQLite, on the event
 * loop): the thread costs ≈ 16 MB of RSS (a Node worker is a whole isolate; measured with
 * MALLOC_ARENA_MAX=2), paid at any load, while the stalls it removes matter only on a busy node
 * (one per ≈ 50 new orders). `background` for a node that trades at high rates.
 */
export const DB_CHECKPOINT_ENV = 'MOSTROD_DB_CHECKPOINT';

/** The checkpoint mode from the environment; a bad value throws naming the variable. */
export function walCheckpointFromEnv(env: NodeJS.ProcessEnv = process.env): 'background' | 'inline' {
  const raw = env[DB_CHECKPOINT_ENV];
  if (raw === undefined || raw === '') return 'inline';
  const v = raw.trim().toLowerCase();
  if (v === 'background' || v === 'inline') return v;
  throw new Error(`${DB_CHECKPOINT_ENV}: expected "background" or "inline", got ${JSON.stringify(raw)}`);
}

/** `wal_autocheckpoint` of the daemon's connection while the thread checkpoints. */
export const BACKSTOP_PAGES = 10_000;

/** The worker module next to this one (`.ts` under tsx, `.js` from dist/). */
function workerFile(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './wal-checkpoint-worker.ts' : './wal-checkpoint-worker.js', here);
}

export class WalCheckpointer {
  private readonly pool: Piscina;
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> | null = null;
  private closed = false;
  private created = 0;
  private readonly s: WalCheckpointerStats = { passes: 0, lastFrames: 0, lastCheckpointed: 0, failures: 0, restarts: 0 };

  constructor(private readonly o: WalCheckpointerOptions) {
    const data: CheckpointWorkerData = { file: o.file };
    // piscina loads the module as it loads the crypto workers (under tsx too) and replaces a
    // thread that died.
    this.pool = new Piscina({
      filename: workerFile().href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: data,
      // It allocates next to nothing: a small heap keeps the thread's share of the RSS small.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    this.pool.on('workerCreate', () => {
      if (++this.created > 1) this.s.restarts++;
    });
    this.pool.on('error', (err: unknown) => {
      o.logger?.warn({ err }, 'WAL checkpoint thread failed while idle; replaced');
    });
    this.timer = setInterval(() => this.pass(), o.intervalMs ?? 200);
    this.timer.unref();
  }

  stats(): WalCheckpointerStats {
    return { ...this.s };
  }

  /** The running thread (tests: to make it fail). */
  get thread(): Worker | null {
    return (this.pool.threads[0] as Worker | undefined) ?? null;
  }

  private pass(): void {
    if (this.inFlight !== null || this.closed) return;
    const task: CheckpointTask = 'checkpoint';
    this.inFlight = (this.pool.run(task) as Promise<CheckpointReport>).then(
      (r) => {
        this.s.passes++;
        this.s.lastFrames = r.frames;
        this.s.lastCheckpointed = r.checkpointed;
      },
      (err: unknown) => {
        this.s.failures++;
        this.o.logger?.warn({ err }, 'WAL checkpoint pass failed (SQLite checkpoints on the event loop past the backstop if this persists)');
      },
    ).finally(() => {
      this.inFlight = null;
    });
  }

  /** Stop, with the thread's connection closed, before the daemon's own connection closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.inFlight;
    const task: CheckpointTask = 'close';
    try {
      await this.pool.run(task);
    } catch {
      // the thread is gone: so is its connection
    }
    await this.pool.destroy();
  }
}
