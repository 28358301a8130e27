import type { Logger } from 'pino';
import type { Clock } from '../clock.js';

/** The timer functions the scheduler uses (injected by tests; real timers by default). */
export interface TimerApi {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  unref?(): unknown;
}

/** One finished run of a job (for metrics). */
export interface JobRunReport {
  job: string;
  /** ms epoch (clock.nowMs) the run started */
  startedMs: number;
  durationMs: number;
  failed: boolean;
}

export interface SchedulerOptions {
  clock: Clock;
  logger: Logger;
  timers?: TimerApi;
  /** Called after every run (timer or runNow), success or failure. Must not throw. */
  onRun?: (run: JobRunReport) => void;
}

export interface EveryOptions {
  /** Run once as soon as the scheduler starts (mostrod: "do the work first, then sleep"). Default true. */
  runAtStart?: boolean;
}

type JobFn = () => Promise<void>;

interface JobState {
  readonly name: string;
  readonly seconds: number;
  readonly job: JobFn;
  readonly runAtStart: boolean;
  timer: TimerHandle | null;
  /** The run in progress, if any. */
  running: Promise<void> | null;
  /** One follow-up run queued behind `running` (requests made meanwhile coalesce into it). */
  queued: Promise<void> | null;
}

const realTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Fixed-interval background jobs (DAEMON.md §4.0): each job runs, then sleeps its interval, then
 * runs again — a slow run delays the next one and a job never overlaps itself; different jobs run
 * concurrently. An error in a run is logged and the loop goes on. Timers are unref'd, so the
 * scheduler alone never keeps the process alive. Jobs are plain functions: tests call them (or
 * `runNow`) directly with a fake clock instead of waiting for timers.
 */
export class Scheduler {
  private readonly jobs = new Map<string, JobState>();
  private readonly timers: TimerApi;
  private state: 'idle' | 'started' | 'stopped' = 'idle';

  constructor(private readonly opts: SchedulerOptions) {
    this.timers = opts.timers ?? realTimers;
  }

  /**
   * Register `job` to run every `seconds` (fractions allowed, e.g. 0.25). Registering after
   * `start()` schedules the job at once.
   * @throws RangeError for a non-finite or non-positive interval; Error for a duplicate name or
   * after `stop()`.
   */
  every(name: string, seconds: number, job: JobFn, opts: EveryOptions = {}): void {
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new RangeError(`job ${name}: interval must be a positive number of seconds, got ${seconds}`);
    }
    if (this.jobs.has(name)) throw new Error(`job ${name} is already registered`);
    if (this.state === 'stopped') throw new Error(`scheduler stopped; cannot register ${name}`);
    const s: JobState = {
      name,
      seconds,
      job,
      runAtStart: opts.runAtStart ?? true,
      timer: null,
      running: null,
      queued: null,
    };
    this.jobs.set(name, s);
    if (this.state === 'started') this.startJob(s);
  }

  /** Start every registered job's loop. Idempotent while running. */
  start(): void {
    if (this.state === 'stopped') throw new Error('scheduler stopped; create a new one');
    if (this.state === 'started') return;
    this.state = 'started';
    this.opts.logger.info({ jobs: [...this.jobs.keys()] }, 'Scheduler started');
    for (const s of this.jobs.values()) this.startJob(s);
  }

  /**
   * Stop scheduling and wait for runs in progress (and a queued follow-up, which is skipped).
   * Safe to call more than once.
   */
  async stop(): Promise<void> {
    this.state = 'stopped';
    for (const s of this.jobs.values()) {
      if (s.timer !== null) this.timers.clearTimeout(s.timer);
      s.timer = null;
    }
    for (;;) {
      const pending = [...this.jobs.values()].flatMap((s) => [s.running, s.queued]).filter((p) => p !== null);
      if (pending.length === 0) break;
      await Promise.allSettled(pending);
    }
    this.opts.logger.info('Scheduler stopped');
  }

  /**
   * Run a job now, outside its timer (tests, admin). If it is already running, one follow-up run
   * starts right after the current one (concurrent requests share it). Works before `start()`.
   * Resolves when that run ends; rejects with the job's error (which is also logged), or if the
   * name is unknown or the scheduler was stopped.
   */
  async runNow(name: string): Promise<void> {
    const s = this.jobs.get(name);
    if (s === undefined) throw new Error(`unknown job ${name}`);
    if (this.state === 'stopped') throw new Error(`scheduler stopped; not running ${name}`);
    return this.request(s);
  }

  /** Names of the registered jobs with their intervals (for the startup log and tests). */
  list(): Array<{ name: string; seconds: number }> {
    return [...this.jobs.values()].map((s) => ({ name: s.name, seconds: s.seconds }));
  }

  private startJob(s: JobState): void {
    this.opts.logger.info({ job: s.name, seconds: s.seconds }, `Starting ${s.name} job (interval: ${s.seconds}s)`);
    this.arm(s, s.runAtStart ? 0 : s.seconds * 1000);
  }

  private arm(s: JobState, ms: number): void {
    if (this.state !== 'started') return;
    const handle = this.timers.setTimeout(() => {
      s.timer = null;
      this.tick(s);
    }, ms);
    handle.unref?.();
    s.timer = handle;
  }

  /** A timer fired: run (after any run in progress), then sleep the interval. */
  private tick(s: JobState): void {
    this.request(s).then(
      () => this.arm(s, s.seconds * 1000),
      () => this.arm(s, s.seconds * 1000), // already logged; the loop goes on
    );
  }

  /** Start a run now, or queue one follow-up behind the run in progress. */
  private request(s: JobState): Promise<void> {
    if (s.running === null) return this.execute(s);
    if (s.queued !== null) return s.queued;
    const queued: Promise<void> = s.running.then(
      (): Promise<void> => this.afterQueue(s, queued),
      (): Promise<void> => this.afterQueue(s, queued),
    );
    s.queued = queued;
    return queued;
  }

  private afterQueue(s: JobState, queued: Promise<void>): Promise<void> {
    if (s.queued === queued) s.queued = null;
    if (this.state === 'stopped') return Promise.resolve();
    return this.execute(s);
  }

  private execute(s: JobState): Promise<void> {
    const run = this.runJob(s);
    s.running = run;
    const clear = (): void => {
      if (s.running === run) s.running = null;
    };
    run.then(clear, clear);
    return run;
  }

  private async runJob(s: JobState): Promise<void> {
    const startedMs = this.opts.clock.nowMs();
    let failed = false;
    try {
      await s.job();
    } catch (err) {
      failed = true;
      this.opts.logger.error({ err, job: s.name }, `Scheduled job ${s.name} failed`);
      throw err;
    } finally {
      const tookMs = this.opts.clock.nowMs() - startedMs;
      this.opts.onRun?.({ job: s.name, startedMs, durationMs: tookMs, failed });
      if (tookMs > s.seconds * 1000) {
        this.opts.logger.warn({ job: s.name, tookMs }, `Job ${s.name} took longer than its interval`);
      }
    }
  }
}
