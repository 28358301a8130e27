/**
 * Protocol v2 (kind 14) end to end: a daemon started with `[mostro] transport = "both"` and its
 * `[http]` listener (for the intake verdict counters), then
 *
 *  - v2-open: the 100 valid requests/s open loop of the v1 "unloaded" figure, every request a
 *    kind 14 from a fresh trade key (first contact: PoW, signature, one ECDH, one NIP-44);
 *  - v2-flood: the same valid load beside 5,000 kind-14 junk events/s, twice:
 *      one-key — every junk event from ONE key, signed, with PoW and content the node can open
 *        (the same well-formed new-order, trade index 1, fresh nonce; see gen.ts
 *        generateOneKeyFlood). The first is accepted, which makes the key a known trade key;
 *      mixed — from fresh keys: malformed / signed without PoW / PoW with a bad signature, in
 *        equal parts (what fails before any ECDH).
 *    Each reports valid latency vs the v2 open loop, valid requests lost, daemon CPU per 1,000
 *    junk events and the daemon's own verdict counters over the window (/metrics).
 */
import { performance } from 'node:perf_hooks';
import { bytesToHex, generateSecretKey } from '../src/crypto/secp.js';
import { runStagedFlood, stageJunk, stageOneKey, type StagedFlood } from './flood.js';
import { V2_JUNK_TYPES } from './gen.js';
import { cpuSeconds, diffCounters, intakeVerdicts, laneWaitBuckets, laneWaitP99, rssMb, settle, startHarness, withTimeout, type BenchRelay, type Harness } from './harness.js';
import { closedLoop, openLoop, prepareTraders, type LoadResult } from './load.js';
import { round } from './stats.js';
import type { WorkerPool } from './workers.js';

export type V2FloodName = 'one-key' | 'mixed';

/** Traders of the v2 warm-up loop, and a rate above what the daemon answers (requests to build). */
const WARM_UP_TRADERS = 50;
const WARM_UP_RATE_BOUND = 1_000;

export interface V2Flood {
  name: V2FloodName;
  junkGenerated: number;
  junkSent: number;
  junkSendRate: number;
  /** relay deliveries in the window minus the valid requests and their replies */
  junkDeliveredToDaemon: number;
  valid: LoadResult;
  /** valid p99 ÷ the v2 open loop's p99 (target ≤ 2) */
  p99Ratio: number;
  daemonCpuSecondsPerThousandJunk: number;
  junkShedCapacityPerCore: number;
  /** seconds the daemon took to go quiet after the window (backlog worked off), max 15 */
  settleSeconds: number;
  /** the daemon's intake verdicts over the window and the settling (null: /metrics unavailable) */
  intakeVerdicts: Record<string, number> | null;
  /**
   * Events the relay delivered to the daemon (junk and valid) that got no intake verdict: dropped
   * by the relay pool (frame size, event shape, duplicate id) before the intake gates.
   */
  droppedBeforeIntake: number | null;
  /**
   * Per crypto lane, over the window and the settling: events that entered it and the bound their
   * wait for a crypto slot stayed under for 99 % of them (`mostrod_intake_lane_wait_seconds`; null:
   * /metrics unavailable).
   */
  laneWait: Record<string, { n: number; p99AtMostMs: number }> | null;
  rssAfterMb: number;
}

export interface V2Result {
  readyMs: number;
  /** the unmeasured v2 closed loop run first (JIT warm-up), or absent when turned off */
  warmUp?: { seconds: number; answered: number };
  open: LoadResult;
  floods: V2Flood[];
  rssAfterMb: number;
}

export interface V2Options {
  pow: number;
  rate: number;
  seconds: number;
  junkRate: number;
  flood: boolean;
  /** seconds of unmeasured v2 closed loop before the v2 open loop (0: none) */
  warmUpSeconds: number;
  /** created_at for requests (ahead of now, within the daemon's 300 s future bound) */
  ahead: () => number;
  phase: (name: string) => () => void;
}

async function generateFlood(pool: WorkerPool, h: Harness, name: V2FloodName, count: number, o: V2Options): Promise<StagedFlood> {
  if (name === 'one-key') {
    const tradeSkHex = bytesToHex(generateSecretKey());
    const identitySkHex = bytesToHex(generateSecretKey());
    return stageOneKey(pool, { count, nodePubkey: h.nodePubkey, pow: o.pow, createdAt: o.ahead(), tradeSkHex, identitySkHex });
  }
  const perType = Math.ceil(count / V2_JUNK_TYPES.length);
  return stageJunk(pool, { types: V2_JUNK_TYPES, perType, nodePubkey: h.nodePubkey, pow: o.pow, createdAt: Math.floor(Date.now() / 1000), kind: 14 });
}

