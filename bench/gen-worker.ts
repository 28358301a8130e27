/**
 * Worker thread for the benchmarks: generates traffic and runs the crypto floor off the main
 * thread. Booted by bench/workers.ts (tsx registered inside the worker).
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { WebSocket } from 'ws';
import { collectThisThread } from './equipment-gc.js';
import { runFloor, type FloorOptions } from './floor.js';
import { generateJunk, generateOneKeyFlood, generateRequests, type JunkType, type TraderSpec } from './gen.js';

export type WorkerTask =
  | { op: 'requests'; traders: TraderSpec[]; nodePubkey: string; pow: number; rumorCreatedAt: number; transport?: 'v1' | 'v2' }
  | { op: 'floor'; options: FloorOptions }
  | { op: 'stage-junk'; key: string; types: JunkType[]; perType: number; nodePubkey: string; pow: number; createdAt: number; kind?: number }
  | { op: 'stage-one-key'; key: string; count: number; nodePubkey: string; pow: number; createdAt: number; tradeSkHex: string; identitySkHex: string }
  | { op: 'flood-staged'; key: string; url: string; rate: number; startAt: number }
  /** a full collection of this thread's heap before a measured window (equipment-gc.ts) */
  | { op: 'gc' };

/**
 * Frames staged in this thread for a later flood (`stage-*`, then `flood-staged`), so a flood's
 * frames never live on the bench's main thread, which measures the valid requests' latency (50,000
 * frames of ≈ 3 KB there meant a 150 MB structured clone and major GC pauses in the measuring
 * thread). Dropped once sent.
 *
 * Kept as UTF-8 in one Buffer per staging call (outside the V8 heap), each frame a slice of it,
 * not as 50,000 strings: with 150 MB of strings in its heap, the sending thread's collections
 * during the flood had V8's four helper threads marking beside it, and on a 2-vCPU box they took
 * both cores from the daemon for 20–40 ms at a time (session 15, /proc/<tid>/schedstat of every
 * thread) — the slowest valid requests of a flood window.
 */
interface StagedFrames {
  bytes: Buffer;
  /** frame i is bytes[ends[i - 1] ?? 0, ends[i]) */
  ends: Uint32Array;
}
const staged = new Map<string, StagedFrames[]>();

function stage(key: string, frames: readonly string[]): number {
  const ends = new Uint32Array(frames.length);
  let total = 0;
  frames.forEach((f, i) => {
    total += Buffer.byteLength(f, 'utf8');
    ends[i] = total;
  });
  const bytes = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const f of frames) at += bytes.write(f, at, 'utf8');
  staged.set(key, [...(staged.get(key) ?? []), { bytes, ends }]);
  return frames.length;
}

function* framesOf(parts: readonly StagedFrames[]): Generator<Buffer> {
  for (const { bytes, ends } of parts) {
    let start = 0;
    for (const end of ends) {
      yield bytes.subarray(start, end);
      start = end;
    }
  }
}

/** Round robin over the types, one frame of each in turn. */
function interleave(parts: string[][]): string[] {
  const out: string[] = [];
  const longest = Math.max(0, ...parts.map((p) => p.length));
  for (let i = 0; i < longest; i++) for (const part of parts) if (part[i] !== undefined) out.push(part[i]!);
  return out;
}

/**
 * Send `frames` to the relay at `rate` per second (paced in 5 ms slices); resolves when all are sent.
 * Each slice's frames go out in one socket write (corked), unmasked (an all-zero mask, which the
 * relay then does not XOR either), and the relay's OK replies are not validated as UTF-8: the
 * sender's own cost stays small on a machine it shares with the relay and the daemon.
 */
async function flood(url: string, parts: readonly StagedFrames[], rate: number, startAt: number): Promise<{ sent: number; seconds: number; rate: number }> {
  let socket: { cork(): void; uncork(): void } | undefined;
  const ws = new WebSocket(url, { generateMask: () => undefined, skipUTF8Validation: true });
  ws.on('upgrade', (res) => {
    socket = res.socket;
  });
  ws.on('message', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  // what the staging left behind (the frames as strings) is collected now, not in the window
  collectThisThread();
  const total = parts.reduce((a, p) => a + p.ends.length, 0);
  const frames = framesOf(parts);
  // startAt (Date.now() ms): the moment the bench's main thread starts its valid load too
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    socket?.cork();
    for (; sent < due; sent++) ws.send(frames.next().value as Buffer, { binary: false });
    socket?.uncork();
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 200));
  ws.close();
  return { sent, seconds, rate: sent / seconds };
}

const port = parentPort;
if (port === null) throw new Error('gen-worker must run in a worker thread');
port.on('message', (msg: { seq: number; task: WorkerTask }) => {
  try {
    const t = msg.task;
    let result: unknown;
    if (t.op === 'requests') result = t.traders.map((tr) => generateRequests(tr, t.nodePubkey, t.pow, t.rumorCreatedAt, t.transport));
    else if (t.op === 'floor') result = runFloor(t.options);
    else if (t.op === 'gc') result = collectThisThread();
    else if (t.op === 'stage-junk') {
      result = stage(t.key, interleave(t.types.map((type) => generateJunk(type, t.perType, t.nodePubkey, t.pow, t.createdAt, t.kind))));
    } else if (t.op === 'stage-one-key') {
      result = stage(t.key, generateOneKeyFlood(t.count, t.nodePubkey, t.pow, t.createdAt, t.tradeSkHex, t.identitySkHex));
    } else {
      const parts = staged.get(t.key) ?? [];
      staged.delete(t.key);
      void flood(t.url, parts, t.rate, t.startAt).then(
        (r) => port.postMessage({ seq: msg.seq, ok: true, result: r }),
        (err: unknown) => port.postMessage({ seq: msg.seq, ok: false, error: String(err) }),
      );
      return;
    }
    port.postMessage({ seq: msg.seq, ok: true, result });
  } catch (err) {
    port.postMessage({ seq: msg.seq, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
