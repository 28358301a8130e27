/**
 * Junk floods whose frames stay in the sender threads.
 *
 * The frames of a flood (50,000 of ≈ 3 KB) are generated in the bench's worker threads, kept there
 * outside the V8 heap (`stage-*` ops of gen-worker.ts: one Buffer per staging call) and sent from there — by one thread unless BENCH_FLOOD_SENDERS
 * says more, each sender its share at its share of the rate — starting at one agreed moment
 * together with the valid load. The bench's main thread,
 * which sends the valid requests and times their replies, never holds them: before, it collected
 * every frame and cloned them all to the sender thread, and its own GC pauses and the clone (tens of
 * ms, seen with an event-loop-delay monitor in the bench process) landed in the measured latencies.
 */
import { randomBytes } from 'node:crypto';
import type { JunkType } from './gen.js';
import type { WorkerPool } from './workers.js';

export interface StagedFlood {
  key: string;
  /** frames staged in each worker thread, by thread index */
  perWorker: number[];
  total: number;
}

export interface FloodResult {
  sent: number;
  seconds: number;
  rate: number;
}

function newKey(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Threads that send a flood, each on its own connection to the relay. One by default, as before
 * the frames were staged: two senders split the same rate over two sockets, so the relay reads
 * (and forwards) half as many frames per read (BENCH_FLOOD_SENDERS=2 for that).
 */
export function floodSenders(pool: WorkerPool): number {
  const raw = process.env['BENCH_FLOOD_SENDERS'];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > pool.size) throw new Error(`BENCH_FLOOD_SENDERS must be an integer from 1 to ${pool.size}, got ${JSON.stringify(raw)}`);
  return n;
}

/** `perType` frames of each junk type, the types spread over the sender threads (each interleaves its own). */
export async function stageJunk(
  pool: WorkerPool,
  o: { types: readonly JunkType[]; perType: number; nodePubkey: string; pow: number; createdAt: number; kind?: number },
): Promise<StagedFlood> {
  const key = newKey();
  const senders = floodSenders(pool);
  const byWorker: JunkType[][] = Array.from({ length: pool.size }, () => []);
  o.types.forEach((type, i) => byWorker[i % senders]!.push(type));
  const perWorker = await Promise.all(
    byWorker.map((types, w) =>
      types.length === 0
        ? Promise.resolve(0)
        : pool.run<number>({ op: 'stage-junk', key, types, perType: o.perType, nodePubkey: o.nodePubkey, pow: o.pow, createdAt: o.createdAt, ...(o.kind !== undefined ? { kind: o.kind } : {}) }, w),
    ),
  );
  return { key, perWorker, total: perWorker.reduce((a, b) => a + b, 0) };
}

/** `count` frames from one trade/identity key pair, split over the sender threads. */
export async function stageOneKey(
  pool: WorkerPool,
  o: { count: number; nodePubkey: string; pow: number; createdAt: number; tradeSkHex: string; identitySkHex: string },
): Promise<StagedFlood> {
  const key = newKey();
  const senders = floodSenders(pool);
  const perWorker = await Promise.all(
    Array.from({ length: pool.size }, (_, w) => {
      const n = w >= senders ? 0 : Math.floor(o.count / senders) + (w < o.count % senders ? 1 : 0);
      return n === 0 ? Promise.resolve(0) : pool.run<number>({ op: 'stage-one-key', key, ...o, count: n }, w);
    }),
  );
  return { key, perWorker, total: perWorker.reduce((a, b) => a + b, 0) };
}

/**
 * Send a staged flood to `url` at `rate` events/s in all (each thread at its share), starting at
 * `startAt` (Date.now() ms; every sender connects first, then waits for it). The frames are dropped
 * by the threads once sent, so a staged flood runs once.
 */
export async function runStagedFlood(pool: WorkerPool, flood: StagedFlood, url: string, rate: number, startAt: number): Promise<FloodResult> {
  const parts = await Promise.all(
    flood.perWorker.map((n, w) =>
      n === 0 ? Promise.resolve({ sent: 0, seconds: 0, rate: 0 }) : pool.run<FloodResult>({ op: 'flood-staged', key: flood.key, url, rate: (rate * n) / flood.total, startAt }, w),
    ),
  );
  const sent = parts.reduce((a, p) => a + p.sent, 0);
  const seconds = Math.max(...parts.map((p) => p.seconds));
  return { sent, seconds, rate: seconds > 0 ? sent / seconds : 0 };
}
