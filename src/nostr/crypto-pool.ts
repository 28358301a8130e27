/**
 * Where the daemon's crypto runs (crypto-tasks.ts): on a pool of worker threads (piscina) sized to
 * the cores, so the event loop keeps only I/O, routing and SQLite, or — with 0 threads — on the
 * event-loop thread itself. Both give the same results for the same task.
 *
 * Tasks go to the threads in batches (of at most MAX_BATCH tasks, spread over the threads), each
 * batch one piscina task, answered with one reply per task. A batch is formed when a thread can take
 * it: at most BATCHES_PER_THREAD batches per thread are unanswered (one running, the next waiting in
 * the thread's port); what is submitted meanwhile waits here, in order, and leaves as one batch when
 * a batch is answered — before that batch's callers run. A hand-off costs the event loop about as
 * much as a native Schnorr verification; batching pays it once per batch, and the replies of a
 * batch resume their callers in one turn, so the frames they send leave in one socket write
 * (relay-socket.ts). Each task still gets its own result or error; an idle node sends batches of
 * one.
 *
 * A worker that dies (crash, exit, out of memory) is replaced by piscina; the tasks it was running
 * (its whole batch) are run again on another thread (tasks are pure: opening an event twice gives the same verdict,
 * and a reply wrapped again is only handed out once), so a request is neither lost nor handled
 * twice. After `maxAttempts` failed threads in a row the task rejects with CryptoPoolError.
 *
 * The open-* tasks come back from the worker with the tuple's text unparsed (the worker thread does
 * not load zod); both executors finish them here, on the calling thread (complete-open.ts).
 */
import os from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import type { MostroKeys } from '../context.js';
import { ConversationKeyCache } from '../crypto/conversation-key.js';
import type { CheckpointFileTask, CheckpointReport, CheckpointRunner } from '../db/wal-checkpointer.js';
import { completeTask } from './complete-open.js';
import {
  runCryptoTask,
  verifySignatures,
  type CryptoReply,
  type CryptoBatch,
  type CryptoResults,
  type CryptoState,
  type CryptoTask,
  type CryptoWorkerData,
  type SignatureCheck,
} from './crypto-tasks.js';

export type CryptoOp = CryptoTask['op'];
export type TaskOf<K extends CryptoOp> = Extract<CryptoTask, { op: K }>;

export interface CryptoPoolStats {
  /** Worker threads (0 = crypto on the event-loop thread). */
  threads: number;
  /** Tasks waiting for a thread. */
  queued: number;
  completed: number;
  /** Threads that died under a task (each was replaced). */
  workerFailures: number;
  /** Messages sent to the threads (a batch of tasks, or one task); 0 with no threads. */
  batches?: number;
  /** Batches handed to the threads and not answered yet (at most threads × BATCHES_PER_THREAD). */
  batchesInFlight?: number;
  /** Tasks run again after their thread died. */
  retried: number;
  /** Tasks run on the event-loop thread while it was idle enough (AdaptiveCrypto); absent otherwise. */
  inline?: number;
  /**
   * Tasks that waited for a batch slot and were run on the event-loop thread instead (the loop
   * helping a backlogged pool, AdaptiveCrypto); absent without a helper.
   */
  helped?: number;
  /** Where new tasks go now (AdaptiveCrypto): the event-loop thread while it is idle enough, or the threads; absent otherwise. */
  mode?: 'inline' | 'pool';
  /** Times the mode changed since start (AdaptiveCrypto). */
  modeSwitches?: number;
  /** The crypto's smoothed share of the event loop's time, 0..1 and more (AdaptiveCrypto; what gates the pool). */
  loopShare?: number;
}

export interface CryptoExecutor {
  readonly threads: number;
  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]>;
  stats(): CryptoPoolStats;
  close(): Promise<void>;
  /**
   * Runs the database's WAL checkpoint passes on a crypto thread (db/wal-checkpointer.ts); absent
   * (or null) without threads.
   */
  checkpointRunner?(): CheckpointRunner | null;
  /**
   * Hands what was submitted so far to the threads now, if a batch slot is free, instead of at the
   * end of the event-loop turn (absent without threads).
   */
  flushNow?(): void;
}

/** A task failed by itself (bad input); running it again would fail the same way. */
export class CryptoTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CryptoTaskError';
  }
}

/** No thread could finish the task. */
export class CryptoPoolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CryptoPoolError';
  }
}

