/**
 * Garbage collection of the bench's own equipment — the bench process's threads (main, traffic
 * generators, flood senders, the load thread) and the bench relay — before a measured open loop, so
 * that their collections do not land in the window they measure. The daemon is never touched.
 *
 * Why: on this 2-vCPU box a major collection in the bench's main thread (29 ms, after generating a
 * phase's traffic), in the load thread (16 ms) or in the relay, with V8's helper threads marking
 * beside it, left the daemon without a CPU for that long; the requests in flight then were the slow
 * 1 % that decided a flood's p99 (session 15, a GC observer in every process and thread on one
 * monotonic clock). The relay and the load generator stand for machines of their own; on a real node
 * their collections do not take the daemon's CPU.
 *
 * How: every isolate of the equipment runs a full collection just before the window (the relay on a
 * `["GC"]` frame, the worker threads on a message, the load thread and a flood sender right before
 * their first send), and the relay and the bench run with `--no-memory-reducer` (npm run bench,
 * startBenchRelay), so an idle isolate does not start one on its own during the window.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = () => void;

let gcFn: GcFn | null | undefined;

/** V8's `gc()`: the global one under --expose-gc, otherwise exposed at run time (V8 flag + a new context). */
function gcFunction(): GcFn | null {
  if (gcFn !== undefined) return gcFn;
  const exposed = (globalThis as { gc?: GcFn }).gc;
  if (typeof exposed === 'function') return (gcFn = exposed);
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    gcFn = typeof fn === 'function' ? (fn as GcFn) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** A full collection of this thread's heap; ms taken, or null when gc() is not available. */
export function collectThisThread(): number | null {
  const gc = gcFunction();
  if (gc === null) return null;
  const t0 = performance.now();
  gc();
  return performance.now() - t0;
}

/** Collectors of other isolates (worker pools, the relay), registered by their owners. */
const collectors = new Set<() => Promise<unknown>>();

/** Register a collector run by `collectEquipment`; returns the function that removes it. */
export function registerCollector(fn: () => Promise<unknown>): () => void {
  collectors.add(fn);
  return () => collectors.delete(fn);
}

/** A full collection in this thread and every registered isolate, all at once; ms taken. */
export async function collectEquipment(): Promise<number> {
  const t0 = performance.now();
  await Promise.all([...collectors].map((c) => c().catch(() => undefined)));
  collectThisThread();
  return performance.now() - t0;
}
