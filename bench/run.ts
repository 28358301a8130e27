/**
 * `npm run bench`: every benchmark of issues 9 and 14 in one run (about 5–7 minutes on 2 cores),
 * each phase time-boxed. Prints a summary and writes bench/results/latest.json and latest.md
 * (partial.json and partial.md when BENCH_PHASES picks a subset).
 *
 * Phases (ids for BENCH_PHASES): crypto floor (`floor`, 1 and 2 threads) → end to end through the
 * bench relay to the built daemon: closed loop on one core (`one-core`), closed loop (`closed`),
 * unloaded latency (`unloaded`), 100 req/s open loop (`open`) → the same 100 req/s with a junk
 * flood (`spam`) → cheap junk alone (`cheap`) → steady load with an RSS curve (`steady`) → protocol
 * v2 (kind 14) open loop (`v2-open`) and kind-14 floods (`v2-flood`) → the relay's own ceiling
 * (`relay`) → scale (`scale`: 10 000 and 100 000 orders: queries, republish, expiry job, daemon
 * ready time and RSS).
 *
 * Environment:
 *   BENCH_PHASES          comma list of phase ids (default: all). `spam` brings `open` with it
 *                         (its baseline), `v2-flood` brings `v2-open`.
 *   BENCH_STEADY_SECONDS  duration of the steady load (default 600: the issue's 10-minute RSS
 *                         curve, in the same run as every other figure; 60 for a quicker run, whose
 *                         report says it is shorter). The `steady` time box grows with it.
 *   BENCH_CRYPTO_THREADS  `[nostr] crypto_threads` of the daemon serving the v1 phases after one-core
 *                         (default: the daemon's default; diagnosis).
 *   BENCH_TRADERS         traders of the closed loops (diagnosis; default 50)
 *   BENCH_FLOOD_SENDERS   threads (connections) that send a flood: 1 (default) or 2 (bench/flood.ts).
 *   BENCH_LOAD_THREAD     `worker` (default): the open loops' requests are sent and their replies timed
 *                         on a worker thread of their own (bench/load-worker.ts); `main`: on the
 *                         bench's main thread, as before session 10 (comparison).
 *   BENCH_E2E_WARMUP_SECONDS the unmeasured closed loop before each v1 closed loop (default 3;
 *                         diagnosis: 25 s gave the same one-core figure, session 27).
 *   BENCH_V2_WARMUP_SECONDS the unmeasured v2 closed loop before the v2 phases (default 10; 0: the
 *                         v2 daemon meets its open loop and floods fresh, as before session 26).
 *   BENCH_SPAM_PREFLOOD   junk events sent (at the flood's rate) 2 s before the measured v1 flood, so
 *                         the daemon and the relay have met junk before (diagnosis: the flood's onset
 *                         out of the window; default 0).
 *   BENCH_RELAY_MAX_STORED the bench relay's `--max-stored` (diagnosis; default 0: nothing kept).
 *   BENCH_RELAY_FANOUT    `batched` (default): the bench relay writes each subscriber the events of
 *                         one inbound read at once, as relays built on uWebSockets (strfry) do;
 *                         `per-event`: one socket write per event (what earlier runs measured).
 *   BENCH_DAEMON_METRICS  1: the v1 daemon runs its [http] listener, and the report's notes give its
 *                         crypto tasks by where they ran over the closed loop and the flood
 *                         (`mostrod_crypto_tasks_total`; diagnosis, default off: the histograms and
 *                         process collectors it turns on cost CPU on the measured path).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { cryptoFloorPhase, type FloorResult } from './crypto-phase.js';
import { runStagedFlood, stageJunk } from './flood.js';
import { JUNK_TYPES } from './gen.js';
import { boxCpuSeconds, cpuSeconds, cryptoTasks, cryptoTasksBetween, rssMb, settle, startBenchRelay, startHarness, withTimeout, type Harness } from './harness.js';
import { closedLoop, closeLoadThread, openLoop, prepareTraders, type LoadResult, type Trader } from './load.js';
import { relayCeiling, type RelayCeiling } from './relay-ceiling.js';
import { PHASES, type PhaseId } from './phases.js';
import { renderMarkdown } from './report.js';
import { scalePhase, type ScaleResult } from './scale-phase.js';
import { round } from './stats.js';
import { v2Phases, type V2Result } from './v2-phase.js';
import { SHIPPED_MALLOC_ENV } from '../src/malloc-env.js';
import { SHIPPED_NODE_FLAGS } from '../src/v8-memory.js';
import { WorkerPool } from './workers.js';


const POW = 6;
/** BENCH_TRADERS: traders of the closed loops (diagnosis; the issue's figures use 50). */
const E2E_TRADERS = Number(process.env['BENCH_TRADERS'] ?? 50);
const E2E_SECONDS = 12;
/**
 * Each closed loop runs this long first, unmeasured, on the same daemon: V8 compiles the hot paths
 * of every isolate (the event loop and each crypto thread) during the first seconds, on its helper
 * threads (session 13: 0 vs 3 s before a 12 s loop, default threads, three pairs: 661 / 585 / 747
 * vs 834 / 831 / 711 answered/s). BENCH_E2E_WARMUP_SECONDS changes it (diagnosis; 25 s gave the same
 * one-core figure as 3 s in session 27).
 */