/** Worker threads for `configured` (settings): undefined = cores − 1 (at least 1); 0 = none. */
export function cryptoThreadsFor(configured: number | undefined): number {
  if (configured !== undefined) return Math.max(0, Math.floor(configured));
  return Math.max(1, os.availableParallelism() - 1);
}

/** Crypto on the calling thread (threads = 0, and the reference the pool is tested against). */
export class InThreadCrypto implements CryptoExecutor {
  readonly threads = 0;
  private readonly state: CryptoState;
  private completed = 0;

  constructor(keys: MostroKeys, convKeys?: ConversationKeyCache) {
    this.state = {
      nodeSecretKey: keys.secretKey,
      nodePubkey: keys.pubkey,
      convKeys: convKeys ?? new ConversationKeyCache(keys.secretKey),
    };
  }

  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    const reply = runCryptoTask(this.state, task);
    this.completed++;
    if (!reply.ok) return Promise.reject(new CryptoTaskError(reply.error));
    return completeTask(task, reply.value, (checks) => Promise.resolve(verifySignatures(checks))) as Promise<CryptoResults[K]>;
  }

  /** The task's raw reply, as a worker thread would give it (WorkerCrypto's helper). */
  reply(task: CryptoTask): CryptoReply {
    return runCryptoTask(this.state, task);
  }

  stats(): CryptoPoolStats {
    return { threads: 0, queued: 0, completed: this.completed, workerFailures: 0, retried: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface WorkerCryptoOptions {
  threads: number;
  keys: MostroKeys;
  logger: Logger;
  /** Conversation keys cached per thread. Default 10 000. */
  convKeyCacheSize?: number;
  /** Threads tried per task before it fails. Default 3. */
  maxAttempts?: number;
  /** Another worker module (tests: one that fails on purpose). Default crypto-worker.{ts,js}. */
  workerFile?: URL;
  /** Extra worker data for such a module. */
  workerData?: Record<string, unknown>;
  /**
   * Young-generation cap of each thread's V8 heap, MB (default 6: 2 MB semi-spaces). A crypto
   * task's garbage dies with the task, so a small young generation costs little CPU; V8's default
   * lets each thread's grow to 32 MB under load.
   */
  youngGenerationMb?: number;
  /**
   * Batches handed to each thread at once (default BATCHES_PER_THREAD): one running, the next
   * already in the thread's port. 1 = a thread waits for the event loop between batches.
   */
  batchesPerThread?: number;
}

export const WORKER_YOUNG_GENERATION_MB = 6;

/**
 * Two batches per thread: while one runs, the next (formed from everything submitted meanwhile)
 * waits in the thread's port, so the thread goes on without waiting for the event loop to take its
 * answer first. With one, a thread idled for the length of whatever the event loop was doing when
 * each batch finished (docs/PERFORMANCE.md, session 13).
 */
export const BATCHES_PER_THREAD = 2;

/** Most tasks in one message to a thread (bounds how long a batch holds its first result back). */
export const MAX_BATCH = 16;

interface Submitted {
  task: CryptoTask;
  resolve: (reply: CryptoReply) => void;
  reject: (err: unknown) => void;
}

/**
 * The worker module next to this one: `.js` when running from dist/, `.ts` under tsx (tests,
 * benchmarks), where the thread inherits the `--import tsx` loader from the parent.
 */
function defaultWorkerFile(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './crypto-worker.ts' : './crypto-worker.js', here);
}

export class WorkerCrypto implements CryptoExecutor {
  readonly threads: number;
  private readonly pool: Piscina;
  private readonly maxAttempts: number;
  private readonly logger: Logger;
  private closing = false;
  private completed = 0;
  private workerFailures = 0;
  private retried = 0;
  private submitted: Submitted[] = [];
  private flushScheduled = false;
  private batches = 0;
  private pending = 0;
  /** Batches handed to piscina and not answered yet, and how many may be. */
  private outstanding = 0;
  private readonly maxOutstanding: number;
  /** Runs a waiting task on the event-loop thread (setHelper); null = never. */
  private helper: { run: (task: CryptoTask) => CryptoReply; may: () => boolean } | null = null;
  private helpScheduled = false;
  private helped = 0;

  constructor(o: WorkerCryptoOptions) {
    if (o.threads < 1) throw new RangeError('WorkerCrypto needs at least one thread (use InThreadCrypto for 0)');
    this.threads = o.threads;
    this.maxAttempts = Math.max(1, o.maxAttempts ?? 3);
    this.logger = o.logger;
    const perThread = Math.max(1, Math.floor(o.batchesPerThread ?? BATCHES_PER_THREAD));
    this.maxOutstanding = o.threads * perThread;
    const data: CryptoWorkerData & Record<string, unknown> = {
      ...o.workerData,
      nodeSecretKey: o.keys.secretKey,
      nodePubkey: o.keys.pubkey,
      convKeyCacheSize: o.convKeyCacheSize ?? 10_000,
    };
    this.pool = new Piscina({
      filename: (o.workerFile ?? defaultWorkerFile()).href,
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: perThread,
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: o.youngGenerationMb ?? WORKER_YOUNG_GENERATION_MB },
    });
    // A thread that fails while idle is replaced by piscina; without a listener the 'error'
    // event would end the process.
    this.pool.on('error', (err: unknown) => {
      this.workerFailures++;
      this.logger.error({ err }, 'crypto pool: a worker thread failed while idle; replaced');
    });
  }

  async run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    const value = await this.runOnPool(task);
    const result = await completeTask(task, value, (checks) => this.verifyOnPool(checks));
    this.completed++;
    return result as CryptoResults[K];
  }

  /** A canonical-text signature check an open-* task left to its completion (complete-open.ts). */
  private async verifyOnPool(checks: SignatureCheck[]): Promise<boolean[]> {
    return (await this.runOnPool({ op: 'verify-signatures', checks })) as boolean[];
  }

  /** Tasks handed to the threads and not answered yet (AdaptiveCrypto runs inline only at 0). */
  inFlight(): number {
    return this.pending;
  }

  /**
   * WAL checkpoint passes on these threads (crypto-worker.ts `walCheckpoint`), outside the batches
   * and the in-flight count: a pass does not hold inline crypto back (AdaptiveCrypto), only the
   * tasks queued for the thread it runs on, while it runs.
   */
  checkpointRunner(): CheckpointRunner {
    return {
      where: 'crypto-thread',
      run: (task: CheckpointFileTask) => this.pool.run(task, { name: 'walCheckpoint' }) as Promise<CheckpointReport | null>,
      close: () => Promise.resolve(),
    };
  }

  /**
   * Lets the event loop help when the threads are behind: while tasks wait here for a batch slot
   * (every slot taken), the oldest one is run by `run` on the calling thread, one per event-loop
   * turn (`setImmediate`, after the turn's I/O) and only while `may()` says the loop has time to
   * spare. Its reply is handled exactly as a thread's. A task so run may finish ahead of tasks
   * handed to the threads before it, as a task on a second thread may.
   */
  setHelper(run: (task: CryptoTask) => CryptoReply, may: () => boolean): void {
    this.helper = { run, may };
  }

  private scheduleHelp(): void {
    if (this.helper === null || this.helpScheduled || this.submitted.length === 0) return;
    this.helpScheduled = true;
    setImmediate(this.help);
  }

  private readonly help = (): void => {
    this.helpScheduled = false;
    const helper = this.helper;
    // A free slot takes what waits (flush); the threads are not behind.
    if (helper === null || this.submitted.length === 0 || this.outstanding < this.maxOutstanding) return;
    // A busy loop does not help; the next answered batch asks again.
    if (!helper.may()) return;
    const next = this.submitted.shift()!;
    let reply: CryptoReply;
    try {
      reply = helper.run(next.task);
    } catch (err) {
      reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    this.helped++;
    next.resolve(reply);
    this.scheduleHelp();
  };

  /** Sends what was submitted this turn now (a batch slot permitting) instead of at its end. */
  flushNow(): void {
    if (this.flushScheduled) this.flush();
  }

  /** The task on a worker thread, as runCryptoTask returned it there. */
  private async runOnPool(task: CryptoTask): Promise<unknown> {
    this.pending++;
    let reply: CryptoReply;
    try {
      reply = await new Promise<CryptoReply>((resolve, reject) => {
        this.submitted.push({ task, resolve, reject });
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      });
    } finally {
      this.pending--;
    }
    if (!reply.ok) {
      this.completed++;
      throw new CryptoTaskError(reply.error);
    }
    return reply.value;
  }

  /**
   * Hands the submitted tasks to the threads while a batch slot is free: at most MAX_BATCH tasks a
   * batch, spread over the threads, and at most `maxOutstanding` batches unanswered. What does not
   * fit waits here, in order, and leaves with the next answered batch (runBatch), so a batch is
   * formed when a thread can take it, from everything submitted until then.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.submitted.length > 0 && this.outstanding < this.maxOutstanding) {
      const size = Math.min(MAX_BATCH, Math.ceil(this.submitted.length / this.threads));
      void this.runBatch(this.submitted.splice(0, size));
    }
    this.scheduleHelp();
  }

  private async runBatch(batch: Submitted[]): Promise<void> {
    const message: CryptoTask | CryptoBatch = batch.length === 1 ? batch[0]!.task : { op: 'batch', tasks: batch.map((b) => b.task) };
    this.batches++;
    this.outstanding++;
    let released = false;
    // Frees this batch's slot and hands the next batch over, before this one's callers run (they
    // may hold the event loop a while: the thread gets its next batch first).
    const release = (): void => {
      if (released) return;
      released = true;
      this.outstanding--;
      this.flush();
    };
    try {
      for (let attempt = 1; ; attempt++) {
        let reply: CryptoReply | CryptoReply[];
        try {
          reply = (await this.pool.run(message)) as CryptoReply | CryptoReply[];
        } catch (err) {
          // runPoolMessage never throws: a rejection means the thread died under the batch.
          this.workerFailures++;
          if (this.closing || attempt >= this.maxAttempts) {
            release();
            const ops = batch.map((b) => b.task.op).join(', ');
            for (const b of batch) b.reject(new CryptoPoolError(`crypto task ${b.task.op} failed on ${attempt} thread(s)`, { cause: err }));
            this.logger.error({ err, ops, attempt }, 'crypto pool: tasks failed on every thread tried');
            return;
          }
          this.retried += batch.length;
          this.logger.warn({ err, ops: batch.map((b) => b.task.op), attempt }, 'crypto pool: worker thread died under a batch; running it again');
          continue;
        }
        release();
        const replies = Array.isArray(reply) ? reply : [reply];
        batch.forEach((b, i) => b.resolve(replies[i] ?? { ok: false, error: 'crypto pool: no reply for the task' }));
        return;
      }
    } finally {
      release();
    }
  }

  stats(): CryptoPoolStats {
    return {
      threads: this.threads,
      queued: this.pool.queueSize + this.submitted.length,
      completed: this.completed,
      batches: this.batches,
      batchesInFlight: this.outstanding,
      workerFailures: this.workerFailures,
      retried: this.retried,
      ...(this.helper !== null ? { helped: this.helped } : {}),
    };
  }

  async close(): Promise<void> {
    // Tasks already accepted finish first, those waiting here for a batch slot included (piscina
    // would abort a task handed to it once it is closing). The daemon bounds the wait (shutdown step).
    while (this.submitted.length > 0 || this.outstanding > 0) await new Promise((r) => setTimeout(r, 2));
    this.closing = true;
    await this.pool.close({ force: false });
    await this.pool.destroy();
  }
}

/**
 * When a task may run on the event-loop thread instead of the pool (AdaptiveCrypto).
 *
 * A hand-off to a worker thread costs the event loop about as much as a Schnorr verification and
 * adds two thread wake-ups to the request's path; on a box whose few cores are shared (the relay,
 * other services), each wake-up may wait for a core. While the event loop has time to spare, the
 * task is cheaper and sooner done where it is. The pool earns its keep when the loop is busy.
 *
 * Decided per window of `windowMs` on the loop's utilization with all the crypto inline: the
 * utilization measured (libuv's idle time, `performance.eventLoopUtilization`) plus, for the tasks
 * that went to the pool in the window, what they would have cost inline (each at its operation's
 * estimated inline cost, see `spent`). Smoothed over windows (exponentially, weight `smoothing`
 * for the last one: a 100 ms window holds only a few requests on a quiet node), it moves the mode
 * to "pool" above `busyAbove` and back to "inline" below `idleBelow` (hysteresis).
 *
 * Why the pool's share is added back (session 38): a loop busy with something other than crypto —
 * a flood of junk frames to read and refuse — stays busy when the crypto moves off it, so its
 * measured utilization alone kept the mode in "pool" for the whole flood once the flood's onset had
 * tipped it there (it returned only below 0.45). Each request then paid two thread hops on a box
 * whose cores the flood keeps busy: on the 2-vCPU bench VM, 5,000 junk frames/s beside 100 valid
 * requests/s, valid p99 108–283 ms in the runs that tipped (the daemon 0.60–0.88 cores) against
 * 24–36 ms in those that stayed inline (0.47–0.48 cores). Moving 100 requests/s of crypto (≈ 0.15
 * of the loop) off buys nothing there; the prediction returns such a loop to "inline" within a few
 * windows, while a loop whose crypto is the load (the closed loops: the pool's share alone is
 * above 1) stays on the pool. In "inline" mode a task runs inline only while the inline crypto of
 * the current window stays under `inlineShare` of it (a burst overflows to the pool instead of
 * stalling the loop) and nothing is in the pool (so an inline task never finishes ahead of one
 * handed over before it).
 *
 * Why the crypto's own share gates the pool (session 39): a flood's first second — the relay's
 * first burst of junk — saturates the loop for a few windows, and the smoothed utilization above
 * crossed `busyAbove` on it alone; 8 of 22 flood runs of session 38's final code then spent
 * seconds on the pool, up to the whole flood (an inflated cost estimate, see `spent`, kept them
 * there), and those were the 8 with the worst tails (valid p99 85–437 ms, the others 27–69 ms). Moving the crypto
 * off a loop saturated by something else frees only the crypto's share of it, at two thread hops a
 * request. So the mode goes to "pool" only while the crypto itself — the window's inline task time
 * plus its pool tasks at their estimated inline cost, smoothed more slowly (`cryptoSmoothing`: it follows
 * the request rate, and a loop that stalled works a backlog off in a window or two) — is at least
 * `cryptoAbove` of the loop, and returns inline when it falls below `cryptoBelow`. 100 valid
 * requests/s are ≈ 320 tasks/s, ≈ 0.1 of the loop; the closed loops' crypto is ≈ 0.5 of it and more.
 */
export interface InlinePolicyOptions {
  windowMs?: number;
  busyAbove?: number;
  idleBelow?: number;
  inlineShare?: number;
  /**
   * The loop helps a backlogged pool (WorkerCrypto.setHelper) while its smoothed utilization is
   * below this (the help counts in it, so the loop keeps this share of its time for I/O, routing
   * and SQLite). 0 = never helps.
   */
  helpBelow?: number;
  /** The pool only while the crypto (inline or not) is at least this share of the loop's time (smoothed). */
  cryptoAbove?: number;
  /** Back inline when the crypto's smoothed share of the loop's time falls below this. */
  cryptoBelow?: number;
  /**
   * Weight of the last window in the crypto's smoothed share (slower than the utilization's: the
   * share follows the request rate, and the backlog a stalled loop works off in one window should
   * not tip it).
   */
  cryptoSmoothing?: number;
  /** Weight of the last window in the smoothed utilization, 0 < smoothing ≤ 1 (1 = the last window alone). */
  smoothing?: number;
  /** ms an inline task is taken to cost until one has been measured. */
  taskMsGuess?: number;
  /** ms, monotonic (tests) */
  now?: () => number;
  /** The loop's utilization since the previous call, 0..1 (tests). Default: performance.eventLoopUtilization. */
  utilization?: () => number;
}

export const DEFAULT_INLINE_POLICY = { windowMs: 100, busyAbove: 0.8, idleBelow: 0.7, inlineShare: 0.3, smoothing: 0.3, helpBelow: 0.85, cryptoAbove: 0.25, cryptoBelow: 0.15, cryptoSmoothing: 0.1, taskMsGuess: 0.5 } as const;

export class InlinePolicy {
  private readonly windowMs: number;
  private readonly busyAbove: number;
  private readonly idleBelow: number;
  private readonly inlineShare: number;
  private readonly helpBelow: number;
  private readonly cryptoAbove: number;
  private readonly cryptoBelow: number;
  private readonly cryptoSmoothing: number;
  private readonly smoothing: number;
  /** The loop's utilization as measured, smoothed (mayHelp). */
  private smoothed = 0;
  /** The same with the pool's tasks of each window counted as if run inline, smoothed (the mode). */
  private smoothedInline = 0;
  /** The crypto's share of the loop's time (inline tasks as measured, pool tasks at their estimated inline cost), smoothed. */
  private smoothedCrypto = 0;
  /** Per operation, what an inline task costs when the loop's thread is not preempted (see `spent`); the guess until one ran. */
  private readonly taskMs = new Map<string, number>();
  private readonly taskMsGuess: number;
  /** The tasks sent to the pool in the current window, at what each would have cost inline. */
  private poolMs = 0;
  private readonly now: () => number;
  private readonly utilization: () => number;
  private mode: 'inline' | 'pool' = 'inline';
  private modeSwitches = 0;
  private windowStart: number;
  private inlineMs = 0;

  constructor(o: InlinePolicyOptions = {}) {
    this.windowMs = o.windowMs ?? DEFAULT_INLINE_POLICY.windowMs;
    this.busyAbove = o.busyAbove ?? DEFAULT_INLINE_POLICY.busyAbove;
    this.idleBelow = o.idleBelow ?? DEFAULT_INLINE_POLICY.idleBelow;
    this.inlineShare = o.inlineShare ?? DEFAULT_INLINE_POLICY.inlineShare;
    this.helpBelow = o.helpBelow ?? DEFAULT_INLINE_POLICY.helpBelow;
    this.cryptoAbove = o.cryptoAbove ?? DEFAULT_INLINE_POLICY.cryptoAbove;
    this.cryptoBelow = o.cryptoBelow ?? DEFAULT_INLINE_POLICY.cryptoBelow;
    this.cryptoSmoothing = Math.min(1, Math.max(0.01, o.cryptoSmoothing ?? DEFAULT_INLINE_POLICY.cryptoSmoothing));
    this.smoothing = Math.min(1, Math.max(0.01, o.smoothing ?? DEFAULT_INLINE_POLICY.smoothing));
    this.taskMsGuess = o.taskMsGuess ?? DEFAULT_INLINE_POLICY.taskMsGuess;
    this.now = o.now ?? (() => performance.now());
    this.utilization = o.utilization ?? loopUtilization();
    this.windowStart = this.now();
  }

  /** Whether the next task (operation `op`) may run inline, with `poolInFlight` tasks in the pool. */
  inline(poolInFlight: number, op = ''): boolean {
    this.refresh();
    const inline = this.mode === 'inline' && poolInFlight === 0 && this.inlineMs < this.windowMs * this.inlineShare;
    if (!inline) this.poolMs += this.taskMs.get(op) ?? this.taskMsGuess;
    return inline;
  }

  /** Whether the loop may help a backlogged pool now (see `helpBelow`). */
  mayHelp(): boolean {
    this.refresh();
    return this.smoothed < this.helpBelow;
  }

  /** Closes the window when it is over: the smoothed utilization and the mode follow it. */
  private refresh(): void {
    const now = this.now();
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs) return;
    const measured = this.utilization();
    this.smoothed = this.smoothing * measured + (1 - this.smoothing) * this.smoothed;
    const poolShare = this.poolMs / elapsed;
    const u = (this.smoothedInline = this.smoothing * (measured + poolShare) + (1 - this.smoothing) * this.smoothedInline);
    const crypto = (this.smoothedCrypto = this.cryptoSmoothing * (this.inlineMs / elapsed + poolShare) + (1 - this.cryptoSmoothing) * this.smoothedCrypto);
    const before = this.mode;
    if (this.mode === 'inline' && u > this.busyAbove && crypto >= this.cryptoAbove) this.mode = 'pool';
    else if (this.mode === 'pool' && (u < this.idleBelow || crypto < this.cryptoBelow)) this.mode = 'inline';
    if (this.mode !== before) this.modeSwitches++;
    this.windowStart = now;
    this.inlineMs = 0;
    this.poolMs = 0;
  }

  /**
   * An inline task (operation `op`) took `ms` of the loop.
   *
   * The cost kept per operation is the task's cost on a thread that runs it undisturbed: a task's
   * wall time also holds any preemption of the loop's thread (a busy box, a flood's other threads)
   * and, in the first seconds, V8's unoptimized code — both only ever lengthen it. So a sample
   * below the estimate pulls it down at weight 0.1, one above pushes it up at 0.01 (and counts at
   * most twice the estimate). Session 39 found why it matters: the mode is decided on these
   * estimates, and in "pool" mode no task runs inline to correct them; a mean inflated by a cold
   * start or a flood's onset (0.6–1 ms against ≈ 0.25) kept an open loop of 100 requests/s on the
   * pool for 5 s and whole floods on it.
   */
  spent(ms: number, op = ''): void {
    this.inlineMs += ms;
    const cost = this.taskMs.get(op) ?? this.taskMsGuess;
    const sample = Math.min(ms, 2 * cost);
    this.taskMs.set(op, cost + (sample < cost ? 0.1 : 0.01) * (sample - cost));
  }

  get current(): 'inline' | 'pool' {
    return this.mode;
  }

  /** What /metrics reports: the mode, how often it changed, the crypto's smoothed share of the loop. */
  stats(): { mode: 'inline' | 'pool'; modeSwitches: number; loopShare: number } {
    return { mode: this.mode, modeSwitches: this.modeSwitches, loopShare: this.smoothedCrypto };
  }
}

