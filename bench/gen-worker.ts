/**
 * Worker thread for the benchmarks: generates traffic and runs the crypto floor off the main
 * thread. Booted by bench/workers.ts (tsx registered inside the worker).
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { WebSocket } from 'ws';
import { runFloor, type FloorOptions } from './floor.js';
import { generateJunk, generateOneKeyFlood, generateRequests, type JunkType, type TraderSpec } from './gen.js';

export type WorkerTask =
  | { op: 'requests'; traders: TraderSpec[]; nodePubkey: string; pow: number; rumorCreatedAt: number; transport?: 'v1' | 'v2' }
  | { op: 'junk'; type: JunkType; count: number; nodePubkey: string; pow: number; createdAt: number; kind?: number }
  | { op: 'one-key'; count: number; nodePubkey: string; pow: number; createdAt: number; tradeSkHex: string; identitySkHex: string }
  | { op: 'floor'; options: FloorOptions }
  | { op: 'flood'; url: string; frames: string[]; rate: number };

/**
 * Send `frames` to the relay at `rate` per second (paced in 5 ms slices); resolves when all are sent.
 * Each slice's frames go out in one socket write (corked), unmasked (an all-zero mask, which the
 * relay then does not XOR either), and the relay's OK replies are not validated as UTF-8: the
 * sender's own cost stays small on a machine it shares with the relay and the daemon.
 */
async function flood(url: string, frames: string[], rate: number): Promise<{ sent: number; seconds: number; rate: number }> {
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
  const t0 = performance.now();
  let sent = 0;
  while (sent < frames.length) {
    const due = Math.min(frames.length, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    socket?.cork();
    while (sent < due) ws.send(frames[sent++]!);
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
    else if (t.op === 'junk') result = generateJunk(t.type, t.count, t.nodePubkey, t.pow, t.createdAt, t.kind);
    else if (t.op === 'one-key') result = generateOneKeyFlood(t.count, t.nodePubkey, t.pow, t.createdAt, t.tradeSkHex, t.identitySkHex);
    else if (t.op === 'floor') result = runFloor(t.options);
    else {
      void flood(t.url, t.frames, t.rate).then(
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
