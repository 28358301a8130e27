/**
 * Processes and connections for the end-to-end benchmarks: the bench relay as its own process,
 * the built daemon (dist/main.js) in the test sandbox (LND simulator, price server) pointed at that
 * relay, raw WebSocket connections for the simulated traders, and process CPU/RSS readings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startSandbox, type Sandbox } from '../test/support/sandbox.js';
import { registerCollector } from './equipment-gc.js';

const RELAY_ENTRY = fileURLToPath(new URL('./relay.ts', import.meta.url));

export interface RelayCounters {
  received: number;
  accepted: number;
  duplicates: number;
  invalid: number;
  delivered: number;
  stored: number;
  cpuUs: { user: number; system: number };
  rss: number;
}

export interface BenchRelay {
  url: string;
  child: ChildProcess;
  stats(): Promise<RelayCounters>;
  /** Start recording arrival times at the relay (see relay.ts, `TRACE`). */
  /** Record arrival times from now on: of these event ids and p tags only, or of every event. */
  traceStart(ids?: string[], pTags?: string[]): Promise<void>;
  /** Arrival times (monotonic ms) of the given event ids and p tags since traceStart; stops recording. */
  traceStop(ids: string[], pTags: string[]): Promise<{ ids: Record<string, number>; p: Record<string, number> }>;
  /** A full collection of the relay's heap (relay.ts `GC`); ms, or null without gc(). */
  collectGarbage(): Promise<number | null>;
  stop(): Promise<void>;
}

/** `batchFanout`: the relay's `--batch-fanout` (one write per subscriber per inbound read; see relay.ts). */
export async function startBenchRelay(verify: boolean, o: { batchFanout?: boolean } = {}): Promise<BenchRelay> {
  // BENCH_RELAY_NODE_OPTIONS: node flags for the bench relay only (diagnosis, e.g. --trace-gc)
  const relayNodeOptions = (process.env['BENCH_RELAY_NODE_OPTIONS'] ?? '').split(/\s+/).filter((a) => a !== '');
  // BENCH_RELAY_MAX_STORED: the relay's --max-stored (diagnosis; relay.ts has the default)
  const maxStored = process.env['BENCH_RELAY_MAX_STORED'];
  const storeArgs = maxStored !== undefined && maxStored !== '' ? ['--max-stored', maxStored] : [];
  // --no-memory-reducer: an idle relay does not start a major collection of its own in a measured
  // window; bench/equipment-gc.ts collects it before each one instead
  const child = spawn(process.execPath, ['--no-memory-reducer', ...relayNodeOptions, '--import', 'tsx', RELAY_ENTRY, ...(verify ? ['--verify'] : []), ...(o.batchFanout === true ? ['--batch-fanout'] : []), ...storeArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('bench relay did not start')), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /RELAY_URL=(\S+)/.exec(buf);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`bench relay exited (${code})`)));
  });
  const relay: BenchRelay = {
    url,
    child,
    async stats() {
      const c = await Conn.open(url);
      const p = new Promise<RelayCounters>((resolve) => {
        c.onFrame = (f) => {
          if (f.startsWith('["STATS"')) resolve((JSON.parse(f) as [string, RelayCounters])[1]);
        };
      });
      c.send('["STATS"]');
      const r = await p;
      c.close();
      return r;
    },
    async traceStart(ids, pTags) {
      const c = await Conn.open(url);
      c.send(JSON.stringify(ids !== undefined && pTags !== undefined ? ['TRACE', 'start', ids, pTags] : ['TRACE', 'start']));
      // the relay handles one connection's frames in order: a STATS answer means TRACE was applied
      const p = new Promise<void>((resolve) => {
        c.onFrame = (f) => {
          if (f.startsWith('["STATS"')) resolve();
        };
      });
      c.send('["STATS"]');
      await p;
      c.close();
    },
    async traceStop(ids, pTags) {
      const c = await Conn.open(url);
      const p = new Promise<{ ids: Record<string, number>; p: Record<string, number> }>((resolve) => {
        c.onFrame = (f) => {
          if (f.startsWith('["TRACE"')) resolve((JSON.parse(f) as [string, { ids: Record<string, number>; p: Record<string, number> }])[1]);
        };
      });
      c.send(JSON.stringify(['TRACE', 'stop', ids, pTags]));
      const r = await p;
      c.close();
      return r;
    },
    async collectGarbage() {
      const c = await Conn.open(url);
      const p = new Promise<number | null>((resolve) => {
        c.onFrame = (f) => {
          if (f.startsWith('["GC"')) resolve((JSON.parse(f) as [string, number | null])[1]);
        };
      });
      c.send('["GC"]');
      const r = await p;
      c.close();
      return r;
    },
    async stop() {
      unregister();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
  const unregister = registerCollector(() => relay.collectGarbage());
  return relay;
}

/** A raw relay connection (no parsing beyond what the caller does). */
export class Conn {
  onFrame: (frame: string, atMs: number) => void = () => undefined;
  /** Set when the relay closed this connection (not by `close()`): a bench figure over it is void. */
  lostWith: string | null = null;
  private closing = false;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.onFrame(d.toString('utf8'), performance.now()));
    ws.on('close', (code: number, reason: Buffer) => {
      if (!this.closing) this.lostWith = `code ${code}${reason.length > 0 ? ` (${reason.toString('utf8')})` : ''}`;
    });
  }

  static async open(url: string): Promise<Conn> {
    const ws = new WebSocket(url, { maxPayload: 16 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Conn(ws);
  }

  send(frame: string): void {
    this.ws.send(frame);
  }

  close(): void {
    this.closing = true;
    this.ws.close();
  }
}

/** `p`, or a rejection naming `name` once `ms` have passed. */
export async function withTimeout<T>(name: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} exceeded its ${ms / 1000} s time box`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wait until the process is quiet (under `maxCores` of CPU over a 0.5 s sample) or `maxMs` passed;
 * returns the seconds waited. For letting a backlog drain between phases.
 */
export async function settle(pid: number, maxMs = 15_000, maxCores = 0.1): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < maxMs) {
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 500));
    if (cpuSeconds(pid) - c0 < maxCores * 0.5) break;
  }
  return (performance.now() - t0) / 1000;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (clock ticks, 100/s on Linux)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set size of a process in MB, from /proc. */
/**
 * CPU seconds of the whole machine since boot (/proc/stat, all CPUs): busy (everything but idle and
 * iowait, steal included) and steal (time the hypervisor ran something else on our vCPUs).
 */
export function boxCpuSeconds(): { busy: number; steal: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  const hz = 100; // USER_HZ
  return { busy: (user + nice + system + irq + softirq + steal) / hz, steal: steal / hz };
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] !== undefined ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

export interface Harness {
  relay: BenchRelay;
  sb: Sandbox;
  nodePubkey: string;
  /** spawn → "mostrod ready" */
  readyMs: number;
  pid: number;
  /** `http://127.0.0.1:<port>` of the daemon's [http] listener (/metrics), when started with `http`. */
  httpUrl?: string;
  close(): Promise<void>;
}