const E2E_WARMUP_SECONDS = envInteger('BENCH_E2E_WARMUP_SECONDS', 3, 0);
/**
 * The protocol-v2 daemon starts fresh for the v2 phases; before session 26 it met its floods after
 * only the 10 s v2 open loop at 100/s, while the v1 daemon met its own after 18 s of closed loops.
 * V8 was still optimizing the request path on its helper threads throughout the v2 floods (Node 20:
 * 575 TurboFan jobs, 11.5 CPU-s, in the v2 daemon's 40 s), and the v2 floods' tails were that
 * compile work taking the event loop's core. An unmeasured v2 closed loop first, as for v1
 * (BENCH_V2_WARMUP_SECONDS, 0 = the fresh daemon as before; docs/PERFORMANCE.md, session 26).
 */
const V2_WARMUP_SECONDS = envInteger('BENCH_V2_WARMUP_SECONDS', 10, 0);
const OPEN_RATE = 100;
const OPEN_SECONDS = 10;
const JUNK_RATE = 5000;
/** Junk that fails a cheap gate (malformed, no PoW), sent alone to price the cheap gates. */
const CHEAP_JUNK = 20_000;
const CHEAP_ROUNDS = 3;
const RSS_SAMPLE_SECONDS = 5;
/** A flood and its valid load start together this long after they are set off (both connect first). */
const FLOOD_START_DELAY_MS = 1000;
/** Longest steady-load slice whose requests are built at once (they stay fresh ~280 s). */
const STEADY_SLICE_SECONDS = 120;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** BENCH_CRYPTO_THREADS: `[nostr] crypto_threads` of the daemon that serves the v1 phases after `one-core` (default: the daemon's own default). */
const DEFAULT_CRYPTO_THREADS = ((): number | undefined => {
  const raw = process.env['BENCH_CRYPTO_THREADS'];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`BENCH_CRYPTO_THREADS must be an integer ≥ 0, got ${JSON.stringify(raw)}`);
  return n;
})();

/**
 * Requests per second the closed loops are pre-built for when the floor phase did not run (a
 * partial run): well above what this daemon answers on a 2-vCPU box, so that no trader runs out
 * of requests. Until session 16 a partial run fell back to 500/s (one core) and 800/s (threads):
 * the loops ran out at about those rates and every partial closed-loop figure was capped there.
 */
const PARTIAL_ONE_CORE_RATE = 1_500;
const PARTIAL_TWO_CORE_RATE = 2_000;

