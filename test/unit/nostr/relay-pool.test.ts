import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { finalizeEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { lacksPow, rawDirectAuthor, RelayPool } from '../../../src/nostr/relay-pool.js';
import { leadingZeroBits, minePow } from '../../../src/nostr/pow.js';
import type { SocketFactory, SocketHandlers } from '../../../src/nostr/relay-socket.js';
import { FakeClock } from '../../support/fake-clock.js';

/** In-memory sockets: the test plays the relay. */
class FakeNet {
  sockets: Array<{ url: string; h: SocketHandlers; sent: string[]; closed: boolean }> = [];
  factory: SocketFactory = (url, h) => {
    const s = { url, h, sent: [] as string[], closed: false };
    this.sockets.push(s);
    return { send: (t) => void s.sent.push(t), close: () => void (s.closed = true), terminate: () => void (s.closed = true), ping: () => {} };
  };
  last(url: string) {
    return [...this.sockets].reverse().find((s) => s.url === url)!;
  }
}

const pk = getPublicKey(generateSecretKey());
const author = generateSecretKey();
const ev = (content = 'c') => finalizeEvent({ kind: 1059, created_at: 1, tags: [['p', pk]], content }, author);
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function makePool(net: FakeNet, urls = ['ws://a']) {
  return new RelayPool({ urls, pubkey: pk, clock: new FakeClock(), logger: pino({ level: 'silent' }), socketFactory: net.factory, backoff: { initialMs: 1, maxMs: 4, jitter: 0 }, publishTimeoutMs: 50 });
}

void describe('RelayPool (fake sockets)', () => {
  void test('REQ with the daemon filter on connect and again after every reconnect', async () => {
    const net = new FakeNet();
    const pool = makePool(net);
    pool.start();
    net.last('ws://a').h.onOpen();
    const req1 = JSON.parse(net.last('ws://a').sent[0]!);
    assert.equal(req1[0], 'REQ');
    assert.deepEqual(req1[2], { kinds: [1059], '#p': [pk], limit: 0 });
    net.last('ws://a').h.onClose(1006, '');
    assert.equal(pool.status()[0]!.state, 'backoff');
    await tick();
    assert.equal(net.sockets.length, 2);
    net.last('ws://a').h.onOpen();
    assert.equal(JSON.parse(net.last('ws://a').sent[0]!)[0], 'REQ');
    assert.equal(pool.status()[0]!.connects, 2);
    await pool.close();
  });

  void test('a forged copy (same id, bad sig) is dropped and does not shadow the real event', async () => {
    const net = new FakeNet();
    const pool = makePool(net, ['ws://a', 'ws://b']);
    const got: string[] = [];
    pool.onEvent((e, url) => got.push(`${e.id}@${url}`));
    pool.start();
    net.last('ws://a').h.onOpen();
    net.last('ws://b').h.onOpen();
    const real = ev();
    const forged = { ...real, content: 'evil' };
    const frame = (e: object) => Buffer.from(JSON.stringify(['EVENT', pool.subId, e]));
    net.last('ws://a').h.onMessage(frame(forged));
    net.last('ws://b').h.onMessage(frame(real));
    net.last('ws://a').h.onMessage(frame(real));
    assert.deepEqual(got, [`${real.id}@ws://b`]);
    assert.equal(pool.status()[0]!.dropped, 1);
    // other subscriptions' events, garbage and oversize frames are ignored
    net.last('ws://a').h.onMessage(Buffer.from(JSON.stringify(['EVENT', 'other', ev('x')])));
    net.last('ws://a').h.onMessage(Buffer.from('not json'));
    net.last('ws://a').h.onMessage(Buffer.alloc(40 * 1024, 0x20));
    assert.equal(got.length, 1);
    await pool.close();
  });

  void test('minPowBits: events without the PoW are dropped from the raw frame; mined ones pass', async () => {
    const net = new FakeNet();
    const pool = new RelayPool({ urls: ['ws://a'], pubkey: pk, clock: new FakeClock(), logger: pino({ level: 'silent' }), socketFactory: net.factory, minPowBits: 8 });
    const got: string[] = [];
    pool.onEvent((e) => got.push(e.id));
    pool.start();
    net.last('ws://a').h.onOpen();
    const frame = (e: object) => Buffer.from(JSON.stringify(['EVENT', pool.subId, e]));
    let weak = ev('weak');
    for (let i = 0; leadingZeroBits(weak.id) >= 8; i++) weak = ev(`weak${i}`);
    const mined = minePow({ kind: 1059, created_at: 1, tags: [['p', pk]], content: 'mined', pubkey: getPublicKey(author) }, 8);
    const strong = finalizeEvent({ kind: mined.kind, created_at: mined.created_at, tags: mined.tags, content: mined.content }, author);
    assert.ok(leadingZeroBits(strong.id) >= 8);
    net.last('ws://a').h.onMessage(frame(weak));
    net.last('ws://a').h.onMessage(frame(strong));
    assert.deepEqual(got, [strong.id]);
    assert.equal(pool.status()[0]!.dropped, 1);
    await pool.close();
  });

  void test('lacksPow reads the id from the raw frame; anything unusual is left to the parser', () => {
    const f = (id: string, pre = '["EVENT","s",{') => Buffer.from(`${pre}"id":"${id}","pubkey":"${'a'.repeat(64)}","kind":1059}]`);
    assert.equal(lacksPow(f('0f' + 'f'.repeat(62)), 4), false, '4 zero bits');
    assert.equal(lacksPow(f('0f' + 'f'.repeat(62)), 5), true);
    assert.equal(lacksPow(f('00' + '7'.repeat(62)), 9), false, '8 + 1 bits');
    assert.equal(lacksPow(f('00' + '7'.repeat(62)), 10), true);
    assert.equal(lacksPow(f('F' + 'f'.repeat(63)), 1), true, 'upper-case hex read too');
    assert.equal(lacksPow(f('zz' + 'f'.repeat(62)), 4), false, 'not hex: parser decides');
    assert.equal(lacksPow(f('f'.repeat(64), '["OK",{'), 4), false, 'not an EVENT frame');
    assert.equal(lacksPow(f('f'.repeat(64), '[ "EVENT","s",{'), 4), false, 'other spacing: parser decides');
    assert.equal(lacksPow(Buffer.from('["EVENT","s",{"content":"\\"id\\":\\"' + 'f'.repeat(64) + '","kind":1}]'), 4), false, 'escaped id in content is not a key');
  });

  void test('rawDirectAuthor reads a kind-14 author from the raw frame; anything unusual is left to the parser', () => {
    const a = 'ab'.repeat(32);
    const f = (body: string, pre = '["EVENT","s",{') => Buffer.from(`${pre}"id":"${'0'.repeat(64)}",${body},"content":"x","sig":"${'1'.repeat(128)}"}]`);
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}","created_at":1,"kind":14,"tags":[]`)), a);
    assert.equal(rawDirectAuthor(f(`"kind":14,"pubkey":"${a}"`)), a, 'key order does not matter');
    // a real event, as a client serializes it
    const real = finalizeEvent({ kind: 14, created_at: 1, tags: [['p', pk]], content: 'c' }, author);
    assert.equal(rawDirectAuthor(Buffer.from(JSON.stringify(['EVENT', 's', real]))), real.pubkey);
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}","kind":1059`)), null, 'a gift wrap');
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}","kind":140`)), null, 'kind 140');
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}","kind":1`)), null, 'kind 1');
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}","kind": 14`)), null, 'other spacing: parser decides');
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a.toUpperCase()}","kind":14`)), null, 'upper-case hex: parser decides');
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}0","kind":14`)), null, '65 digits');
    assert.equal(rawDirectAuthor(f(`"pubkey":"${a}","kind":14`, '["OK",{')), null, 'not an EVENT frame');
    assert.equal(rawDirectAuthor(Buffer.from(`["EVENT","s",{"content":"\\"pubkey\\":\\"${a}\\"","kind":14,"pubkey":"${'cd'.repeat(32)}","id":"${'0'.repeat(64)}","sig":"${'1'.repeat(128)}"}]`)), 'cd'.repeat(32), 'escaped pubkey in content is not a key');
  });

  void test('a frame gate drops frames before they are decoded, counted as dropped', async () => {
    const net = new FakeNet();
    const pool = makePool(net);
    const got: string[] = [];
    pool.onEvent((e) => void got.push(e.id));
    pool.start();
    net.last('ws://a').h.onOpen();
    const refused = ev('refused');
    const passed = ev('passed');
    const seen: string[] = [];
    pool.setFrameGate((frame) => {
      seen.push(frame.toString('utf8'));
      return frame.includes(refused.id);
    });
    const frame = (e: NostrEvent) => Buffer.from(JSON.stringify(['EVENT', pool.subId, e]));
    net.last('ws://a').h.onMessage(frame(refused));
    net.last('ws://a').h.onMessage(frame(passed));
    assert.deepEqual(got, [passed.id]);
    assert.equal(seen.length, 2);
    assert.equal(pool.status()[0]!.dropped, 1);
    pool.setFrameGate(null);
    net.last('ws://a').h.onMessage(frame(ev('after')));
    assert.equal(got.length, 2);
    await pool.close();
  });

  void test('publish resolves per relay: OK, refusal, not connected, and connection loss', async () => {
    const net = new FakeNet();
    const pool = makePool(net, ['ws://a', 'ws://b', 'ws://c']);
    pool.start();
    net.last('ws://a').h.onOpen();
    net.last('ws://b').h.onOpen();
    const e = ev();
    const p = pool.publish(e);
    net.last('ws://a').h.onMessage(Buffer.from(JSON.stringify(['OK', e.id, true, ''])));
    net.last('ws://b').h.onMessage(Buffer.from(JSON.stringify(['OK', e.id, false, 'rate-limited: slow'])));
    assert.deepEqual(await p, [
      { url: 'ws://a', ok: true, message: '' },
      { url: 'ws://b', ok: false, message: 'rate-limited: slow' },
      { url: 'ws://c', ok: false, message: 'not connected' },
    ]);
    const e2 = ev('2');
    const p2 = pool.publish(e2, ['ws://a']);
    net.last('ws://a').h.onClose(1006, '');
    assert.deepEqual(await p2, [{ url: 'ws://a', ok: false, message: 'connection closed' }]);
    await pool.close();
  });

  void test('an event goes to every relay as the same frame, serialized once for all of them', async () => {
    const net = new FakeNet();
    const urls = ['ws://a', 'ws://b', 'ws://c', 'ws://d'];
    const pool = makePool(net, urls);
    pool.start();
    try {
      for (const u of urls) net.last(u).h.onOpen();
      const e = ev('x'.repeat(2000));
      const stringify = JSON.stringify;
      let frames = 0;
      JSON.stringify = ((value: unknown, ...rest: unknown[]) => {
        if (Array.isArray(value) && value[0] === 'EVENT') frames++;
        return (stringify as (v: unknown, ...r: unknown[]) => string)(value, ...rest);
      }) as typeof JSON.stringify;
      let p: ReturnType<typeof pool.publish>;
      try {
        p = pool.publish(e);
      } finally {
        JSON.stringify = stringify;
      }
      for (const u of urls) {
        assert.deepEqual(net.last(u).sent.slice(1), [JSON.stringify(['EVENT', e])], u);
        net.last(u).h.onMessage(Buffer.from(JSON.stringify(['OK', e.id, true, ''])));
      }
      assert.ok((await p).every((r) => r.ok));
      assert.equal(frames, 1, 'EVENT frames serialized');
    } finally {
      await pool.close();
    }
  });

  void test("a relay's rate-limited: refusal slows further publishing to that relay only; an accept lifts it", async () => {
    const net = new FakeNet();
    const pool = new RelayPool({ urls: ['ws://a', 'ws://b'], pubkey: pk, clock: new FakeClock(), logger: pino({ level: 'silent' }), socketFactory: net.factory, backoff: { initialMs: 80, maxMs: 400, jitter: 0 }, publishTimeoutMs: 1000 });
    pool.start();
    net.last('ws://a').h.onOpen();
    net.last('ws://b').h.onOpen();
    const sentEvents = (url: string) => net.last(url).sent.map((t) => JSON.parse(t)).filter((m) => m[0] === 'EVENT').map((m) => m[1].id);
    const e1 = ev('1');
    const p1 = pool.publish(e1);
    net.last('ws://a').h.onMessage(Buffer.from(JSON.stringify(['OK', e1.id, true, ''])));
    net.last('ws://b').h.onMessage(Buffer.from(JSON.stringify(['OK', e1.id, false, 'rate-limited: slow down'])));
    await p1;
    const e2 = ev('2');
    const p2 = pool.publish(e2);
    assert.ok(sentEvents('ws://a').includes(e2.id), 'the other relay is not slowed');
    assert.ok(!sentEvents('ws://b').includes(e2.id), 'held back right after rate-limited:');
    await tick(120);
    assert.ok(sentEvents('ws://b').includes(e2.id), 'sent after the backoff');
    net.last('ws://a').h.onMessage(Buffer.from(JSON.stringify(['OK', e2.id, true, ''])));
    net.last('ws://b').h.onMessage(Buffer.from(JSON.stringify(['OK', e2.id, true, ''])));
    await p2;
    const e3 = ev('3');
    const p3 = pool.publish(e3);
    assert.ok(sentEvents('ws://b').includes(e3.id), 'an accepted event lifted the brake');
    net.last('ws://a').h.onMessage(Buffer.from(JSON.stringify(['OK', e3.id, true, ''])));
    net.last('ws://b').h.onMessage(Buffer.from(JSON.stringify(['OK', e3.id, true, ''])));
    await p3;
    await pool.close();
  });

  void test('backoff grows exponentially while a relay keeps failing', async () => {
    const net = new FakeNet();
    const pool = new RelayPool({ urls: ['ws://a'], clock: new FakeClock(), logger: pino({ level: 'silent' }), socketFactory: net.factory, backoff: { initialMs: 10, maxMs: 40, jitter: 0 } });
    pool.start();
    const t0 = Date.now();
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      net.last('ws://a').h.onClose(1006, 'refused');
      const n = net.sockets.length;
      while (net.sockets.length === n) await tick(1);
      times.push(Date.now() - t0);
    }
    const gaps = times.map((t, i) => t - (times[i - 1] ?? 0));
    assert.ok(gaps[1]! >= 18 && gaps[2]! >= 38 && gaps[3]! >= 38, `gaps ${gaps.join(',')}`);
    assert.ok(pool.status()[0]!.lastError !== null);
    await pool.close();
    assert.equal(pool.status()[0]!.state, 'closed');
  });
});