/** The event loop's utilization since the previous call of the returned function. */
function loopUtilization(): () => number {
  let mark: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const next = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(next, mark).utilization;
    mark = next;
    return Number.isFinite(u) ? u : 0;
  };
}

/**
 * The pool's threads when the event loop is busy, the event-loop thread when it is not
 * (InlinePolicy). The daemon's executor when it has crypto threads: a quiet node answers without a
 * thread hop; a busy one spreads the crypto over the cores. Both paths give the same results for
 * the same task (the pool is tested against the in-thread path).
 */
export class AdaptiveCrypto implements CryptoExecutor {
  readonly threads: number;
  private inlineRuns = 0;

  constructor(
    private readonly inThread: InThreadCrypto,
    private readonly pool: WorkerCrypto,
    private readonly policy: InlinePolicy = new InlinePolicy(),
    help = true,
  ) {
    this.threads = pool.threads;
    if (help) pool.setHelper((task) => inThread.reply(task), () => policy.mayHelp());
  }

  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    if (!this.policy.inline(this.pool.inFlight(), task.op)) return this.pool.run(task);
    this.inlineRuns++;
    const t0 = performance.now();
    try {
      return this.inThread.run(task);
    } finally {
      this.policy.spent(performance.now() - t0, task.op);
    }
  }

  stats(): CryptoPoolStats {
    const p = this.pool.stats();
    return { ...p, completed: p.completed + this.inThread.stats().completed, inline: this.inlineRuns, ...this.policy.stats() };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  checkpointRunner(): CheckpointRunner {
    return this.pool.checkpointRunner();
  }

  flushNow(): void {
    this.pool.flushNow();
  }
}

