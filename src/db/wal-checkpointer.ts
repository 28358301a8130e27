/**
 * WAL checkpoints off the event loop.
 *
 * SQLite checkpoints a WAL database from the connection whose commit takes the WAL past
 * `wal_autocheckpoint` pages (1,000 by default): that commit copies the WAL's pages into the
 * database file and fsyncs both, synchronously. For the daemon that is the event loop, and a new
 * order writes ≈ 17 pages, so at 100 requests/s the loop stopped for a checkpoint about twice a
 * second, 7–19 ms each (strace of the daemon under the bench's open loop; docs/PERFORMANCE.md,
 * session 11) — a stall every request behind it waited out; under a closed loop at 600/s, ten
 * times a second.
 *
 * Here a thread that is not the event loop runs `wal_checkpoint(PASSIVE)` with a connection of its
 * own every `intervalMs` (wal-checkpoint-worker.ts): the copying and the fsyncs happen there,
 * beside the daemon's writes (WAL allows one checkpointer beside a writer). Which thread is the
 * runner's choice (`MOSTROD_DB_CHECKPOINT`):
 * - `auto` (default): the first crypto thread, when the node has one (`crypto_threads` ≥ 1) — no
 *   thread and no V8 isolate of its own. A pass holds that thread while it runs (the fsyncs,
 *   mostly), so crypto tasks queued behind it wait; with `crypto_threads = 0`, as `inline`.
 * - `background`: a one-thread piscina pool of its own (≈ 16 MB of RSS: a Node worker is a whole
 *   isolate), whatever `crypto_threads` is.
 * - `inline`: SQLite's own checkpoints on the event loop, as before.
 * The daemon's connection keeps `wal_autocheckpoint` at `BACKSTOP_PAGES` (10,000 pages, ≈ 40 MB of
 * WAL) rather than 0: should the passes fall behind or fail, the WAL is still checkpointed, with
 * the old stalls. piscina replaces a thread that dies; the next pass runs on the new one.
 *
 * Durability is unchanged: a checkpoint only moves committed pages from the WAL into the database
 * file, syncing the WAL first; the durability barrier (durability.ts) keeps syncing the WAL.
 */
import { Piscina } from 'piscina';
import type { Worker } from 'node:worker_threads';
import type { CheckpointFileTask, CheckpointOp, CheckpointReport, CheckpointWorkerData } from './wal-checkpoint-worker.js';

export type { CheckpointFileTask, CheckpointReport };

export interface WalCheckpointerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Where the passes run: something that hands a task to a thread that is not the event loop and
 * resolves with what `runCheckpointTask` returned there.
 */
export interface CheckpointRunner {
  readonly where: 'crypto-thread' | 'own-thread';
  run(task: CheckpointFileTask): Promise<CheckpointReport | null>;
  /** Release what the runner owns (its own pool); a borrowed pool is left alone. */
  close(): Promise<void>;
  /** The thread a pass would run on, if the runner knows (tests: to make it fail). */
  readonly thread?: Worker | null;
  /** Threads started after the first (own pool only). */
  readonly restarts?: number;
}

export interface WalCheckpointerOptions {
  file: string;
  /** Where the passes run (default: a one-thread pool of its own). */
  runner?: CheckpointRunner;
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
  /** threads started after the first (piscina replaces a thread that died; own thread only) */
  restarts: number;
  /** where the passes run */
  where: CheckpointRunner['where'];
}

/**
 * `MOSTROD_DB_CHECKPOINT`: who checkpoints the daemon's WAL — `auto` (default: a crypto thread if
 * there is one, else SQLite on the event loop), `background` (a thread of its own, ≈ 16 MB of RSS)
 * or `inline` (SQLite on the event loop).
 */
export const DB_CHECKPOINT_ENV = 'MOSTROD_DB_CHECKPOINT';

export type WalCheckpointMode = 'auto' | 'background' | 'inline';

/** The checkpoint mode from the environment; a bad value throws naming the variable. */
export function walCheckpointFromEnv(env: NodeJS.ProcessEnv = process.env): WalCheckpointMode {
  const raw = env[DB_CHECKPOINT_ENV];
  if (raw === undefined || raw === '') return 'auto';
  const v = raw.trim().toLowerCase();
  if (v === 'auto' || v === 'background' || v === 'inline') return v;
  throw new Error(`${DB_CHECKPOINT_ENV}: expected "auto", "background" or "inline", got ${JSON.stringify(raw)}`);
}

/** `wal_autocheckpoint` of the daemon's connection while the thread checkpoints. */
export const BACKSTOP_PAGES = 10_000;

/** The worker module next to this one (`.ts` under tsx, `.js` from dist/). */
function workerFile(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './wal-checkpoint-worker.ts' : './wal-checkpoint-worker.js', here);
}

/** A one-thread piscina pool of the checkpointer's own (`background`). */
export class OwnCheckpointThread implements CheckpointRunner {
  readonly where = 'own-thread' as const;
  private readonly pool: Piscina;
  private created = 0;

  constructor(file: string, logger?: WalCheckpointerLogger) {
    const data: CheckpointWorkerData = { file };
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
      this.created++;
    });
    this.pool.on('error', (err: unknown) => {
      logger?.warn({ err }, 'WAL checkpoint thread failed while idle; replaced');
    });
  }

  get restarts(): number {
    return Math.max(0, this.created - 1);
  }

  get thread(): Worker | null {
    return (this.pool.threads[0] as Worker | undefined) ?? null;
  }

  run(task: CheckpointFileTask): Promise<CheckpointReport | null> {
    const op: CheckpointOp = task.op;
    return this.pool.run(op) as Promise<CheckpointReport | null>;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

export class WalCheckpointer {
  private readonly runner: CheckpointRunner;
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> | null = null;
  private closed = false;
  private readonly s: Omit<WalCheckpointerStats, 'restarts' | 'where'> = { passes: 0, lastFrames: 0, lastCheckpointed: 0, failures: 0 };

  constructor(private readonly o: WalCheckpointerOptions) {
    this.runner = o.runner ?? new OwnCheckpointThread(o.file, o.logger);
    this.timer = setInterval(() => this.pass(), o.intervalMs ?? 200);
    this.timer.unref();
  }

  stats(): WalCheckpointerStats {
    return { ...this.s, restarts: this.runner.restarts ?? 0, where: this.runner.where };
  }

  /** The thread a pass runs on, if the runner knows (tests: to make it fail). */
  get thread(): Worker | null {
    return this.runner.thread ?? null;
  }

  private pass(): void {
    if (this.inFlight !== null || this.closed) return;
    this.inFlight = this.runner.run({ op: 'checkpoint', file: this.o.file }).then(
      (r) => {
        this.s.passes++;
        this.s.lastFrames = r?.frames ?? 0;
        this.s.lastCheckpointed = r?.checkpointed ?? 0;
      },
      (err: unknown) => {
        this.s.failures++;
        this.o.logger?.warn({ err }, 'WAL checkpoint pass failed (SQLite checkpoints on the event loop past the backstop if this persists)');
      },
    ).finally(() => {
      this.inFlight = null;
    });
  }

  /**
   * Stop, with the thread's connection closed, before the daemon's own connection closes (and, on
   * a crypto thread, before the crypto pool closes).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.inFlight;
    try {
      await this.runner.run({ op: 'close', file: this.o.file });
    } catch {
      // the thread is gone: so is its connection
    }
    await this.runner.close();
  }
}