void describe('relay pool de-duplication', () => {
  void test('an id is passed on once while remembered; the memory holds the newest dedupSize ids', () => {
    const sk = generateSecretKey();
    const pool = new RelayPool({ urls: ['ws://a'], pubkey: getPublicKey(sk), clock: new FakeClock(), logger: pino({ level: 'silent' }), dedupSize: 3, verify: () => true });
    const got: string[] = [];
    pool.onEvent((e) => got.push(e.content));
    const events = ['a', 'b', 'c', 'd'].map((content) => finalizeEvent({ kind: 1059, created_at: 1_700_000_000, tags: [], content }, sk));
    for (const e of [events[0]!, events[0]!, events[1]!, events[2]!, events[1]!]) pool.acceptEvent(e, 'ws://a');
    assert.deepEqual(got, ['a', 'b', 'c'], 'a repeat from any relay is dropped');
    pool.acceptEvent(events[3]!, 'ws://a'); // the fourth id pushes out the oldest
    pool.acceptEvent(events[0]!, 'ws://b');
    pool.acceptEvent(events[2]!, 'ws://b');
    assert.deepEqual(got, ['a', 'b', 'c', 'd', 'a']);
    // An id that is not 64 lowercase hex is passed on (the intake refuses it) and not remembered.
    const odd = { ...events[3]!, id: 'X'.repeat(64), content: 'odd' };
    pool.acceptEvent(odd, 'ws://a');
    pool.acceptEvent(odd, 'ws://b');
    assert.deepEqual(got.slice(5), ['odd', 'odd']);
  });
});
