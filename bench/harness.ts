/**
 * Processes and connections for the end-to-end benchmarks: the bench relay as its own process,
 * the built daemon (dist/main.js) in the test sandbox (LND simulator, price server) pointed at that
 * relay, raw WebSocket connections for the simulated traders, and process CPU/RSS readings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startSandbox, type Sandbox } from '../test/support/sandbox.js';

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
  stop(): Promise<void>;
}

export async function startBenchRelay(verify: boolean): Promise<BenchRelay> {
  const child = spawn(process.execPath, ['--import', 'tsx', RELAY_ENTRY, ...(verify ? ['--verify'] : [])], {
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
  return {
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
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A raw relay connection (no parsing beyond what the caller does). */
export class Conn {
  onFrame: (frame: string, atMs: number) => void = () => undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.onFrame(d.toString('utf8'), performance.now()));
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
    this.ws.close();
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (clock ticks, 100/s on Linux)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set size of a process in MB, from /proc. */
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
  close(): Promise<void>;
}

/**
 * The built daemon against the bench relay. `dbFile` (optional) is copied in as its database first;
 * `cryptoThreads` sets `[nostr] crypto_threads` (absent = the daemon's default, cores − 1).
 */
export async function startHarness(opts: { pow: number; relay?: BenchRelay; dbFile?: string; cryptoThreads?: number }): Promise<Harness> {
  const relay = opts.relay ?? (await startBenchRelay(false));
  const sb = await startSandbox({
    startDaemon: false,
    logLevel: 'info',
    settings: {
      mostro: { pow: opts.pow },
      nostr: { relays: [relay.url], ...(opts.cryptoThreads !== undefined ? { crypto_threads: opts.cryptoThreads } : {}) },
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
    async close() {
      await sb.close();
      if (opts.relay === undefined) await relay.stop();
    },
  };
}
