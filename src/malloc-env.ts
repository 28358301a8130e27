/**
 * glibc malloc settings the daemon is meant to run with (issue 14, memory). glibc reads them from
 * the environment when the process starts, so the daemon cannot set them itself: contrib/mostrod.service
 * and the Dockerfile set them, the bench starts its daemons with them, and the daemon logs at start
 * which ones it got (a start without them is not wrong, only heavier).
 *
 * - `MALLOC_ARENA_MAX=2`: 2 arenas instead of 8 per core for the daemon's threads (about 8–10 MB
 *   less RSS after the bench's load; docs/PERFORMANCE.md, session 17).
 * - `MALLOC_MMAP_THRESHOLD_=16384`: blocks of 16 KiB and more are mapped on their own and returned
 *   to the kernel when freed. V8's optimizing compiler takes its working memory in 8–32 KiB blocks;
 *   compiling a few large functions at start (Node's CommonJS export lexer, protobufjs's decoders)
 *   briefly needs 20–30 MB of them, and with glibc's default (blocks under 128 KiB, and more once
 *   large blocks were freed, come from the main heap) about 4 starts in 10 on Node 20 kept 10–20 MB
 *   of that heap for the process's life. Interleaved runs: RSS after the bench's load 128.1–128.3 MB
 *   with it, 135.2–139.6 MB without, same throughput. Node 22 and 24 start without that burst; the
 *   variable still saves 4–7 MB there (docs/PERFORMANCE.md, session 18).
 */
export const SHIPPED_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '16384',
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
