/**
 * Worker thread for the benchmarks: generates traffic and runs the crypto floor off the main
 * thread. Booted by bench/workers.ts (tsx registered inside the worker).
 */
import { parentPort } from 'node:worker_threads';
import { runFloor, type FloorOptions } from './floor.js';
import { generateJunk, generateRequests, type JunkType, type TraderSpec } from './gen.js';

export type WorkerTask =
  | { op: 'requests'; traders: TraderSpec[]; nodePubkey: string; pow: number; rumorCreatedAt: number }
  | { op: 'junk'; type: JunkType; count: number; nodePubkey: string; pow: number; createdAt: number }
  | { op: 'floor'; options: FloorOptions };

const port = parentPort;
if (port === null) throw new Error('gen-worker must run in a worker thread');
port.on('message', (msg: { seq: number; task: WorkerTask }) => {
  try {
    const t = msg.task;
    let result: unknown;
    if (t.op === 'requests') result = t.traders.map((tr) => generateRequests(tr, t.nodePubkey, t.pow, t.rumorCreatedAt));
    else if (t.op === 'junk') result = generateJunk(t.type, t.count, t.nodePubkey, t.pow, t.createdAt);
    else result = runFloor(t.options);
    port.postMessage({ seq: msg.seq, ok: true, result });
  } catch (err) {
    port.postMessage({ seq: msg.seq, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