async function floodPhase(pool: WorkerPool, h: Harness, relay: BenchRelay, name: V2FloodName, baseline: LoadResult, o: V2Options): Promise<V2Flood> {
  const frames = await withTimeout(`v2 ${name} junk generation`, 300_000, generateFlood(pool, h, name, o.junkRate * o.seconds, o));
  const traders = await prepareTraders(pool, h, { traders: o.rate * 2, perTrader: Math.ceil(o.seconds / 2) + 1, pow: o.pow, rumorCreatedAt: o.ahead(), transport: 'v2' });
  await settle(h.pid, 10_000);
  // the daemon's idle CPU, subtracted from the window outside the valid load
  const idle0 = cpuSeconds(h.pid);
  await new Promise((r) => setTimeout(r, 2000));
  const idleCores = (cpuSeconds(h.pid) - idle0) / 2;
  const verdicts0 = await intakeVerdicts(h);
  const waits0 = await laneWaitBuckets(h);
  const relayBefore = await relay.stats();
  const cpu0 = cpuSeconds(h.pid);
  const t0 = performance.now();
  const startAt = Date.now() + 1000;
  const flood = runStagedFlood(pool, frames, relay.url, o.junkRate, startAt);
  const valid = await withTimeout(`v2 flood ${name}`, 90_000, openLoop(h, traders.traders, o.rate, o.seconds, { during: flood, startAt, trace: true }));
  const fr = await flood;
  const settleSeconds = await settle(h.pid, 15_000);
  const cpu = cpuSeconds(h.pid) - cpu0;
  const window = (performance.now() - t0) / 1000;
  const relayAfter = await relay.stats();
  const verdicts1 = await intakeVerdicts(h);
  const waits1 = await laneWaitBuckets(h);
  // junk CPU = the window's CPU − the valid requests answered × what one cost in the v2 open loop
  // (scaled by answers, not by seconds: on a shared machine a starved daemon may use less CPU under
  // the flood than without it) − idle for the rest of the window.
  const perValid = (baseline.daemonCpuCores * baseline.seconds) / Math.max(1, baseline.answered);
  const junkCpu = Math.max(0, cpu - perValid * valid.latencyMs.n - idleCores * Math.max(0, window - valid.seconds));
  const verdicts = verdicts0 !== null && verdicts1 !== null ? diffCounters(verdicts0, verdicts1) : null;
  const delivered = relayAfter.delivered - relayBefore.delivered - valid.answered;
  return {
    name,
    junkGenerated: frames.total,
    junkSent: fr.sent,
    junkSendRate: round(fr.rate, 0),
    junkDeliveredToDaemon: delivered - valid.sent,
    valid,
    p99Ratio: round(valid.latencyMs.p99 / baseline.latencyMs.p99, 2),
    daemonCpuSecondsPerThousandJunk: round((junkCpu / Math.max(1, fr.sent)) * 1000, 3),
    junkShedCapacityPerCore: junkCpu > 0 ? round(fr.sent / junkCpu, 0) : Number.NaN,
    settleSeconds: round(settleSeconds, 1),
    intakeVerdicts: verdicts,
    droppedBeforeIntake: verdicts === null ? null : Math.max(0, delivered - Object.values(verdicts).reduce((a, b) => a + b, 0)),
    laneWait: waits0 !== null && waits1 !== null ? laneWaitP99(waits0, waits1) : null,
    rssAfterMb: rssMb(h.pid),
  };
}

export async function v2Phases(pool: WorkerPool, relay: BenchRelay, o: V2Options, cleanups: Array<() => Promise<unknown>>): Promise<V2Result> {
  let done = o.phase('protocol v2: daemon start (transport = "both", [http] on)');
  const h = await startHarness({ pow: o.pow, relay, transport: 'both', http: true });
  cleanups.push(() => h.close());
  done();
  try {
    let warmUp: V2Result['warmUp'];
    if (o.warmUpSeconds > 0) {
      // As the v1 daemon's closed loops do for its own flood: V8 compiles the request path while
      // nothing is measured, so the figures below are a running node's, not a fresh process's.
      done = o.phase(`protocol v2: warm-up, closed loop of kind 14 for ${o.warmUpSeconds} s (not measured)`);
      const warm = await prepareTraders(pool, h, { traders: WARM_UP_TRADERS, perTrader: Math.ceil((WARM_UP_RATE_BOUND * o.warmUpSeconds) / WARM_UP_TRADERS), pow: o.pow, rumorCreatedAt: o.ahead(), transport: 'v2' });
      const r = await withTimeout('v2 warm-up', 60_000 + o.warmUpSeconds * 1000, closedLoop(h, warm.traders, o.warmUpSeconds));
      warmUp = { seconds: o.warmUpSeconds, answered: r.latencyMs.n };
      done();
    }
    done = o.phase(`protocol v2: open loop ${o.rate}/s kind 14, ${o.seconds} s`);
    const traders = await prepareTraders(pool, h, { traders: o.rate * 2, perTrader: Math.ceil(o.seconds / 2) + 1, pow: o.pow, rumorCreatedAt: o.ahead(), transport: 'v2' });
    const open = await withTimeout('v2 open loop', 60_000, openLoop(h, traders.traders, o.rate, o.seconds, { trace: true }));
    done();
    const floods: V2Flood[] = [];
    if (o.flood) {
      for (const name of ['one-key', 'mixed'] as const) {
        done = o.phase(`protocol v2 flood (${name}): ${o.junkRate}/s kind-14 junk beside ${o.rate}/s valid kind 14`);
        floods.push(await floodPhase(pool, h, relay, name, open, o));
        done();
      }
    }
    return { readyMs: round(h.readyMs, 0), ...(warmUp !== undefined ? { warmUp } : {}), open, floods, rssAfterMb: rssMb(h.pid) };
  } finally {
    await h.close();
  }
}
