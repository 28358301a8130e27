/**
 * V8 heap sizing for the daemon process (issue 14, memory). The daemon's live heap is small (about
 * 30 MB after a load: everything durable is in SQLite), but V8's defaults size the heap for
 * throughput on a big machine: a young generation that grows to 2 × 16 MB semi-spaces, and an old
 * generation allowed to grow to up to 4 × its live size before a major collection. Under a steady
 * request load that is a 175–270 MB RSS saw-tooth made mostly of garbage waiting for a collection.
 *
 * Two runtime flags bound it (both read by V8 at each collection, so they can be set from JS after
 * start, unlike --max-semi-space-size):
 *  - `--heap-growing-percent`: the old generation may grow to (1 + p/100) × its live size before
 *    the next major collection (V8 picks 1.1–4 by itself);
 *  - `--semi-space-growth-factor`: 2 while the young generation is under its cap, 1 once it
 *    reached it, adjusted after every collection — the cap that --max-semi-space-size would give
 *    (1 during start-up: see V8Memory.startGrowing).
 *
 * A third flag is read when an isolate is created, so from JS it reaches only the isolates made
 * after it is set (the crypto and checkpoint threads); the main isolate gets it from the command
 * line (SHIPPED_NODE_FLAGS):
 *  - `--no-short-builtin-calls`: V8 maps its builtins' code a second time into each isolate's code
 *    range, next to the JIT code, so calls to them are short; the pages touched count in RSS twice.
 *    Off: ≈ 1–2 MB less after the bench's load on Node 24 (one isolate ≈ 1 MB), the throughput
 *    within the machine's spread (docs/PERFORMANCE.md, session 22).
 *
 * A fourth is read at each major collection, so the boot plan sets it for every isolate:
 *  - `--flush-baseline-code`: V8 already drops the bytecode of functions that have not run for a
 *    few major collections (start-up code, the migrations, a handler nobody called lately), but it
 *    keeps their Sparkplug (baseline) machine code unless told otherwise. On: ≈ 1.6 MB less after
 *    the bench's load on Node 24, the throughput within the machine's spread (session 23). A
 *    function that runs again is compiled again.
 *
 * A fifth bounds where V8's optimizing compiler runs (read each time it posts work, so it holds from
 * the moment it is set; V8 12 and later, i.e. Node 22 and 24 — Node 20's V8 does not know it):
 *  - `--concurrent-turbofan-max-threads=1`: TurboFan compiles on at most one of V8's platform
 *    threads (Node 22's default is all four, Node 24's four). When traffic of a new shape arrives
 *    — a flood's first seconds make a hundred-odd functions hot at once — its jobs (50–120 ms each
 *    on the bench machine) otherwise took more than one of a 2-vCPU box's cores beside the event
 *    loop, which then waited in the run queue while frames piled up in its socket: the v2 floods'
 *    slowest requests (docs/PERFORMANCE.md, session 25). Optimized code arrives a little later; the
 *    closed loops showed no cost.
 *
 * An operator's own flags win: a `--max-semi-space-size` or `--heap-growing-percent` (or either
 * form of `--short-builtin-calls` or `--flush-baseline-code`, or a
 * `--concurrent-turbofan-max-threads`) on the node command line or in NODE_OPTIONS turns the
 * matching part off. Flags are process-wide, so the crypto worker threads follow the same growing rules
 * (their young generation also has its own cap, see crypto-pool.ts).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/** Young generation cap: both semi-spaces together (V8's default reaches 32 MB). */
export const NEW_SPACE_CAP_BYTES = 8 * 1024 * 1024;
/** Old generation: next major collection at 1.2 × the live size. */
export const HEAP_GROWING_PERCENT = 20;
/** Platform threads V8's optimizing compiler may use at once. */
export const TURBOFAN_THREADS = 1;
/** The first V8 major version that has `--concurrent-turbofan-max-threads` (Node 22's is 12.4). */
const TURBOFAN_THREADS_FROM_V8 = 12;
/**
 * Node flags the daemon is meant to be started with (contrib/mostrod.service, the Dockerfile and
 * the bench's daemons carry them): V8 reads them when the main isolate is made, before any of our
 * code runs.
 */
