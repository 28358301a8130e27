/**
 * Phase 1 — the crypto floor: request/reply pairs per second on one core and on two worker threads.
 */
import { bytesToHex, generateSecretKey, getPublicKey } from '../src/crypto/secp.js';
import { cryptoBackend } from '../src/crypto/secp.js';
import type { GeneratedRequest } from './gen.js';
import type { WorkerPool } from './workers.js';

export interface FloorResult {
  backend: string;
  /** intake path as specified: one wrap verify (pairs/s, one thread) */
  oneCore: number;
  /** the same with the relay pool's extra verifyEvent the daemon runs today */
  oneCoreDoubleVerify: number;
  /** two threads at once, sum of pairs/s */
  twoCores: number;
  scaling: number;
  /** median of repeated single-thread runs and their spread */
  runs: number[];
  /** protocol v2 (kind 14 request + kind 14 reply), pairs/s on one thread: median of `v2Runs` */
  v2OneCore: number;
  v2Runs: number[];
}

export async function cryptoFloorPhase(pool: WorkerPool, pow: number, seconds = 2): Promise<FloorResult> {
  const nodeSk = generateSecretKey();
  const nodePubkey = getPublicKey(nodeSk);
  const now = Math.floor(Date.now() / 1000);
  const traders = Array.from({ length: 256 }, () => ({ identitySkHex: bytesToHex(generateSecretKey()), firstIndex: 1, count: 2 }));
  const half = traders.length / 2;
  const parts = await Promise.all([
    pool.run<GeneratedRequest[][]>({ op: 'requests', traders: traders.slice(0, half), nodePubkey, pow, rumorCreatedAt: now }, 0),
    pool.run<GeneratedRequest[][]>({ op: 'requests', traders: traders.slice(half), nodePubkey, pow, rumorCreatedAt: now }, 1),
  ]);
  const frames = parts.flat(2).map((r) => r.frame);
  const v2Parts = await Promise.all([
    pool.run<GeneratedRequest[][]>({ op: 'requests', traders: traders.slice(0, half), nodePubkey, pow, rumorCreatedAt: now, transport: 'v2' }, 0),
    pool.run<GeneratedRequest[][]>({ op: 'requests', traders: traders.slice(half), nodePubkey, pow, rumorCreatedAt: now, transport: 'v2' }, 1),
  ]);
  const v2Frames = v2Parts.flat(2).map((r) => r.frame);
  const options = { nodeSkHex: bytesToHex(nodeSk), frames, pow, seconds };
  type R = { perSecond: number };
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) runs.push((await pool.run<R>({ op: 'floor', options }, 0)).perSecond);
  const dbl = await pool.run<R>({ op: 'floor', options: { ...options, doubleVerify: true } }, 0);
  const both = await Promise.all([pool.run<R>({ op: 'floor', options }, 0), pool.run<R>({ op: 'floor', options }, 1)]);
  // v1 and v2 runs interleaved, so both see the same machine load
  const v2Runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    v2Runs.push((await pool.run<R>({ op: 'floor', options: { ...options, frames: v2Frames } }, 0)).perSecond);
    runs.push((await pool.run<R>({ op: 'floor', options }, 0)).perSecond);
  }
  runs.sort((a, b) => a - b);
  v2Runs.sort((a, b) => a - b);
  const oneCore = runs[Math.floor(runs.length / 2)]!;
  const v2OneCore = v2Runs[1]!;
  const twoCores = both[0].perSecond + both[1].perSecond;
  return { backend: cryptoBackend(), oneCore, oneCoreDoubleVerify: dbl.perSecond, twoCores, scaling: twoCores / oneCore, runs, v2OneCore, v2Runs };
}
