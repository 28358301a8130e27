/**
 * Socket writes of the relay pool's EVENT frames (not part of `npm run bench`):
 *   node --import tsx bench/socket-writes.ts --serve [--port 7391]      # a relay that answers OK to every EVENT
 *   node --import tsx bench/socket-writes.ts --url ws://127.0.0.1:7391 [--count 20000] [--burst 2] [--bytes 2400]
 *     [--rounds 1] [--both]
 *
 * The sender publishes `count` events of gift-wrap size through a RelayPool (the daemon's ws
 * factory) in bursts of `burst` frames handed over in the same tick (2 = a new order's 38383 event
 * and its reply), waiting for the relay's OKs after each burst. It prints the sender's CPU per
 * frame (process.cpuUsage over the sends); run it under `strace -f -c -e trace=write,writev` to
 * count the syscalls. The relay runs as a separate process so that it is not counted. `--both`
 * also runs a pool whose sockets write each frame on its own (the factory before the change) in
 * alternating rounds in the same process, so both see the same machine load.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { NostrEvent } from '../src/crypto/event.js';
import { RelayPool } from '../src/nostr/relay-pool.js';
import type { RelaySocket, SocketFactory, SocketHandlers } from '../src/nostr/relay-socket.js';
import { FakeClock } from '../test/support/fake-clock.js';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    port: { type: 'string', default: '7391' },
    url: { type: 'string', default: 'ws://127.0.0.1:7391' },
    count: { type: 'string', default: '20000' },
    burst: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '2400' },
    rounds: { type: 'string', default: '1' },
    both: { type: 'boolean', default: false },
  },
});

if (values.serve) {
  const wss = new WebSocketServer({ port: Number(values.port), perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const text = data.toString();
      if (!text.startsWith('["EVENT"')) return;
      const id = (JSON.parse(text) as [string, NostrEvent])[1].id;
      ws.send(JSON.stringify(['OK', id, true, '']));
    });
  });
  wss.on('listening', () => console.log(`relay listening on ${values.port}`));
} else {
  const COUNT = Number(values.count);
  const BURST = Number(values.burst);
  const ROUNDS = Number(values.rounds);
  const content = randomBytes(Math.ceil((Number(values.bytes) * 3) / 4)).toString('base64');
  let seq = 0;
  const event = (): NostrEvent => ({
    id: (seq++).toString(16).padStart(64, '0'),
    pubkey: 'a'.repeat(64),
    created_at: 1_700_000_000,
    kind: 1059,
    tags: [['p', 'b'.repeat(64)]],
    content,
    sig: 'c'.repeat(128),
  });
  const makePool = (socketFactory?: SocketFactory): RelayPool =>
    new RelayPool({ urls: [values.url], filter: null, clock: new FakeClock(), logger: pino({ level: 'silent' }), ...(socketFactory ? { socketFactory } : {}) });
  // `both`: the daemon's factory and, for comparison in the same process, one that writes each
  // frame on its own (the factory before writes were coalesced), in alternating rounds.
  const pools: Array<[string, RelayPool]> = [['daemon factory', makePool()]];
  if (values.both) pools.push(['one write per frame', makePool(perFrameFactory)]);
  for (const [, p] of pools) {
    p.start();
    await p.waitForConnection();
  }
  const perFrame = new Map<string, number[]>(pools.map(([name]) => [name, []]));
  const frameBytes = JSON.stringify(['EVENT', event()]).length;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, pool] of round % 2 === 0 ? pools : [...pools].reverse()) {
      const start = process.cpuUsage();
      for (let sent = 0; sent < COUNT; sent += BURST) {
        const results = await Promise.all(Array.from({ length: BURST }, () => pool.publish(event())));
        if (!results.every((r) => r.every((x) => x.ok))) throw new Error(`not accepted: ${JSON.stringify(results)}`);
      }
      const cpu = process.cpuUsage(start);
      perFrame.get(name)!.push((cpu.user + cpu.system) / COUNT);
      console.log(
        `${name}: ${COUNT} frames of ${frameBytes} bytes in bursts of ${BURST}: ${((cpu.user + cpu.system) / COUNT).toFixed(1)} CPU-µs/frame ` +
          `(user ${(cpu.user / COUNT).toFixed(1)}, system ${(cpu.system / COUNT).toFixed(1)})`,
      );
    }
  }
  for (const [name, xs] of perFrame) {
    const sorted = [...xs].sort((a, b) => a - b);
    console.log(`${name}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} CPU-µs/frame`);
  }
  for (const [, p] of pools) await p.close();
}

/** The ws factory as it was before frames of a tick were coalesced: ws.send per frame, no cork. */
function perFrameFactory(url: string, h: SocketHandlers): RelaySocket {
  const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
  ws.on('open', () => h.onOpen());
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) h.onMessage(data);
  });
  ws.on('close', (code, reason) => h.onClose(code, reason.toString('utf8')));
  ws.on('error', (err) => h.onError(err));
  ws.on('pong', () => h.onPong());
  return {
    send: (text) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
    },
    close: () => ws.close(),
    terminate: () => ws.terminate(),
    ping: () => ws.ping(),
  };
}