/**
 * The daemon's intake verdict counters (`mostrod_intake_events_total{verdict=…}` from /metrics):
 * dispatched, or the gate that dropped the event ('overloaded' = shed before/after the signature).
 */
export async function intakeVerdicts(h: Harness): Promise<Record<string, number> | null> {
  if (h.httpUrl === undefined) return null;
  const res = await fetch(`${h.httpUrl}/metrics`);
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^mostrod_intake_events_total\{verdict="([^"]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * The daemon's crypto tasks by where they ran (`mostrod_crypto_tasks_total{where=inline|helped|threads}`
 * from /metrics; null: /metrics unavailable).
 */
export async function cryptoTasks(h: Harness): Promise<Record<string, number> | null> {
  if (h.httpUrl === undefined) return null;
  const res = await fetch(`${h.httpUrl}/metrics`);
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^mostrod_crypto_tasks_total\{where="([^"]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** b − a per key (what ran between two readings of cryptoTasks); null if either is. */
export function cryptoTasksBetween(a: Record<string, number> | null, b: Record<string, number> | null): Record<string, number> | null {
  if (a === null || b === null) return null;
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]));
}

/** Cumulative bucket counts of `mostrod_intake_lane_wait_seconds` per lane (`le` in seconds → count). */
export type LaneWaitBuckets = Record<string, Map<number, number>>;

