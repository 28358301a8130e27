/** Worker thread hosting one RustTraderCore (see rust-trader.ts); answers {id, op, args} calls. */
import { parentPort, workerData } from 'node:worker_threads';
import type { Keys } from '@rust-nostr/nostr-sdk';
import { RustTraderCore } from './rust-trader.js';

interface Call {
  id: number;
  op: 'tradeKey' | 'send' | 'waitFor' | 'fetchNodeEvents' | 'rejected' | 'replies';
  args: unknown[];
}

const port = parentPort;
if (port === null) throw new Error('rust-trader-worker must run in a worker thread');
const data = workerData as { relayUrl: string; nodePk: string; fullPrivacy: boolean; v2: boolean };
const keys = new Map<string, Keys>();
const ready = RustTraderCore.connect(data.relayUrl, data.nodePk, { fullPrivacy: data.fullPrivacy, v2: data.v2 });

function key(pk: unknown): Keys {
  const k = keys.get(String(pk));
  if (k === undefined) throw new Error(`unknown trade key ${String(pk)}`);
  return k;
}

async function run(t: RustTraderCore, c: Call): Promise<unknown> {
  switch (c.op) {
    case 'tradeKey': {
      const k = await t.tradeKey();
      const pk = k.publicKey.toHex();
      keys.set(pk, k);
      return pk;
    }
    case 'send':
      return t.send(String(c.args[0]), key(c.args[1]));
    case 'waitFor':
      return t.waitFor(key(c.args[0]), String(c.args[1]), Number(c.args[2]));
    case 'fetchNodeEvents':
      return t.fetchNodeEvents(Number(c.args[0]));
    case 'rejected':
      return t.rejected;
    case 'replies':
      return t.allReplies();
  }
}

ready.then(
  (t) => {
    port.postMessage({ ready: true, identity: t.identity.publicKey.toHex() });
    port.on('message', (c: Call) => {
      run(t, c).then(
        (result) => port.postMessage({ id: c.id, result }),
        (err: unknown) => port.postMessage({ id: c.id, error: err instanceof Error ? err.message : String(err) }),
      );
    });
  },
  (err: unknown) => port.postMessage({ ready: false, error: err instanceof Error ? err.message : String(err) }),
);
