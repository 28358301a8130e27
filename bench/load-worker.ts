/**
 * The load thread: sends an open loop's requests and times their replies (bench/load.ts
 * `runOpenLoop`) away from the bench's main thread, whose heap holds every phase's pre-built
 * requests. Booted by load.ts (`LoadThread`, tsx registered inside the worker); one loop at a time,
 * driven by messages: run → ready → go → started → sent → drained → finish → result.
 */
import { parentPort } from 'node:worker_threads';
import { collectThisThread } from './equipment-gc.js';
import { runOpenLoop, type LoadThreadReply, type LoadThreadRequest } from './load.js';

const port = parentPort;
if (port === null) throw new Error('load-worker must run in a worker thread');
const post = (m: LoadThreadReply): void => port.postMessage(m);

/** Resolvers for the main thread's `go` / `finish`, by loop id and message type. */
const waiting = new Map<string, () => void>();
function waitFor(id: number, type: 'go' | 'finish'): Promise<void> {
  return new Promise((resolve) => waiting.set(`${id}:${type}`, resolve));
}

port.on('message', (m: LoadThreadRequest) => {
  if (m.type !== 'run') {
    const key = `${m.id}:${m.type}`;
    const resolve = waiting.get(key);
    waiting.delete(key);
    resolve?.();
    return;
  }
  const { id } = m;
  runOpenLoop(m.url, m.nodePubkey, m.traders, m.rate, m.seconds, m.startAt, {
    ready: () => {
      const go = waitFor(id, 'go');
      post({ type: 'ready', id });
      // this thread's heap is collected once the others are (the main thread's ready hook), before the first send
      return go.then(() => void collectThisThread());
    },
    started: () => post({ type: 'started', id }),
    sentAll: (elapsed) => post({ type: 'sent', id, elapsed }),
    drained: () => {
      const finish = waitFor(id, 'finish');
      post({ type: 'drained', id });
      return finish;
    },
  }).then(
    (raw) => post({ type: 'result', id, raw }),
    (err: unknown) => post({ type: 'error', id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