/** An integer setting of the bench from the environment, `fallback` when unset. */
function envInteger(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** BENCH_SPAM_PREFLOOD: junk events sent before the measured v1 flood (diagnosis; default 0). */
const SPAM_PREFLOOD = envInteger('BENCH_SPAM_PREFLOOD', 0, 0);

/** BENCH_STEADY_SECONDS: the steady load, 10 minutes unless told (the issue's RSS curve). */
function steadySeconds(): number {
  return envInteger('BENCH_STEADY_SECONDS', 600, 5);
}

/** `inline 12, helped 3, threads 900` (crypto task counts by where they ran). */
function fmtTasks(t: Record<string, number>): string {
  return Object.entries(t)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** BENCH_PHASES: the phases to run (default all), with the phases they need added. */
function selectedPhases(notes: string[]): Set<PhaseId> {
  const raw = process.env['BENCH_PHASES'];
  if (raw === undefined || raw.trim() === '' || raw.trim() === 'all') return new Set(PHASES);
  const picked = new Set<PhaseId>();
  for (const x of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    if (!(PHASES as readonly string[]).includes(x)) throw new Error(`BENCH_PHASES: unknown phase ${JSON.stringify(x)} (known: ${PHASES.join(', ')})`);
    picked.add(x as PhaseId);
  }
  const needs: Array<[PhaseId, PhaseId]> = [
    ['spam', 'open'],
    ['v2-flood', 'v2-open'],
  ];
  for (const [p, dep] of needs) {
    if (picked.has(p) && !picked.has(dep)) {
      picked.add(dep);
      notes.push(`phase ${p} needs ${dep} (its baseline): added`);
    }
  }
  return picked;
}

const STEADY_SECONDS = steadySeconds();

export interface BenchResults {
  startedAt: string;
  durationSeconds: number;
  machine: { cpus: number; model: string; node: string; loadavgStart: number[]; loadavgEnd: number[]; commit: string };
  config: { pow: number; e2eTraders: number; e2eSeconds: number; e2eWarmupSeconds?: number; openRate: number; openSeconds: number; junkRate: number; steadySeconds: number };
  /** The phases run (BENCH_PHASES; all by default). Sections of phases not run are absent. */
  phases: PhaseId[];
  floor?: FloorResult;
  e2e?: {
    readyMs: number;
    prepareSeconds?: number;
    /** Closed loop with `[nostr] crypto_threads = 0`: everything on the event-loop thread. */
    oneCore?: LoadResult;
    /** answered/s per daemon core ÷ the one-thread floor, for the one-core and the default run. */
    perCoreRatioOneCore?: number;
    perCoreRatio?: number;
    /** Default daemon (crypto worker threads) ÷ one-core daemon, answered/s. */
    scaling?: number;
    closedLoop?: LoadResult;
    unloaded?: LoadResult;
    ratioToFloor?: number;
    open100?: LoadResult;
    daemonRssAfterLoadMb: number;
  };
  spam?: {
    junkGenerated: number;
    junkSent: number;
    junkSendRate: number;
    junkDeliveredToDaemon: number;
    valid: LoadResult;
    daemonCpuSecondsPerThousandJunk: number;
    junkShedCapacityPerCore: number;
    p99Ratio: number;
  };
  /** Malformed and no-PoW junk alone: daemon CPU per event. */
  /** The median round's figures; `rounds`: CPU-ms per event of each round, in order. */
  cheapJunk?: { sent: number; rate: number; cpuMsPerEvent: number; rounds?: number[] };
  steady?: {
    seconds: number;
    rate: number;
    load: LoadResult;
    rssCurveMb: Array<[number, number]>;
    /**
     * [t s, daemon, bench relay, bench process, whole machine busy, stolen by the hypervisor] in
     * cores over each sample interval.
     */
    cpuCurve?: Array<[number, number, number, number, number, number]>;
  };
  /** Protocol v2 (kind 14): open loop and floods against a daemon with `transport = "both"`. */
  v2?: V2Result;
  relay: RelayCeiling[];
  scale: ScaleResult[];
  notes: string[];
}

function phase(name: string): () => void {
  const t0 = performance.now();
  process.stderr.write(`[bench] ${name}…\n`);
  return () => process.stderr.write(`[bench] ${name} done in ${round((performance.now() - t0) / 1000)} s\n`);
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const t0 = performance.now();
const startedAt = new Date().toISOString();
const loadavgStart = os.loadavg().map((x) => round(x, 2));
const notes: string[] = [];
const want = selectedPhases(notes);
const pool = new WorkerPool(2);
/** Run on failure so no relay/daemon process outlives the bench. */
const cleanups: Array<() => Promise<unknown>> = [() => pool.close()];
/**
 * The daemons run with the glibc malloc settings operators get from contrib/mostrod.service and
 * the Dockerfile (src/malloc-env.ts; glibc reads them at process start, so the daemon cannot set
 * them itself), handed to the daemons only (MOSTROD_DAEMON_ENV, test/support/sandbox.ts): the relay
 * and the bench keep glibc's defaults. A value given to the bench is kept, e.g.
 * `MALLOC_MMAP_THRESHOLD_=16384 npm run bench`, and one given in MOSTROD_DAEMON_ENV reaches the
 * daemons only (until session 26 the shipped value was appended after it, and won).
 */
const daemonEnvGiven = process.env['MOSTROD_DAEMON_ENV'] ?? '';
const daemonEnvValues = new Map(
  daemonEnvGiven
    .split(/\s+/)
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
);
const daemonMalloc = Object.entries(SHIPPED_MALLOC_ENV).map(([name, shipped]) => [name, daemonEnvValues.get(name) ?? process.env[name] ?? shipped] as const);
process.env['MOSTROD_DAEMON_ENV'] = [daemonEnvGiven, ...daemonMalloc.filter(([n]) => !daemonEnvValues.has(n)).map(([n, v]) => `${n}=${v}`)].join(' ').trim();
/**
 * And with the node flags of the unit and the Dockerfile (src/v8-memory.ts), on the daemon's
 * command line (MOSTROD_DAEMON_NODE_ARGS, test/support/sandbox.ts; V8 flags are refused in
 * NODE_OPTIONS). A run started with MOSTROD_DAEMON_NODE_ARGS set keeps its own.
 */
const daemonNodeArgs = process.env['MOSTROD_DAEMON_NODE_ARGS'] ?? SHIPPED_NODE_FLAGS.join(' ');
process.env['MOSTROD_DAEMON_NODE_ARGS'] = daemonNodeArgs;

async function main(): Promise<void> {
  process.stderr.write(`[bench] phases: ${PHASES.filter((p) => want.has(p)).join(', ')}\n`);
  let done: () => void;
  let floor: FloorResult | undefined;
  if (want.has('floor')) {
    done = phase('crypto floor');
    floor = await withTimeout('crypto floor', 300_000, cryptoFloorPhase(pool, POW, 1.5));
    done();
  }

  const fanout = process.env['BENCH_RELAY_FANOUT'] ?? 'batched';
  if (fanout !== 'batched' && fanout !== 'per-event') throw new Error(`BENCH_RELAY_FANOUT must be batched or per-event, got ${JSON.stringify(fanout)}`);
  const asShipped = daemonMalloc.every(([n, v]) => SHIPPED_MALLOC_ENV[n] === v);
  notes.push(
    `daemon environment: ${daemonMalloc.map(([n, v]) => `${n}=${v}`).join(' ')}` +
      (asShipped
        ? `, as contrib/mostrod.service and the Dockerfile set them; the relay and the bench run with glibc's defaults (a run started with other values keeps its own, e.g. \`MALLOC_ARENA_MAX=${8 * os.availableParallelism()} npm run bench\` for glibc's default arenas on this box: 8 per core)`
        : ` (contrib/mostrod.service and the Dockerfile set ${Object.entries(SHIPPED_MALLOC_ENV).map(([n, v]) => `${n}=${v}`).join(' ')})`),
  );
  notes.push(
    `daemon node flags: ${daemonNodeArgs === '' ? '(none)' : daemonNodeArgs}${daemonNodeArgs === SHIPPED_NODE_FLAGS.join(' ') ? ', as contrib/mostrod.service and the Dockerfile start it' : ` (contrib/mostrod.service and the Dockerfile start it with ${SHIPPED_NODE_FLAGS.join(' ')})`}`,
  );
  const reducerOff = process.execArgv.includes('--no-memory-reducer');
  notes.push(
    `bench equipment: a full collection in the bench's threads and the relay before each open loop (bench/equipment-gc.ts); V8's memory reducer off in the relay and ${reducerOff ? 'in the bench (`node --no-memory-reducer`, as `npm run bench` starts it)' : 'NOT in the bench (start it with `node --no-memory-reducer`, as `npm run bench` does)'}; the daemon is left as it is`,
  );
  notes.push(`bench relay fan-out: ${fanout === 'batched' ? 'batched (each subscriber gets the events of one inbound read in one write, as uWebSockets relays do)' : 'one write per event'} (BENCH_RELAY_FANOUT)`);
  const relay = await startBenchRelay(false, { batchFanout: fanout === 'batched' });
  cleanups.push(() => relay.stop());
  const now = (): number => Math.floor(Date.now() / 1000);
  // Rumors are dated 270 s ahead so none goes stale (10 s) however long generation takes on a busy
  // machine; the daemon accepts rumors up to 300 s ahead (HQ-2 bound), and every phase ends well within that.
  const ahead = (): number => now() + 270;

  let oneCore: LoadResult | undefined;
  if (want.has('one-core')) {
    done = phase(`end to end, one core (crypto_threads = 0): closed loop, ${E2E_TRADERS} traders, ${E2E_WARMUP_SECONDS} s warm-up + ${E2E_SECONDS} s`);
    const h1 = await startHarness({ pow: POW, relay, cryptoThreads: 0 });
    cleanups.push(() => h1.close());
    const perTrader1 = Math.ceil(((floor !== undefined ? Math.max(500, floor.oneCore * 1.2) : PARTIAL_ONE_CORE_RATE) * (E2E_SECONDS + E2E_WARMUP_SECONDS)) / E2E_TRADERS);
    const prep1 = await withTimeout('traffic generation', 400_000, prepareTraders(pool, h1, { traders: E2E_TRADERS, perTrader: perTrader1, pow: POW, rumorCreatedAt: ahead() }));
    await withTimeout('closed loop warm-up (one core)', 60_000, closedLoop(h1, prep1.traders, E2E_WARMUP_SECONDS));
    oneCore = await withTimeout('closed loop (one core)', 60_000, closedLoop(h1, prep1.traders, E2E_SECONDS));
    if (oneCore.ranOut === true) notes.push('one-core closed loop: some traders ran out of pre-built requests (throughput figure is a lower bound)');
    await h1.close();
    done();
  }

  // The default daemon (v1 only, crypto worker threads) serves every v1 phase after the one-core run.
  const v1Phases: PhaseId[] = ['closed', 'unloaded', 'open', 'spam', 'cheap', 'steady'];
  let e2e: BenchResults['e2e'];
  let spam: BenchResults['spam'];
  let cheapJunk: BenchResults['cheapJunk'];
  let steady: BenchResults['steady'];
  let usedTraders: Trader[] = [];
  if (v1Phases.some((p) => want.has(p))) {
    done = phase('end to end: daemon start (default crypto threads)');
    const h: Harness = await startHarness({ pow: POW, relay, http: process.env['BENCH_DAEMON_METRICS'] === '1', ...(DEFAULT_CRYPTO_THREADS !== undefined ? { cryptoThreads: DEFAULT_CRYPTO_THREADS } : {}) });
    cleanups.push(() => h.close());
    done();
    let closed: LoadResult | undefined;
    let prepareSeconds: number | undefined;
    if (want.has('closed')) {
      done = phase('end to end: traffic generation');
      const perTrader = Math.ceil(((floor !== undefined ? Math.max(800, floor.twoCores * 1.2) : PARTIAL_TWO_CORE_RATE) * (E2E_SECONDS + E2E_WARMUP_SECONDS)) / E2E_TRADERS);
      const prep = await withTimeout('traffic generation', 400_000, prepareTraders(pool, h, { traders: E2E_TRADERS, perTrader, pow: POW, rumorCreatedAt: ahead() }));
      prepareSeconds = round(prep.seconds);
      done();
      done = phase(`end to end: closed loop, ${E2E_TRADERS} traders, ${E2E_WARMUP_SECONDS} s warm-up + ${E2E_SECONDS} s`);
      await withTimeout('closed loop warm-up', 60_000, closedLoop(h, prep.traders, E2E_WARMUP_SECONDS));
      const tasksBefore = await cryptoTasks(h);
      closed = await withTimeout('closed loop', 60_000, closedLoop(h, prep.traders, E2E_SECONDS));
      const closedCrypto = cryptoTasksBetween(tasksBefore, await cryptoTasks(h));
      if (closedCrypto !== null) notes.push(`closed loop (default threads): the daemon's crypto tasks by where they ran (mostrod_crypto_tasks_total): ${fmtTasks(closedCrypto)}`);
      done();
      if (closed.ranOut === true) notes.push('closed loop: some traders ran out of pre-built requests (throughput figure is a lower bound)');
      usedTraders = prep.traders;
    }

    let unloaded: LoadResult | undefined;
    if (want.has('unloaded')) {
      done = phase('end to end: unloaded latency (1 trader)');
      const one = await prepareTraders(pool, h, { traders: 1, perTrader: 200, pow: POW, rumorCreatedAt: ahead() });
      unloaded = await withTimeout('unloaded', 30_000, closedLoop(h, one.traders, 3));
      done();
    }

    let open100: LoadResult | undefined;
    if (want.has('open')) {
      done = phase(`end to end: open loop ${OPEN_RATE}/s`);
      const openTraders = await prepareTraders(pool, h, { traders: OPEN_RATE * 2, perTrader: Math.ceil(OPEN_SECONDS / 2) + 1, pow: POW, rumorCreatedAt: ahead() });
      open100 = await withTimeout('open loop', 60_000, openLoop(h, openTraders.traders, OPEN_RATE, OPEN_SECONDS, { trace: true }));
      done();
    }

    if (want.has('spam') && open100 !== undefined) {
      done = phase(`spam: ${JUNK_RATE}/s junk beside ${OPEN_RATE}/s valid`);
      const junkCount = JUNK_RATE * OPEN_SECONDS;
      const junk = await withTimeout(
        'junk generation',
        400_000,
        stageJunk(pool, { types: JUNK_TYPES, perType: Math.ceil(junkCount / JUNK_TYPES.length), nodePubkey: h.nodePubkey, pow: POW, createdAt: now() }),
      );
      const spamTraders = await prepareTraders(pool, h, { traders: OPEN_RATE * 2, perTrader: Math.ceil(OPEN_SECONDS / 2) + 1, pow: POW, rumorCreatedAt: ahead() });
      if (SPAM_PREFLOOD > 0) {
        // diagnosis: the daemon and the relay meet junk before the measured flood (its onset out of the window)
        const preJunk = await stageJunk(pool, { types: JUNK_TYPES, perType: Math.ceil(SPAM_PREFLOOD / JUNK_TYPES.length), nodePubkey: h.nodePubkey, pow: POW, createdAt: now() });
        await runStagedFlood(pool, preJunk, relay.url, JUNK_RATE, Date.now() + 200);
        await new Promise((r) => setTimeout(r, 2000));
        notes.push(`spam: ${SPAM_PREFLOOD} junk events sent at ${JUNK_RATE}/s 2 s before the measured flood (BENCH_SPAM_PREFLOOD; diagnosis)`);
      }
      const relayBefore = await relay.stats();
      const spamTasksBefore = await cryptoTasks(h);
      const cpuBefore = cpuSeconds(h.pid);
      const startAt = Date.now() + FLOOD_START_DELAY_MS;
      const flood = runStagedFlood(pool, junk, relay.url, JUNK_RATE, startAt);
      const spamValid = await withTimeout('spam', 90_000, openLoop(h, spamTraders.traders, OPEN_RATE, OPEN_SECONDS, { during: flood, startAt, trace: true }));
      const floodResult = await flood;
      await new Promise((r) => setTimeout(r, 1000));
      const cpuSpam = cpuSeconds(h.pid) - cpuBefore;
      const relayAfter = await relay.stats();
      const spamCrypto = cryptoTasksBetween(spamTasksBefore, await cryptoTasks(h));
      if (spamCrypto !== null) notes.push(`spam: the daemon's crypto tasks over the flood by where they ran (mostrod_crypto_tasks_total): ${fmtTasks(spamCrypto)}`);
      done();
      // Daemon CPU for the junk = CPU of the flooded window minus what the same valid load cost without the flood.
      // (the daemon idles through FLOOD_START_DELAY_MS, so that second is left out of the estimate: the junk CPU errs high)
      const validCpu = open100.daemonCpuCores * (spamValid.seconds + 1);
      const junkCpu = Math.max(0, cpuSpam - validCpu);
      spam = {
        junkGenerated: junk.total,
        junkSent: floodResult.sent,
        junkSendRate: round(floodResult.rate, 0),
        // relay deliveries in the window = junk + valid requests (to the daemon) + replies (to the traders)
        junkDeliveredToDaemon: relayAfter.delivered - relayBefore.delivered - spamValid.sent - spamValid.answered,
        valid: spamValid,
        daemonCpuSecondsPerThousandJunk: round((junkCpu / Math.max(1, floodResult.sent)) * 1000, 3),
        junkShedCapacityPerCore: junkCpu > 0 ? round(floodResult.sent / junkCpu, 0) : Number.NaN,
        p99Ratio: round(spamValid.latencyMs.p99 / open100.latencyMs.p99, 2),
      };
    }

    if (want.has('cheap')) {
      done = phase(`cheap junk alone: ${CHEAP_ROUNDS} rounds of ${CHEAP_JUNK} malformed / no-PoW events at ${JUNK_RATE}/s`);
      // Each round is ~4 s of sending, its CPU read from /proc around it: one slow second of the VM
      // or a backlog of the flood before it weighs heavily in one round (session 13 saw 0.008–0.018
      // CPU-ms from the same code), so the daemon settles first and the median of three is reported.
      const rounds: Array<{ sent: number; rate: number; cpuMsPerEvent: number }> = [];
      for (let i = 0; i < CHEAP_ROUNDS; i++) {
        await settle(h.pid, 10_000);
        const cheap = await stageJunk(pool, { types: ['malformed', 'bad-pow'], perType: CHEAP_JUNK / 2, nodePubkey: h.nodePubkey, pow: POW, createdAt: now() });
        const idleCpu0 = cpuSeconds(h.pid);
        await new Promise((r) => setTimeout(r, 2000));
        const idleCpuPerSecond = (cpuSeconds(h.pid) - idleCpu0) / 2;
        const cheapCpu0 = cpuSeconds(h.pid);
        const cheapT0 = performance.now();
        const cheapFlood = await runStagedFlood(pool, cheap, relay.url, JUNK_RATE, Date.now());
        await new Promise((r) => setTimeout(r, 1000));
        const cheapSeconds = (performance.now() - cheapT0) / 1000;
        const cheapCpu = Math.max(0, cpuSeconds(h.pid) - cheapCpu0 - idleCpuPerSecond * cheapSeconds);
        rounds.push({ sent: cheapFlood.sent, rate: cheapFlood.rate, cpuMsPerEvent: (cheapCpu * 1000) / Math.max(1, cheapFlood.sent) });
      }
      const median = [...rounds].sort((a, b) => a.cpuMsPerEvent - b.cpuMsPerEvent)[Math.floor(rounds.length / 2)]!;
      cheapJunk = {
        sent: median.sent,
        rate: round(median.rate, 0),
        cpuMsPerEvent: round(median.cpuMsPerEvent, 4),
        rounds: rounds.map((r) => round(r.cpuMsPerEvent, 4)),
      };
      done();
    }

    if (want.has('steady')) {
      done = phase(`steady load: ${OPEN_RATE}/s for ${STEADY_SECONDS} s, RSS every ${RSS_SAMPLE_SECONDS} s`);
      const steadyTraders = await prepareTraders(pool, h, { traders: OPEN_RATE * 2, perTrader: Math.ceil(Math.min(STEADY_SLICE_SECONDS, STEADY_SECONDS) / 2) + 1, pow: POW, rumorCreatedAt: ahead() });
      const rssCurveMb: Array<[number, number]> = [[0, rssMb(h.pid)]];
      // CPU (cores) of the daemon, the bench relay and this process (load generator, request
      // builder threads) over each sample interval: what shared the two vCPUs when a tail came.
      const cpuCurve: Array<[number, number, number, number, number, number]> = [];
      const relayPid = relay.child.pid ?? 0;
      const cpuNow = (): [number, number, number, number, number, number] => {
        const u = process.cpuUsage();
        const box = boxCpuSeconds();
        return [performance.now(), cpuSeconds(h.pid), relayPid > 0 ? cpuSeconds(relayPid) : 0, (u.user + u.system) / 1e6, box.busy, box.steal];
      };
      let lastCpu = cpuNow();
      const steadyT0 = performance.now();
      const sampler = setInterval(() => {
        const t = round((performance.now() - steadyT0) / 1000, 0);
        rssCurveMb.push([t, rssMb(h.pid)]);
        const c = cpuNow();
        const dt = (c[0] - lastCpu[0]) / 1000;
        const rate = (i: number): number => round((c[i]! - lastCpu[i]!) / dt, 2);
        cpuCurve.push([t, rate(1), rate(2), rate(3), rate(4), rate(5)]);
        lastCpu = c;
      }, RSS_SAMPLE_SECONDS * 1000);
      const load = await withTimeout('steady', (Math.ceil(STEADY_SECONDS * 1.5) + 60) * 1000, steadyLoad(h, steadyTraders.traders, STEADY_SECONDS, steadyT0));
      clearInterval(sampler);
      rssCurveMb.push([round((performance.now() - steadyT0) / 1000, 0), rssMb(h.pid)]);
      steady = { seconds: STEADY_SECONDS, rate: OPEN_RATE, load, rssCurveMb, cpuCurve };
      done();
    }

    const base = {
      readyMs: round(h.readyMs, 0),
      daemonRssAfterLoadMb: rssMb(h.pid),
    };
    e2e = {
      ...base,
      ...(prepareSeconds !== undefined ? { prepareSeconds } : {}),
      ...(oneCore !== undefined ? { oneCore } : {}),
      ...(oneCore !== undefined && floor !== undefined ? { perCoreRatioOneCore: round(oneCore.answeredPerSecond / Math.max(0.01, oneCore.daemonCpuCores) / floor.oneCore, 3) } : {}),
      ...(closed !== undefined ? { closedLoop: closed } : {}),
      ...(closed !== undefined && floor !== undefined
        ? {
            perCoreRatio: round(closed.answeredPerSecond / Math.max(0.01, closed.daemonCpuCores) / floor.oneCore, 3),
            ratioToFloor: round(closed.answeredPerSecond / floor.oneCore, 3),
          }
        : {}),
      ...(closed !== undefined && oneCore !== undefined ? { scaling: round(closed.answeredPerSecond / Math.max(1, oneCore.answeredPerSecond), 2) } : {}),
      ...(unloaded !== undefined ? { unloaded } : {}),
      ...(open100 !== undefined ? { open100 } : {}),
    };
    await h.close();
  } else if (oneCore !== undefined) {
    e2e = { readyMs: Number.NaN, daemonRssAfterLoadMb: Number.NaN, oneCore };
  }

  /**
   * The steady open loop in slices of STEADY_SLICE_SECONDS: requests are dated ~270 s ahead when
   * built and go stale 10 s past that, so a long run (BENCH_STEADY_SECONDS=600) builds each slice's
   * requests just before it (a pause of a few seconds in the load; the RSS sampling goes on). The
   * default 60 s is one slice, built before the RSS curve starts.
   */
  async function steadyLoad(h: Harness, first: Trader[], seconds: number, origin: number): Promise<LoadResult> {
    const parts: LoadResult[] = [];
    for (let left = seconds, tr = first; left > 0; ) {
      const s = Math.min(STEADY_SLICE_SECONDS, left);
      parts.push(await openLoop(h, tr, OPEN_RATE, s, { timelineOrigin: origin }));
      left -= s;
      if (left > 0) tr = (await prepareTraders(pool, h, { traders: OPEN_RATE * 2, perTrader: Math.ceil(Math.min(STEADY_SLICE_SECONDS, left) / 2) + 1, pow: POW, rumorCreatedAt: ahead() })).traders;
    }
    return parts.length === 1 ? parts[0]! : mergeLoads(parts);
  }

  let v2: V2Result | undefined;
  if (want.has('v2-open') || want.has('v2-flood')) {
    v2 = await v2Phases(pool, relay, { pow: POW, rate: OPEN_RATE, seconds: OPEN_SECONDS, junkRate: JUNK_RATE, flood: want.has('v2-flood'), warmUpSeconds: V2_WARMUP_SECONDS, ahead, phase }, cleanups);
  }

  const relayResults: RelayCeiling[] = [];
  if (want.has('relay')) {
    done = phase('relay ceiling');
    let framesForRelay = usedTraders.flatMap((t) => t.requests.slice(0, t.next).map((r) => r.frame)).slice(0, 10_000);
    if (framesForRelay.length < 10_000) {
      const nodePubkey = 'a'.repeat(64);
      const more = await prepareTraders(pool, { nodePubkey }, { traders: E2E_TRADERS, perTrader: Math.ceil((10_000 - framesForRelay.length) / E2E_TRADERS), pow: POW, rumorCreatedAt: ahead() });
      framesForRelay = [...framesForRelay, ...more.traders.flatMap((t) => t.requests.map((r) => r.frame))].slice(0, 10_000);
    }
    for (const verify of [false, true]) relayResults.push(await withTimeout('relay ceiling', 180_000, relayCeiling(framesForRelay, verify)));
    done();
  }

  const scale: ScaleResult[] = [];
  if (want.has('scale')) {
    for (const n of [10_000, 100_000]) {
      done = phase(`scale: ${n} orders`);
      scale.push(await withTimeout(`scale ${n}`, 420_000, scalePhase(n, relay, 380_000)));
      done();
    }
  }
  await relay.stop();
  await pool.close();
  await closeLoadThread();

  const results: BenchResults = {
    startedAt,
    durationSeconds: round((performance.now() - t0) / 1000),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '?', node: process.version, loadavgStart, loadavgEnd: os.loadavg().map((x) => round(x, 2)), commit: gitCommit() },
    config: { pow: POW, e2eTraders: E2E_TRADERS, e2eSeconds: E2E_SECONDS, e2eWarmupSeconds: E2E_WARMUP_SECONDS, openRate: OPEN_RATE, openSeconds: OPEN_SECONDS, junkRate: JUNK_RATE, steadySeconds: STEADY_SECONDS },
    phases: PHASES.filter((p) => want.has(p)),
    ...(floor !== undefined ? { floor } : {}),
    ...(e2e !== undefined ? { e2e } : {}),
    ...(spam !== undefined ? { spam } : {}),
    ...(cheapJunk !== undefined ? { cheapJunk } : {}),
    ...(steady !== undefined ? { steady } : {}),
    ...(v2 !== undefined ? { v2 } : {}),
    relay: relayResults,
    scale,
    notes,
  };

  // A subset of phases does not replace the full run's figures: it goes to partial.{json,md}.
  const base = results.phases.length === PHASES.length ? 'latest' : 'partial';
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  const md = renderMarkdown(results);
  writeFileSync(`${RESULTS_DIR}${base}.md`, md);
  process.stdout.write(md);
  process.stderr.write(`[bench] results written to bench/results/${base}.json and ${base}.md (${results.durationSeconds} s)\n`);
}

/** Several open-loop slices as one result (latency quantiles: the worst slice's, max: the max). */
function mergeLoads(parts: LoadResult[]): LoadResult {
  const sum = (f: (l: LoadResult) => number): number => parts.reduce((a, l) => a + f(l), 0);
  const seconds = sum((l) => l.seconds);
  const worst = (f: (l: LoadResult) => number): number => Math.max(...parts.map(f));
  const sample: Record<string, number> = {};
  for (const l of parts) for (const [k, v] of Object.entries(l.sampleReplies)) sample[k] = (sample[k] ?? 0) + v;
  return {
    seconds: round(seconds, 2),
    sent: sum((l) => l.sent),
    answered: sum((l) => l.answered),
    answeredPerSecond: round(sum((l) => l.answered) / seconds),
    unanswered: sum((l) => l.unanswered),
    latencyMs: {
      n: sum((l) => l.latencyMs.n),
      p50: worst((l) => l.latencyMs.p50),
      p95: worst((l) => l.latencyMs.p95),
      p99: worst((l) => l.latencyMs.p99),
      max: worst((l) => l.latencyMs.max),
    },
    daemonCpuCores: round(sum((l) => l.daemonCpuCores * l.seconds) / seconds, 2),
    machine: {
      busyCores: round(sum((l) => (l.machine?.busyCores ?? 0) * l.seconds) / seconds, 2),
      stolenCores: round(sum((l) => (l.machine?.stolenCores ?? 0) * l.seconds) / seconds, 2),
    },
    sampleReplies: sample,
    // the slices' timelines share one origin (the steady phase's start): concatenated
    timeline: parts.flatMap((l) => l.timeline ?? []),
  };
}

try {
  await main();
} catch (err) {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await Promise.allSettled(cleanups.map((c) => c()));
  process.exit(1);
}
