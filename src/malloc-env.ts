/**
 * glibc malloc settings the daemon is meant to run with (issue 14, memory). glibc reads them from
 * the environment when the process starts, so the daemon cannot set them itself: contrib/mostrod.service
 * and the Dockerfile set them, the bench starts its daemons with them, and the daemon logs at start
 * which ones it got (a start without them is not wrong, only heavier).
 *
 * - `MALLOC_ARENA_MAX=2`: 2 arenas instead of 8 per core for the daemon's threads (about 8–10 MB
 *   less RSS after the bench's load; docs/PERFORMANCE.md, session 17).
 * - `MALLOC_MMAP_THRESHOLD_=131072`: blocks of 128 KiB and more are mapped on their own and
 *   returned to the kernel when freed, and the threshold stays there (glibc's default starts at
 *   128 KiB and rises after large frees, after which ever larger blocks come from the heap and can
 *   stay in it). Sessions 18–25 shipped 16384 (16 KiB), which also mapped the 8–32 KiB blocks of
 *   V8's compiler at start (on Node 20 about 4 starts in 10 otherwise keep 10–20 MB of them in the
 *   heap). But every socket read takes a 64 KiB buffer from malloc, so at 16 KiB each read mapped,
 *   faulted in and unmapped its buffer: on a VM where page faults and TLB flushes go through the
 *   hypervisor that doubled the CPU a junk frame costs (0.028–0.031 → 0.011–0.018 CPU-ms in
 *   interleaved runs) for 1–5 MB of RSS (docs/PERFORMANCE.md, session 26).
 */
export const SHIPPED_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

export interface MallocEnvReport {
  /** Each shipped variable's value in this process (null: not set). */
  settings: Record<string, string | null>;
  /** The shipped variables this process lacks or has with another value (glibc only; [] elsewhere). */
  differing: string[];
}

/** What the process got, compared with SHIPPED_MALLOC_ENV; `glibc` false (musl, macOS): nothing differs. */
export function mallocEnvReport(env: NodeJS.ProcessEnv, glibc: boolean): MallocEnvReport {
  const settings: Record<string, string | null> = {};
  const differing: string[] = [];
  for (const [name, shipped] of Object.entries(SHIPPED_MALLOC_ENV)) {
    const value = env[name] ?? null;
    settings[name] = value;
    if (glibc && value !== shipped) differing.push(name);
  }
  return { settings, differing };
}

/** Whether this Node.js runs on glibc (process.report names its runtime version there). */
export function runsOnGlibc(): boolean {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}