export interface CryptoExecutorOptions {
  /** Worker threads (see cryptoThreadsFor); 0 = the event-loop thread. */
  threads: number;
  keys: MostroKeys;
  logger: Logger;
  convKeyCacheSize?: number;
  /**
   * With threads (AdaptiveCrypto; default `auto`): `auto` runs a task on the event-loop thread
   * while it is idle enough, and lets the loop help the threads when they are behind and it has
   * time to spare; `no-help` only the former; `off` (or false) every task on the pool.
   * `MOSTROD_CRYPTO_INLINE` sets it (inlineFromEnv).
   */
  inline?: InlineMode | boolean;
}

export type InlineMode = 'auto' | 'no-help' | 'off';

/** `MOSTROD_CRYPTO_INLINE`: `auto` (default), `no-help` or `off`; anything else stops the start naming the variable. */
export function inlineFromEnv(env = process.env['MOSTROD_CRYPTO_INLINE']): InlineMode {
  if (env === undefined || env === '' || env === 'auto') return 'auto';
  if (env === 'off' || env === 'no-help') return env;
  throw new Error(`MOSTROD_CRYPTO_INLINE must be auto, no-help or off (got ${JSON.stringify(env)})`);
}

export function createCryptoExecutor(o: CryptoExecutorOptions): CryptoExecutor {
  const inThread = (): InThreadCrypto => new InThreadCrypto(o.keys, new ConversationKeyCache(o.keys.secretKey, o.convKeyCacheSize ?? 10_000));
  if (o.threads <= 0) return inThread();
  const pool = new WorkerCrypto(o);
  const mode: InlineMode = o.inline === undefined || o.inline === true ? 'auto' : o.inline === false ? 'off' : o.inline;
  return mode === 'off' ? pool : new AdaptiveCrypto(inThread(), pool, new InlinePolicy(), mode === 'auto');
}
