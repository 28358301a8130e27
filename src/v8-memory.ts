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
 * An operator's own flags win: a `--max-semi-space-size` or `--heap-growing-percent` on the node
 * command line or in NODE_OPTIONS turns the matching part off. Flags are process-wide, so the
 * crypto worker threads follow the same growing rules (their young generation also has its own
 * cap, see crypto-pool.ts).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/** Young generation cap: both semi-spaces together (V8's default reaches 32 MB). */
export const NEW_SPACE_CAP_BYTES = 8 * 1024 * 1024;
/** Old generation: next major collection at 1.2 × the live size. */
export const HEAP_GROWING_PERCENT = 20;

export interface V8MemoryPlan {
  /** Set --heap-growing-percent (the operator did not). */
  heapGrowingPercent: number | null;
  /** Cap the young generation at this many bytes (the operator set no semi-space size). */
  newSpaceCapBytes: number | null;
}

function flagName(arg: string): string {
  return arg.split('=')[0]!.replace(/_/g, '-');
}

/** What to set, given the node command-line flags and NODE_OPTIONS the process was started with. */
export function v8MemoryPlan(execArgv: readonly string[], nodeOptions: string | undefined): V8MemoryPlan {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
  return {
    heapGrowingPercent: given.has('--heap-growing-percent') ? null : HEAP_GROWING_PERCENT,
    newSpaceCapBytes: given.has('--max-semi-space-size') || given.has('--semi-space-growth-factor') ? null : NEW_SPACE_CAP_BYTES,
  };
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