/** The daemon's crypto-lane wait histogram from /metrics (null: /metrics unavailable). */
export async function laneWaitBuckets(h: Harness): Promise<LaneWaitBuckets | null> {
  if (h.httpUrl === undefined) return null;
  const res = await fetch(`${h.httpUrl}/metrics`);
  const text = await res.text();
  const out: LaneWaitBuckets = {};
  for (const m of text.matchAll(/^mostrod_intake_lane_wait_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const lane = labels['lane'];
    const leText = labels['le'];
    if (lane === undefined || leText === undefined) continue;
    (out[lane] ??= new Map()).set(leText === '+Inf' ? Number.POSITIVE_INFINITY : Number(leText), Number(m[2]));
  }
  return out;
}

/** Per lane, over b − a: events that entered the lane and the bucket bound (ms) under which 99 % of them waited. */
export function laneWaitP99(a: LaneWaitBuckets, b: LaneWaitBuckets): Record<string, { n: number; p99AtMostMs: number }> {
  const out: Record<string, { n: number; p99AtMostMs: number }> = {};
  for (const [lane, after] of Object.entries(b)) {
    const before = a[lane] ?? new Map<number, number>();
    const bounds = [...after.keys()].sort((x, y) => x - y);
    const n = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
    if (n <= 0) continue;
    const bound = bounds.find((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0) >= 0.99 * n) ?? Number.POSITIVE_INFINITY;
    out[lane] = { n, p99AtMostMs: bound * 1000 };
  }
  return out;
}

/** b − a per key (keys of either), dropping zeros. */
export function diffCounters(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/**
 * `BENCH_DAEMON_RELAY_COPIES=N` (diagnosis, default 1): the daemon is given the bench relay N times
 * (as N URLs: `ws://host:port/copy-2` …), so it holds N connections and subscriptions and reads
 * every request N times — what a node on N relays sees, each relay forwarding the client's copy.
 */
function daemonRelayUrls(url: string): string[] {
  const raw = process.env['BENCH_DAEMON_RELAY_COPIES'];
  const n = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`BENCH_DAEMON_RELAY_COPIES must be an integer from 1 to 16, got ${JSON.stringify(raw)}`);
  return Array.from({ length: n }, (_, i) => (i === 0 ? url : `${url.replace(/\/$/, '')}/copy-${i + 1}`));
}

/**
 * The built daemon against the bench relay. `dbFile` (optional) is copied in as its database first;
 * `cryptoThreads` sets `[nostr] crypto_threads` (absent = the daemon's default, cores − 1);
 * `transport` sets `[mostro] transport` (absent = the daemon's default, "gift-wrap": v1 only;
 * "both" also subscribes to kind 14 and answers each trade key on the transport it spoke);
 * `http` turns on the `[http]` listener on a free port (for /metrics).
 */
export async function startHarness(opts: {
  pow: number;
  relay?: BenchRelay;
  dbFile?: string;
  cryptoThreads?: number;
  transport?: 'gift-wrap' | 'nip44' | 'both';
  http?: boolean;
}): Promise<Harness> {
  const relay = opts.relay ?? (await startBenchRelay(false));
  const sb = await startSandbox({
    startDaemon: false,
    logLevel: 'info',
    ...(opts.http === true ? { http: true } : {}),
    settings: {
      mostro: { pow: opts.pow, ...(opts.transport !== undefined ? { transport: opts.transport } : {}) },
      nostr: { relays: daemonRelayUrls(relay.url), ...(opts.cryptoThreads !== undefined ? { crypto_threads: opts.cryptoThreads } : {}) },
    },
  });
  if (opts.dbFile !== undefined) copyFileSync(opts.dbFile, path.join(sb.dir, 'mostro.db'));
  const t0 = performance.now();
  const proc = await sb.startDaemon();
  const readyMs = performance.now() - t0;
  const pid = proc.child.pid;
  if (pid === undefined) throw new Error('daemon has no pid');
  return {
    relay,
    sb,
    nodePubkey: sb.nodePubkey,
    readyMs,
    pid,
    ...(sb.httpPort !== null ? { httpUrl: `http://127.0.0.1:${sb.httpPort}` } : {}),
    async close() {
      const keep = process.env['BENCH_KEEP_LOGS'];
      if (keep !== undefined && keep !== '') {
        // diagnosis: keep the daemon's log (the sandbox directory goes with close)
        mkdirSync(keep, { recursive: true });
        copyFileSync(sb.logFile, path.join(keep, `mostrod-${pid}.log`));
      }
      await sb.close();
      if (opts.relay === undefined) await relay.stop();
    },
  };
}
