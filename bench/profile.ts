/**
 * CPU profile of the built daemon under the closed loop (not part of `npm run bench`; run it after
 * `npm run build`):  node --import tsx bench/profile.ts [--seconds 10] [--threads N] [--open RATE]
 *
 * `--keep DIR`: copy the raw .cpuprofile files there (open them in Chrome DevTools or speedscope).
 *
 * `--open RATE`: profile an open loop at RATE requests/s instead (a quiet node's cost per request),
 * after a 5 s closed loop that is not profiled (JIT warm-up).
 *
 * Starts the daemon with a preload (profile-preload.mjs, through NODE_OPTIONS=--import) that runs
 * the inspector's sampling profiler in every thread — the event loop and each crypto worker —
 * during the closed loop, then prints each thread's busy time split by area (crypto, SQLite, JSON,
 * logging, sockets …) and by function (self time, top entries).
 *
 * `--alloc`: where the garbage comes from instead — V8's sampling heap profiler in every thread,
 * counting the objects collected meanwhile too; prints each thread's allocated bytes per request
 * by function (self) and the callers of the largest allocation sites.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchRelay, startHarness } from './harness.js';
import { shortUrl, unbundle, type CpuProfile, type ProfileNode } from './profile-source.js';
import { closedLoop, closeLoadThread, openLoop, prepareTraders } from './load.js';
import { round } from './stats.js';
import { WorkerPool } from './workers.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, threads: { type: 'string' }, traders: { type: 'string', default: '50' }, open: { type: 'string' }, keep: { type: 'string' }, alloc: { type: 'boolean', default: false } },
});
const OPEN_RATE = values.open !== undefined ? Number(values.open) : undefined;
const SECONDS = Number(values.seconds);
const PRELOAD = fileURLToPath(new URL('./profile-preload.mjs', import.meta.url));
const TRADERS = Number(values.traders);
const ALLOC = values.alloc === true;
const EXT = ALLOC ? '.heapprofile' : '.cpuprofile';


/** Area of a function by where it lives (coarse, for the summary table). */
function area(fn: string, url: string): string {
  if (fn === '(idle)' || fn === '(program)' || fn === '(garbage collector)') return fn;
  if (/nostr-wasm|secp256k1|wasm:|noble\/curves|schnorr/i.test(url + fn)) return 'secp256k1 (schnorr, ECDH)';
  // the native secp256k1 addon's entry points have no url
  if (url === '' && /^(publicKey|privateKey|ecdh|ecdsa|signature)[A-Z]?/.test(fn)) return 'secp256k1 (schnorr, ECDH)';
  if (/noble\/(hashes|ciphers)|nip44|chacha|hmac|hkdf|sha256/i.test(url + fn)) return 'hashes / NIP-44 cipher';
  if (/better-sqlite3|kysely/.test(url) || /^(all|run|prepare|get)$/.test(fn)) return 'SQLite / Kysely';
  if (/pino|sonic-boom|thread-stream/.test(url)) return 'logging';
  if (/node_modules\/ws\//.test(url) || /writev|writeGeneric|onStreamRead/.test(fn)) return 'sockets (ws)';
  if (/zod/.test(url)) return 'zod';
  if (/piscina/.test(url) || /postMessage|receiveMessageOnPort|Atomics/.test(fn)) return 'thread messaging';
  if (/JSON|parse|stringify/.test(fn)) return 'JSON';
  if (url.includes('/dist/') || url.includes('/src/')) return 'daemon code';
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other libraries';
}

/** Area of a nameless native frame by its caller: the two addons' callers in the daemon. */
function nativeArea(caller: { url: string }): string | undefined {
  if (/\/(dist|src)\/crypto\/(secp|schnorr)|secp256k1\/lib\//.test(caller.url)) return 'secp256k1 (schnorr, ECDH)';
  if (/\/(dist|src)\/db\/|better-sqlite3|kysely/.test(caller.url)) return 'SQLite / Kysely';
  return undefined;
}

function summarize(file: string): { busyMs: number; idleMs: number; byArea: Array<[string, number]>; top: Array<[string, number]> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  unbundle(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  /**
   * The two addons' functions (better-sqlite3's `run`, `all` …; secp256k1's) are named in Node
   * 20's profiles, but nameless or all named `Secp256k1Addon` in Node 24's. So a frame without a
   * script whose nearest caller with one is an addon's JS wrapper or the daemon's database or
   * crypto code is counted there, named after that caller.
   */
  const namedCaller = (id: number): ProfileNode['callFrame'] | undefined => {
    let q = parentOf.get(id);
    while (q !== undefined) {
      const f = byId.get(q)?.callFrame;
      if (f !== undefined && (f.functionName !== '' || f.url !== '')) return f;
      q = parentOf.get(q);
    }
    return undefined;
  };
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    total += ms;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const native = url === '' && !functionName.startsWith('(');
    const found = native ? namedCaller(id) : undefined;
    const callerArea = found !== undefined ? nativeArea(found) : undefined;
    const caller = callerArea !== undefined || (found !== undefined && functionName === '') ? found : undefined;
    const a = callerArea ?? (caller !== undefined ? area(caller.functionName, caller.url) : area(functionName, url));
    byArea.set(a, (byArea.get(a) ?? 0) + ms);
    const key =
      caller !== undefined
        ? `(native) under ${caller.functionName || '(anonymous)'} ${shortUrl(caller.url)}:${caller.lineNumber + 1}`
        : `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + ms);
  }
  const busy = total - idle;
  const sort = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round((v / busy) * 100, 1)]);
  return { busyMs: round(busy, 0), idleMs: round(idle, 0), byArea: sort(byArea), top: sort(byFn).slice(0, 15) };
}

interface HeapNode {
  id: number;
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapNode[];
}

/** A sampling heap profile: bytes allocated per function (self) and the call paths of the largest sites. */
function summarizeAlloc(file: string, requests: number): { mb: number; top: Array<[string, number]>; paths: Array<[string, number]> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const all: HeapNode[] = [];
  const parent = new Map<number, HeapNode>();
  const walk = (n: HeapNode): void => {
    all.push(n);
    for (const c of n.children) {
      parent.set(c.id, n);
      walk(c);
    }
  };
  walk(p.head);
  unbundle({ nodes: all as unknown as ProfileNode[], samples: [], timeDeltas: [] });
  const name = (n: HeapNode): string => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const byFn = new Map<string, number>();
  const byPath = new Map<string, number>();
  let total = 0;
  for (const n of all) {
    if (n.selfSize === 0) continue;
    total += n.selfSize;
    byFn.set(name(n), (byFn.get(name(n)) ?? 0) + n.selfSize);
    const chain = [name(n)];
    for (let q = parent.get(n.id); q !== undefined && chain.length < 4; q = parent.get(q.id)) if (q.callFrame.url !== '' || q.callFrame.functionName !== '(root)') chain.push(name(q));
    const key = chain.join(' ← ');
    byPath.set(key, (byPath.get(key) ?? 0) + n.selfSize);
  }
  const perRequest = (m: Map<string, number>, k: number): Array<[string, number]> =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([f, bytes]) => [f, round(bytes / Math.max(1, requests) / 1024, 2)]);
  return { mb: round(total / 1024 / 1024, 1), top: perRequest(byFn, 20), paths: perRequest(byPath, 12) };
}

const dir = mkdtempSync(path.join(tmpdir(), 'mostrod-profile-'));
const relay = await startBenchRelay(false);
const pool = new WorkerPool(2);
try {
  // The preload starts the inspector's sampling profiler in every thread of the daemon once
  // `<dir>/start` exists and writes one profile per thread after SECONDS.
  process.env['NODE_OPTIONS'] = `--import=${PRELOAD}`;
  process.env['MOSTROD_PROFILE_DIR'] = dir;
  process.env['MOSTROD_PROFILE_SECONDS'] = String(SECONDS);
  if (ALLOC) process.env['MOSTROD_PROFILE_KIND'] = 'alloc';
  const h = await startHarness({ pow: 6, relay, ...(values.threads !== undefined ? { cryptoThreads: Number(values.threads) } : {}) });
  delete process.env['NODE_OPTIONS'];
  const ahead = Math.floor(Date.now() / 1000) + 270;
  let r;
  if (OPEN_RATE === undefined) {
    const prep = await prepareTraders(pool, h, { traders: TRADERS, perTrader: Math.ceil((1000 * (SECONDS + 3)) / TRADERS), pow: 6, rumorCreatedAt: ahead });
    await closedLoop(h, prep.traders, 3); // JIT warm-up, not profiled (as in run.ts)
    writeFileSync(path.join(dir, 'start'), '');
    r = await closedLoop(h, prep.traders, SECONDS);
  } else {
    const warm = await prepareTraders(pool, h, { traders: TRADERS, perTrader: Math.ceil(4500 / TRADERS), pow: 6, rumorCreatedAt: ahead });
    const open = await prepareTraders(pool, h, { traders: OPEN_RATE * 2, perTrader: Math.ceil(SECONDS / 2) + 1, pow: 6, rumorCreatedAt: ahead });
    await closedLoop(h, warm.traders, 5);
    await new Promise((res) => setTimeout(res, 2000));
    writeFileSync(path.join(dir, 'start'), '');
    r = await openLoop(h, open.traders, OPEN_RATE, SECONDS);
  }
  await new Promise((res) => setTimeout(res, 2000)); // profiles written
  await h.close();
  process.stdout.write(
    `${OPEN_RATE === undefined ? 'closed loop' : `open loop ${OPEN_RATE}/s`}: ${r.answeredPerSecond} answered/s at ${r.daemonCpuCores} daemon cores (${round((r.daemonCpuCores * 1000) / Math.max(1, r.answeredPerSecond), 2)} CPU-ms per request), p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms\n\n`,
  );
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.error'))) process.stdout.write(`profiler failed in thread ${f.replace(/\.error$/, '')}: ${readFileSync(path.join(dir, f), 'utf8')}\n`);
  const files = readdirSync(dir).filter((f) => f.endsWith(EXT)).sort();
  if (values.keep !== undefined) {
    mkdirSync(values.keep, { recursive: true });
    for (const f of files) copyFileSync(path.join(dir, f), path.join(values.keep, f));
  }
  for (const f of ALLOC ? files : []) {
    const s = summarizeAlloc(path.join(dir, f), r.answered);
    if (s.mb < 1) continue;
    process.stdout.write(`### ${f} — ${s.mb} MB allocated in ${SECONDS} s, ${round((s.mb * 1024) / Math.max(1, r.answered), 1)} KB per answered request\n\n| function (self) | KB per request |\n| --- | ---: |\n`);
    for (const [fn, kb] of s.top) process.stdout.write(`| \`${fn}\` | ${kb} |\n`);
    process.stdout.write(`\n| allocation site ← callers | KB per request |\n| --- | ---: |\n`);
    for (const [fn, kb] of s.paths) process.stdout.write(`| \`${fn}\` | ${kb} |\n`);
    process.stdout.write('\n');
  }
  for (const f of ALLOC ? [] : files) {
    const s = summarize(path.join(dir, f));
    if (s.busyMs < 200) continue; // threads that did (almost) nothing
    process.stdout.write(`### ${f} — busy ${s.busyMs} ms, idle ${s.idleMs} ms\n\n| area | share of busy time |\n| --- | ---: |\n`);
    for (const [a, pct] of s.byArea.slice(0, 10)) process.stdout.write(`| ${a} | ${pct} % |\n`);
    process.stdout.write(`\n| function (self time) | share |\n| --- | ---: |\n`);
    for (const [fn, pct] of s.top) process.stdout.write(`| \`${fn}\` | ${pct} % |\n`);
    process.stdout.write('\n');
  }
} finally {
  delete process.env['NODE_OPTIONS'];
  await pool.close();
  await closeLoadThread();
  await relay.stop();
  rmSync(dir, { recursive: true, force: true });
}
