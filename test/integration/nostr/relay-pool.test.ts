import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { systemClock } from '../../../src/clock.js';
import { finalizeEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { RelayPool, type RelayPoolOptions } from '../../../src/nostr/relay-pool.js';
import { startRelay, type TestRelay } from '../../support/relay.js';

const logger = pino({ level: 'silent' });
const pools: RelayPool[] = [];
const relays: TestRelay[] = [];
after(async () => {
  for (const p of pools) await p.close();
  for (const r of relays) await r.close();
});

async function relay(): Promise<TestRelay> {
  const r = await startRelay();
  relays.push(r);
  return r;
}

function pool(urls: string[], o: Partial<RelayPoolOptions> = {}): RelayPool {
  const p = new RelayPool({ urls, clock: systemClock, logger, backoff: { initialMs: 30, maxMs: 200 }, publishTimeoutMs: 2000, ...o });
  pools.push(p);
  p.start();
  return p;
}

const me = getPublicKey(generateSecretKey());
const author = generateSecretKey();
function wrapTo(pubkey: string, content = 'x'): NostrEvent {
  return finalizeEvent({ kind: 1059, created_at: Math.floor(Date.now() / 1000) - 100_000, tags: [['p', pubkey]], content }, author);
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let waited = 0; !cond(); waited += 10) {
    if (waited > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

void describe('RelayPool against the test relay', () => {
  void test('receives live wraps addressed to us (back-dated two days), not others; publish gets OK', async () => {
    const r = await relay();
    const sub = pool([r.url], { pubkey: me });
    const pub = pool([r.url]);
    await Promise.all([sub.waitForConnection(), pub.waitForConnection()]);
    const got: Array<{ e: NostrEvent; url: string }> = [];
    sub.onEvent((e, url) => got.push({ e, url }));
    await new Promise((res) => setTimeout(res, 50)); // REQ reached the relay
    const mine = wrapTo(me);
    const results = await pub.publish(wrapTo(getPublicKey(generateSecretKey())));
    assert.deepEqual(results.map((x) => x.ok), [true]);
    assert.deepEqual((await pub.publish(mine)).map((x) => x.ok), [true]);
    await until(() => got.length > 0);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.e.id, mine.id);
    assert.equal(got[0]!.url, r.url);
    const st = sub.status()[0]!;
    assert.equal(st.state, 'open');
    assert.ok(st.connectedAt !== null);
    assert.deepEqual(sub.connectedRelays(), [r.url]);
  });

  void test('the same event from two relays is delivered once', async () => {
    const [a, b] = [await relay(), await relay()];
    const sub = pool([a.url, b.url], { pubkey: me });
    const pub = pool([a.url, b.url]);
    await Promise.all([sub.waitForConnection(), pub.waitForConnection()]);
    const got: string[] = [];
    sub.onEvent((e) => got.push(e.id));
    await new Promise((res) => setTimeout(res, 50));
    const e = wrapTo(me);
    const results = await pub.publish(e);
    assert.deepEqual(results.map((x) => x.ok), [true, true]);
    await until(() => sub.status().every((s) => s.events === 1));
    assert.deepEqual(got, [e.id]);
  });

  void test('reconnects after the relay restarts and receives again', async () => {
    const r = await relay();
    const sub = pool([r.url], { pubkey: me });
    await sub.waitForConnection();
    const got: string[] = [];
    sub.onEvent((e) => got.push(e.id));
    await r.stop();
    await until(() => sub.status()[0]!.state !== 'open');
    assert.deepEqual(sub.connectedRelays(), []);
    assert.equal((await sub.publish(wrapTo(me)))[0]!.message, 'not connected');
    await r.restart();
    await sub.waitForConnection(3000);
    assert.ok(sub.status()[0]!.connects >= 2);
    const pub = pool([r.url]);
    await pub.waitForConnection();
    await new Promise((res) => setTimeout(res, 50));
    const e = wrapTo(me);
    await pub.publish(e);
    await until(() => got.includes(e.id));
  });

  void test('refusing relay → ok false with its message; silent relay → timeout', async () => {
    const r = await relay();
    const pub = pool([r.url], { publishTimeoutMs: 150 });
    await pub.waitForConnection();
    r.setMode('refuse');
    const [refused] = await pub.publish(wrapTo(me));
    assert.equal(refused!.ok, false);
    assert.match(refused!.message, /^blocked:/);
    r.setMode('silent');
    const [silent] = await pub.publish(wrapTo(me));
    assert.deepEqual(silent, { url: r.url, ok: false, message: 'timeout' });
  });

  void test('oversize frames are dropped without dropping the connection', async () => {
    const r = await relay();
    const sub = pool([r.url], { pubkey: me, maxFrameBytes: 4096 });
    const pub = pool([r.url]);
    await Promise.all([sub.waitForConnection(), pub.waitForConnection()]);
    const got: string[] = [];
    sub.onEvent((e) => got.push(e.id));
    await new Promise((res) => setTimeout(res, 50));
    await pub.publish(wrapTo(me, 'y'.repeat(8000)));
    const small = wrapTo(me);
    await pub.publish(small);
    await until(() => got.length === 1);
    assert.deepEqual(got, [small.id]);
    assert.equal(sub.status()[0]!.dropped, 1);
    assert.equal(sub.status()[0]!.connects, 1);
  });

  void test('a text frame that is not valid UTF-8 is dropped without dropping the connection', async () => {
    // A raw relay: answers the subscription with a bad frame (0xff in the content), then a good one.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((res) => wss.once('listening', () => res()));
    const bad = wrapTo(me, 'BAD');
    const good = wrapTo(me);
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        const [type, subId] = JSON.parse(data.toString('utf8')) as [string, string];
        if (type !== 'REQ') return;
        const raw = Buffer.from(JSON.stringify(['EVENT', subId, bad]));
        raw[raw.indexOf('BAD')] = 0xff;
        ws.send(raw, { binary: false });
        ws.send(JSON.stringify(['EVENT', subId, good]));
      });
    });
    const addr = wss.address() as { port: number };
    try {
      const sub = pool([`ws://127.0.0.1:${addr.port}`], { pubkey: me, verify: () => true });
      const got: string[] = [];
      sub.onEvent((e) => got.push(e.id));
      await until(() => got.length === 1);
      assert.deepEqual(got, [good.id]);
      assert.equal(sub.status()[0]!.dropped, 1);
      assert.equal(sub.status()[0]!.connects, 1);
      await sub.close();
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((res) => wss.close(res));
    }
  });

  void test('stopIntake closes the subscription but keeps publishing', async () => {
    const r = await relay();
    const sub = pool([r.url], { pubkey: me });
    await sub.waitForConnection();
    let count = 0;
    sub.onEvent(() => count++);
    sub.stopIntake();
    await new Promise((res) => setTimeout(res, 50));
    const [res] = await sub.publish(wrapTo(me));
    assert.equal(res!.ok, true);
    await new Promise((res2) => setTimeout(res2, 100));
    assert.equal(count, 0);
  });
});
