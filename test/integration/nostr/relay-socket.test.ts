import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket, type AddressInfo } from 'node:net';
import { WebSocket as WebSocketClient, WebSocketServer, type WebSocket } from 'ws';
import { corkableSocketOf, wsSocketFactory, type RelaySocket, type SocketHandlers } from '../../../src/nostr/relay-socket.js';

/** A WebSocket server that records each text message it receives. */
async function recordingServer(): Promise<{ url: string; messages: string[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const messages: string[] = [];
  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data) => messages.push((data as Buffer).toString('utf8')));
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  // Sockets first: the server's close waits for its connections to end.
  for (const c of cleanups.reverse()) await c();
});

async function connected(url: string): Promise<RelaySocket> {
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const h: SocketHandlers = { onOpen: () => opened(), onMessage: () => {}, onClose: () => {}, onError: () => {}, onPong: () => {} };
  const socket = wsSocketFactory()(url, h);
  cleanups.push(() => socket.terminate());
  await open;
  return socket;
}

void describe('wsSocketFactory: frames of one tick leave in one write', () => {
  // That they leave in one writev is measured with strace (bench/socket-writes.ts): on loopback the
  // relay's reads cannot tell one write from several. What is tested here is what must not change:
  // every frame arrives, whole and in the order of the sends.
  void test('frames sent in the same tick and in later ticks arrive whole and in order', async () => {
    const server = await recordingServer();
    cleanups.push(() => server.close());
    const socket = await connected(server.url);
    const frames = ['["EVENT",{"n":1}]', '["EVENT",{"n":2}]', `["EVENT",{"n":3,"pad":"${'x'.repeat(70_000)}"}]`];
    await Promise.resolve();
    for (const f of frames) socket.send(f); // one tick
    socket.send('["EVENT",{"n":4}]');
    await new Promise((r) => setImmediate(r));
    socket.send('["EVENT",{"n":5}]'); // the next tick
    await until(() => server.messages.length === 5);
    assert.deepEqual(server.messages, [...frames, '["EVENT",{"n":4}]', '["EVENT",{"n":5}]']);
  });

  void test('frames sent from several promise continuations of one task still go out in order', async () => {
    const server = await recordingServer();
    cleanups.push(() => server.close());
    const socket = await connected(server.url);
    const sent: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        for (let k = 0; k < i % 3; k++) await Promise.resolve();
        const f = `["EVENT",{"n":${i}}]`;
        sent.push(f);
        socket.send(f);
      }),
    );
    await until(() => server.messages.length === 20);
    assert.deepEqual(server.messages, sent);
  });

  void test('the ws in use still exposes its net.Socket to cork (else frames are written one by one)', async () => {
    const server = await recordingServer();
    cleanups.push(() => server.close());
    const ws = new WebSocketClient(server.url);
    cleanups.push(() => ws.terminate());
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    const s = corkableSocketOf(ws);
    assert.ok(s instanceof Socket, 'ws._socket is the net.Socket');
    assert.equal(corkableSocketOf({} as WebSocketClient), null, 'absent: no corking');
    assert.equal(corkableSocketOf({ _socket: { cork: 1 } } as unknown as WebSocketClient), null, 'not a stream: no corking');
  });
});