export const SHIPPED_NODE_FLAGS: readonly string[] = ['--no-short-builtin-calls'];

export interface V8MemoryPlan {
  /** Set --heap-growing-percent (the operator did not). */
  heapGrowingPercent: number | null;
  /** Cap the young generation at this many bytes (the operator set no semi-space size). */
  newSpaceCapBytes: number | null;
  /** Turn short builtin calls off for the isolates made from now on (the operator named neither form). */
  noShortBuiltinCalls: boolean;
  /** Let major collections drop the baseline code of functions gone cold (the operator named neither form). */
  flushBaselineCode: boolean;
  /** Cap TurboFan's concurrent threads at this many (null: the operator set it, or this V8 lacks the flag). */
  turbofanThreads: number | null;
}

function flagName(arg: string): string {
  return arg.split('=')[0]!.replace(/_/g, '-');
}

/**
 * What to set, given the node command-line flags and NODE_OPTIONS the process was started with, and
 * V8's version (`process.versions.v8`).
 */
export function v8MemoryPlan(execArgv: readonly string[], nodeOptions: string | undefined, v8Version: string = process.versions.v8): V8MemoryPlan {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
  return {
    heapGrowingPercent: given.has('--heap-growing-percent') ? null : HEAP_GROWING_PERCENT,
    newSpaceCapBytes: given.has('--max-semi-space-size') || given.has('--semi-space-growth-factor') ? null : NEW_SPACE_CAP_BYTES,
    noShortBuiltinCalls: !given.has('--short-builtin-calls') && !given.has('--no-short-builtin-calls'),
    flushBaselineCode: !given.has('--flush-baseline-code') && !given.has('--no-flush-baseline-code'),
    turbofanThreads: given.has('--concurrent-turbofan-max-threads') || Number.parseInt(v8Version, 10) < TURBOFAN_THREADS_FROM_V8 ? null : TURBOFAN_THREADS,
  };
}

/** `--no-x` and `--x` name the same V8 flag. */
function flagBase(arg: string): string {
  return flagName(arg).replace(/^--no-/, '--');
}

/**
 * The shipped node flags this process's command line does not name in either form ([] when started
 * as shipped, or when the operator chose otherwise on purpose).
 */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.map(flagBase));
  return SHIPPED_NODE_FLAGS.filter((f) => !given.has(flagBase(f)));
}

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

export interface V8Memory {
  readonly plan: V8MemoryPlan;
  /**
   * Let the young generation grow (up to its cap) from now on. Call it once the daemon is up:
   * until then it stays at V8's initial size, because start-up runs long synchronous stretches
   * (module graph, LND protos, migrations) in which several collections, each free to double the
   * young generation, run before the check after a collection could close it.
   */
  startGrowing(): void;
}

/**
 * Apply `plan`. With a young-generation cap, growth is re-evaluated after every collection once
 * started: allowed while one more doubling stays within the cap.
 */
export function applyV8MemoryPlan(plan: V8MemoryPlan): V8Memory {
  if (plan.heapGrowingPercent !== null) v8.setFlagsFromString(`--heap-growing-percent=${plan.heapGrowingPercent}`);
  if (plan.noShortBuiltinCalls) v8.setFlagsFromString('--no-short-builtin-calls');
  if (plan.flushBaselineCode) v8.setFlagsFromString('--flush-baseline-code');
  if (plan.turbofanThreads !== null) v8.setFlagsFromString(`--concurrent-turbofan-max-threads=${plan.turbofanThreads}`);
  const cap = plan.newSpaceCapBytes;
  let growing = true; // V8's default factor
  const adjust = (allow: boolean): void => {
    if (allow === growing) return;
    growing = allow;
    v8.setFlagsFromString(`--semi-space-growth-factor=${allow ? 2 : 1}`);
  };
  let observer: PerformanceObserver | null = null;
  if (cap !== null) adjust(false);
  return {
    plan,
    startGrowing() {
      if (cap === null || observer !== null) return;
      observer = new PerformanceObserver(() => adjust(newSpaceBytes() * 2 <= cap));
      observer.observe({ entryTypes: ['gc'] });
      adjust(newSpaceBytes() * 2 <= cap);
    },
  };
}
