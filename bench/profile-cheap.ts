/**
 * Daemon CPU per cheap junk event (not part of `npm run bench`; run it after `npm run build`):
 *   node --import tsx bench/profile-cheap.ts [--rounds 3] [--count 20000] [--rate 5000] [--profile] [--batch-fanout]
 *
 * The `cheap` phase of bench/run.ts, repeated `rounds` times against one daemon: malformed and
 * no-PoW kind-1059 events sent through the bench relay at `rate`/s. Per round it prints the daemon's
 * CPU per event (CPU time over the window minus its idle rate, from /proc) and the bench relay's
 * (its `["STATS"]` cpuUs). `--profile` runs the inspector's sampling profiler in the daemon during
 * the last round (bench/profile-preload.mjs) and prints where its busy time went; `--batch-fanout`
 * has the relay write each inbound read's events to the daemon at once (relay.ts). Also:
 * CHEAP_PRELOAD=<module> and CHEAP_NODE_OPTIONS=<flags> for the daemon (e.g. --perf-basic-prof, then
 * `perf record -t <DAEMON_PID>`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runStagedFlood, stageJunk } from './flood.js';
import { cpuSeconds, startBenchRelay, startHarness } from './harness.js';
import { shortUrl, unbundle, type CpuProfile } from './profile-source.js';
import { round } from './stats.js';
import { WorkerPool } from './workers.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    count: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '5000' },
    profile: { type: 'boolean', default: false },
    'batch-fanout': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const COUNT = Number(values.count);
const RATE = Number(values.rate);
const POW = 6;
const PRELOAD = fileURLToPath(new URL('./profile-preload.mjs', import.meta.url));

function summarize(file: string): { busyMs: number; top: Array<[string, number]> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  unbundle(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const byFn = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (n === undefined || n.callFrame.functionName === '(idle)') return;
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    busy += ms;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + ms);
  });
  return { busyMs: round(busy, 0), top: [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => [k, round(v, 1)]) };
}

/** CPU seconds per thread name (user, system) of a process, from /proc/<pid>/task. */
function threadCpu(pid: number): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const key = tid === String(pid) ? 'main' : name;
    const prev = out.get(key) ?? [0, 0];
    out.set(key, [prev[0] + Number(f[11]) / 100, prev[1] + Number(f[12]) / 100]);
  }
  return out;
}

function threadDiff(a: Map<string, [number, number]>, b: Map<string, [number, number]>): string {
  const parts: string[] = [];
  for (const [k, [u, s]] of b) {
    const [u0, s0] = a.get(k) ?? [0, 0];
    if (u - u0 + s - s0 > 0) parts.push(`${k} ${round((u - u0) * 1000, 0)}u+${round((s - s0) * 1000, 0)}s ms`);
  }
  return parts.join(', ');
}

const dir = mkdtempSync(path.join(tmpdir(), 'mostrod-cheap-'));
const relay = await startBenchRelay(false, { batchFanout: values['batch-fanout'] });
const pool = new WorkerPool(2);
try {
  // CHEAP_PRELOAD: an extra module for the daemon (e.g. a GC observer).
  const preloads = [...(values.profile ? [PRELOAD] : []), ...(process.env['CHEAP_PRELOAD'] !== undefined ? [process.env['CHEAP_PRELOAD']] : [])];
  // CHEAP_NODE_OPTIONS: extra daemon flags (e.g. --perf-basic-prof for `perf record -p <DAEMON_PID>`).
  const nodeOptions = [...preloads.map((p) => `--import=${p}`), ...(process.env['CHEAP_NODE_OPTIONS'] !== undefined ? [process.env['CHEAP_NODE_OPTIONS']] : [])];
  if (nodeOptions.length > 0) process.env['NODE_OPTIONS'] = nodeOptions.join(' ');
  if (values.profile) {
    process.env['MOSTROD_PROFILE_DIR'] = dir;
    process.env['MOSTROD_PROFILE_SECONDS'] = String(Math.ceil(COUNT / RATE) + 1);
  }
  const h = await startHarness({ pow: POW, relay });
  process.stdout.write(`DAEMON_PID=${h.pid}\n`);
  delete process.env['NODE_OPTIONS'];
  const now = Math.floor(Date.now() / 1000);
  for (let r = 0; r < ROUNDS; r++) {
    const frames = await stageJunk(pool, { types: ['malformed', 'bad-pow'], perType: COUNT / 2, nodePubkey: h.nodePubkey, pow: POW, createdAt: now - r * 4000 });
    await new Promise((res) => setTimeout(res, 1000));
    const idle0 = cpuSeconds(h.pid);
    await new Promise((res) => setTimeout(res, 2000));
    const idlePerSecond = (cpuSeconds(h.pid) - idle0) / 2;
    if (values.profile && r === ROUNDS - 1) writeFileSync(path.join(dir, 'start'), '');
    const relay0 = await relay.stats();
    const cpu0 = cpuSeconds(h.pid);
    const threads0 = threadCpu(h.pid);
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const flood = await runStagedFlood(pool, frames, relay.url, RATE, Date.now());
    await new Promise((res) => setTimeout(res, 1000));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = Math.max(0, cpuSeconds(h.pid) - cpu0 - idlePerSecond * seconds);
    const threads1 = threadCpu(h.pid);
    const self = process.cpuUsage(self0);
    const relay1 = await relay.stats();
    const relayUs = relay1.cpuUs.user + relay1.cpuUs.system - relay0.cpuUs.user - relay0.cpuUs.system;
    process.stdout.write(
      `round ${r + 1}: sent ${flood.sent} at ${round(flood.rate, 0)}/s; daemon ${round((cpu * 1000) / flood.sent, 4)} CPU-ms/event (idle ${round(idlePerSecond * 1000, 1)} ms/s); ` +
        `relay ${round(relayUs / 1000 / flood.sent, 4)} CPU-ms/event; bench process ${round((self.user + self.system) / 1000 / flood.sent, 4)} CPU-ms/event; relay delivered ${relay1.delivered - relay0.delivered}\n  daemon threads: ${threadDiff(threads0, threads1)}\n`,
    );
  }
  if (values.profile) await new Promise((res) => setTimeout(res, 2500));
  await h.close();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
    const s = summarize(path.join(dir, f));
    if (s.busyMs < 50) continue;
    process.stdout.write(`\n### ${f} — busy ${s.busyMs} ms\n`);
    for (const [fn, ms] of s.top) process.stdout.write(`${String(ms).padStart(8)} ms  ${fn}\n`);
  }
} finally {
  delete process.env['NODE_OPTIONS'];
  await pool.close();
  await relay.stop();
  rmSync(dir, { recursive: true, force: true });
}
