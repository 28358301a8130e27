import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { verifyEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import type { CryptoExecutor } from '../../../src/nostr/crypto-pool.js';
import { unwrapGiftWrap } from '../../../src/nostr/gift-wrap.js';
import { RelayOutbox, type Publisher } from '../../../src/nostr/relay-outbox.js';
import type { PublishResult } from '../../../src/nostr/relay-pool.js';
import { parseRumorContent } from '../../../src/protocol/index.js';
import { FakeClock } from '../../support/fake-clock.js';
import { req } from '../../support/trade-fixtures.js';

const node = generateSecretKey();
const keys = { secretKey: node, pubkey: getPublicKey(node) };
const logger = pino({ level: 'silent' });

/** Records every publish call; `answer` decides each relay's result. */
class FakePublisher implements Publisher {
  calls: Array<{ event: NostrEvent; urls: readonly string[] }> = [];
  constructor(
    private readonly relayUrls: string[],
    public answer: (url: string, e: NostrEvent, call: number) => PublishResult | Promise<PublishResult> = (url) => ({ url, ok: true, message: '' }),
  ) {}
  urls() {
    return this.relayUrls;
  }
  async publish(event: NostrEvent, urls?: readonly string[]) {
    const targets = urls ?? this.relayUrls;
    const call = this.calls.push({ event, urls: targets });
    return Promise.all(targets.map((u) => this.answer(u, event, call)));
  }
}

function outbox(pub: Publisher, clock = new FakeClock(), extra: object = {}) {
  return new RelayOutbox({ pool: pub, keys, clock, logger, sleep: async () => {}, ...extra });
}

void describe('RelayOutbox', () => {
  void test('messages are gift-wrapped to the recipient from the node key, in queue order', async () => {
    const pub = new FakePublisher(['ws://a']);
    const ob = outbox(pub);
    const user = generateSecretKey();
    for (let i = 1; i <= 5; i++) ob.sendMessage(getPublicKey(user), req('fiat-sent-ok', { requestId: BigInt(i) }));
    await ob.flush();
    assert.equal(pub.calls.length, 5);
    const ids = pub.calls.map((c) => {
      const r = unwrapGiftWrap(c.event, user);
      assert.ok(r.ok);
      assert.equal(r.gift.seal.pubkey, keys.pubkey);
      return parseRumorContent(r.gift.rumor.content).message.kind.request_id;
    });
    assert.deepEqual(ids, [1n, 2n, 3n, 4n, 5n]);
    assert.equal(ob.stats().messagesSent, 5);
  });

  void test('onHandOff: once per message when its frame first goes out (not again on a retry), with the queue and the time since it was queued, the durability wait included', async () => {
    const pub = new FakePublisher(['ws://a'], (url, _e, call) => ({ url, ok: call !== 2, message: call === 2 ? 'blocked: no' : '' }));
    let release!: () => void;
    const synced = new Promise<void>((r) => (release = r));
    let open = false;
    const seen: Array<{ queue: string; seconds: number; publishedBefore: number }> = [];
    const ob = outbox(pub, new FakeClock(), {
      durable: () => (open ? null : synced),
      messageRetry: { attempts: 2 },
      onHandOff: (queue: string, seconds: number) => seen.push({ queue, seconds, publishedBefore: pub.calls.length }),
    });
    const to = getPublicKey(generateSecretKey());
    ob.sendMessage(to, req('fiat-sent-ok'), { queue: 'order' });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(seen.length, 0, 'nothing handed off before the sync');
    open = true;
    release();
    await ob.flush();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.queue, 'order');
    assert.equal(seen[0]!.publishedBefore, 0, 'observed as the frame is written');
    assert.ok(seen[0]!.seconds >= 0.025 && seen[0]!.seconds < 10, `${seen[0]!.seconds} s includes the wait for the sync`);
    // Refused by the relay on its first attempt (call 2), accepted on the retry: still one observation.
    ob.sendMessage(to, req('canceled', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), { queue: 'cant-do' });
    await ob.flush();
    assert.equal(pub.calls.length, 3);
    assert.deepEqual(seen.map((x) => x.queue), ['order', 'cant-do']);
  });

  void test('a message accepted by one relay of two counts as sent; refused everywhere → retried then dropped', async () => {
    const pub = new FakePublisher(['ws://a', 'ws://b'], (url) => ({ url, ok: url === 'ws://b', message: url === 'ws://b' ? '' : 'blocked: no' }));
    const ob = outbox(pub, new FakeClock(), { messageRetry: { attempts: 3 } });
    ob.sendMessage(getPublicKey(generateSecretKey()), req('canceled', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }));
    await ob.flush();
    assert.equal(pub.calls.length, 1);
    pub.answer = (url) => ({ url, ok: false, message: 'blocked: no' });
    ob.sendMessage(getPublicKey(generateSecretKey()), req('canceled', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), { queue: 'cant-do' });
    await ob.flush();
    assert.equal(pub.calls.length, 4);
    assert.equal(pub.calls[1]!.event.id, pub.calls[3]!.event.id, 'the same wrap is retried');
    assert.deepEqual(ob.stats(), { queued: { order: 0, 'cant-do': 0, restore: 0 }, inflight: 0, messagesSent: 1, messagesDropped: 1, eventsPublished: 0, eventsIncomplete: 0 });
  });

  void test('a slow queue does not hold back the others', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pub = new FakePublisher(['ws://a'], async (url, _e, call) => {
      if (call === 1) await gate; // the first order message hangs at the relay
      return { url, ok: true, message: '' };
    });
    const ob = outbox(pub, new FakeClock(), { window: 1 });
    const to = getPublicKey(generateSecretKey());
    ob.sendMessage(to, req('fiat-sent-ok'), { queue: 'order' });
    ob.sendMessage(to, req('fiat-sent-ok'), { queue: 'order' });
    ob.sendMessage(to, req('cant-do', { payload: { cant_do: 'not_found' } }), { queue: 'cant-do' });
    await new Promise((r) => setImmediate(r));
    assert.equal(pub.calls.length, 2, 'order queue blocked on its head (window 1), cant-do queue went through');
    assert.equal(ob.stats().queued.order, 1);
    release();
    await ob.flush();
    assert.equal(pub.calls.length, 3);
  });

  void test('cant-do replies are bounded (a flood of refused requests); trade notices never are', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pub = new FakePublisher(['ws://a'], async (url) => {
      await gate; // the relay hangs: everything queues
      return { url, ok: true, message: '' };
    });
    const ob = outbox(pub, new FakeClock(), { window: 1, maxCantDoQueued: 3 });
    const to = getPublicKey(generateSecretKey());
    for (let i = 0; i < 10; i++) ob.sendMessage(to, req('cant-do', { payload: { cant_do: 'not_found' } }), { queue: 'cant-do' });
    for (let i = 0; i < 10; i++) ob.sendMessage(to, req('fiat-sent-ok'), { queue: 'order' });
    await new Promise((r) => setImmediate(r));
    const st = ob.stats();
    assert.equal(st.queued['cant-do'], 3);
    assert.equal(st.queued.order, 9, 'one in flight, none dropped');
    assert.equal(st.messagesDropped, 6, '10 cant-do: 1 in flight, 3 queued, 6 dropped');
    release();
    await ob.flush();
    assert.equal(ob.stats().messagesSent, 14);
  });

  void test('publish: signs with the node key; created_at strictly increases per (kind, d)', async () => {
    const pub = new FakePublisher(['ws://a']);
    const clock = new FakeClock(1_700_000_000);
    const ob = outbox(pub, clock);
    const tmpl = (d: string, s: string) => ({ kind: 38383, tags: [['d', d], ['s', s]], content: '' });
    const id1 = await ob.publish(tmpl('o1', 'pending'));
    await ob.publish(tmpl('o1', 'in-progress'));
    await ob.publish(tmpl('o1', 'success'));
    await ob.publish(tmpl('o2', 'pending'));
    await ob.publish({ kind: 8383, tags: [], content: '' });
    await ob.publish({ kind: 8383, tags: [], content: '' });
    await ob.flush();
    const evs = pub.calls.map((c) => c.event);
    assert.equal(evs[0]!.id, id1);
    assert.ok(evs.every((e) => e.pubkey === keys.pubkey));
    assert.deepEqual(evs.map((e) => e.created_at - 1_700_000_000), [0, 1, 2, 0, 0, 0]);
    clock.advance(10);
    await ob.publish(tmpl('o1', 'canceled'));
    await ob.flush();
    assert.equal(pub.calls.at(-1)!.event.created_at, 1_700_000_010);
  });

  void test('prepare fixes created_at (as publish, per (kind, d)) and the id, sends nothing; publishPrepared signs that very event and hands it off only past the durability barrier', async () => {
    const pub = new FakePublisher(['ws://a']);
    const clock = new FakeClock(1_700_000_000);
    let release!: () => void;
    const synced = new Promise<void>((r) => (release = r));
    let open = false;
    const ob = outbox(pub, clock, { durable: () => (open ? null : synced) });
    const tmpl = (d: string, s: string) => ({ kind: 38383, tags: [['d', d], ['s', s]], content: '' });
    const first = ob.prepare(tmpl('o1', 'pending'));
    const second = ob.prepare(tmpl('o1', 'in-progress'));
    assert.deepEqual([first.created_at, second.created_at], [1_700_000_000, 1_700_000_001], 'a later state of the same order gets a later created_at');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(pub.calls.length, 0, 'prepare publishes nothing');
    // A prepared event that is never published (its transaction failed) leaves no trace on relays;
    // the created_at it took still keeps the next one of its order later.
    const id = await ob.publish(tmpl('o1', 'success'));
    ob.publishPrepared(second);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(pub.calls.length, 0, 'nothing handed off before the sync');
    open = true;
    release();
    await ob.flush();
    const evs = pub.calls.map((c) => c.event);
    assert.equal(evs.length, 2);
    const prepared = evs.find((e) => e.id === second.id);
    assert.ok(prepared, 'the published event has the prepared id');
    assert.equal(verifyEvent(prepared), true);
    assert.equal(prepared.pubkey, keys.pubkey);
    assert.equal(prepared.created_at, second.created_at);
    assert.deepEqual(prepared.tags, second.tags);
    assert.equal(evs.find((e) => e.id === id)!.created_at, 1_700_000_002);
    assert.ok(!evs.some((e) => e.id === first.id), 'the unpublished one never went out');
  });

  void test('publish retries only the relays that refused or timed out', async () => {
    const pub = new FakePublisher(['ws://a', 'ws://b', 'ws://c'], (url, _e, call) => ({
      url,
      ok: url === 'ws://a' || call >= 3,
      message: url === 'ws://b' ? 'rate-limited: slow down' : 'timeout',
    }));
    const ob = outbox(pub);
    await ob.publish({ kind: 38383, tags: [['d', 'x']], content: '' });
    await ob.flush();
    assert.deepEqual(pub.calls.map((c) => c.urls), [['ws://a', 'ws://b', 'ws://c'], ['ws://b', 'ws://c'], ['ws://b', 'ws://c']]);
    assert.equal(ob.stats().eventsPublished, 1);
  });

  void test('publish gives up after the retry budget and says so in stats', async () => {
    const pub = new FakePublisher(['ws://a'], (url) => ({ url, ok: false, message: 'blocked' }));
    const ob = outbox(pub, new FakeClock(), { publishRetry: { attempts: 4 } });
    await ob.publish({ kind: 1, tags: [], content: 'x' });
    await ob.flush();
    assert.equal(pub.calls.length, 4);
    assert.equal(ob.stats().eventsIncomplete, 1);
  });

  void test('onOutcome: true once, at the first relay that accepts (retries of the others go on); false when none accepts through the retries or the event cannot be signed', async () => {
    // ws://a accepts on the second attempt, ws://b on the third.
    const pub = new FakePublisher(['ws://a', 'ws://b'], (url, _e, call) => ({ url, ok: call >= (url === 'ws://a' ? 2 : 3), message: 'timeout' }));
    const ob = outbox(pub);
    const outcomes: Array<[boolean, number]> = [];
    await ob.publish({ kind: 38383, tags: [['d', 'x']], content: '' }, { onOutcome: (ok) => outcomes.push([ok, pub.calls.length]) });
    await ob.flush();
    assert.deepEqual(outcomes, [[true, 2]], 'once, when ws://a accepted; not again for ws://b');
    assert.equal(pub.calls.length, 3);

    const refused = new FakePublisher(['ws://a', 'ws://b'], (url) => ({ url, ok: false, message: 'blocked' }));
    const ob2 = outbox(refused, new FakeClock(), { publishRetry: { attempts: 3 } });
    const prepared = ob2.prepare({ kind: 38383, tags: [['d', 'y']], content: '' });
    const refusedOutcomes: boolean[] = [];
    ob2.publishPrepared(prepared, { onOutcome: (ok) => refusedOutcomes.push(ok) });
    await ob2.flush();
    assert.deepEqual(refusedOutcomes, [false], 'given up after 3 attempts');
    assert.equal(refused.calls.length, 3);

    const unsignable = outbox(pub, new FakeClock(), {
      crypto: { threads: 0, run: () => Promise.reject(new Error('crypto thread gone')), close: async () => {} } as unknown as CryptoExecutor,
    });
    const failed: boolean[] = [];
    await assert.rejects(unsignable.publish({ kind: 38383, tags: [['d', 'z']], content: '' }, { onOutcome: (ok) => failed.push(ok) }), /crypto thread gone/);
    await unsignable.flush();
    assert.deepEqual(failed, [false]);
  });
});

void describe('RelayOutbox: stored notices (durable outbox)', () => {
  /** A DurableNotice whose calls are recorded in `log` (with the publish calls made before each). */
  function notice(pub: FakePublisher, log: string[], id: number, event: NostrEvent | null = null, refuseRecord = false) {
    const recorded: NostrEvent[] = [];
    return {
      recorded,
      n: {
        id,
        event,
        wrapped: (e: NostrEvent) => {
          log.push(`wrapped ${id} after ${pub.calls.length} publishes`);
          recorded.push(e);
          return refuseRecord ? Promise.reject(new Error('disk full')) : Promise.resolve();
        },
        done: () => log.push(`done ${id}`),
        released: () => log.push(`released ${id}`),
      },
    };
  }

  void test('a new notice: its event is recorded before the first hand-off, and it is done once a relay accepted it', async () => {
    const pub = new FakePublisher(['ws://a', 'ws://b'], (url) => ({ url, ok: url === 'ws://b', message: '' }));
    const ob = outbox(pub);
    const user = generateSecretKey();
    const log: string[] = [];
    const { n, recorded } = notice(pub, log, 1);
    ob.sendMessage(getPublicKey(user), req('released'), { notice: n });
    await ob.flush();
    assert.deepEqual(log, ['wrapped 1 after 0 publishes', 'done 1']);
    assert.equal(pub.calls.length, 1);
    assert.equal(pub.calls[0]!.event.id, recorded[0]!.id, 'the recorded event is the one handed to the relays');
    assert.ok(unwrapGiftWrap(pub.calls[0]!.event, user).ok);
  });

  void test('a notice with a recorded event: sent as is (same id, nothing wrapped)', async () => {
    const pub = new FakePublisher(['ws://a']);
    const ob = outbox(pub);
    const user = generateSecretKey();
    const first = new FakePublisher(['ws://a']);
    const maker = outbox(first);
    maker.sendMessage(getPublicKey(user), req('released'));
    await maker.flush();
    const earlier = first.calls[0]!.event;
    const log: string[] = [];
    ob.sendMessage(getPublicKey(user), req('released'), { notice: notice(pub, log, 2, earlier).n });
    await ob.flush();
    assert.deepEqual(log, ['done 2']);
    assert.deepEqual(pub.calls.map((c) => c.event), [earlier]);
  });

  void test('no relay accepts it through every retry, or its event cannot be recorded: released (kept stored), never done', async () => {
    const pub = new FakePublisher(['ws://a'], (url) => ({ url, ok: false, message: 'blocked' }));
    const ob = outbox(pub, new FakeClock(), { messageRetry: { attempts: 2 } });
    const to = getPublicKey(generateSecretKey());
    const log: string[] = [];
    ob.sendMessage(to, req('released'), { notice: notice(pub, log, 3).n });
    await ob.flush();
    assert.deepEqual(log, ['wrapped 3 after 0 publishes', 'released 3']);
    assert.equal(pub.calls.length, 2);

    const ok = new FakePublisher(['ws://a']);
    const ob2 = outbox(ok);
    const log2: string[] = [];
    ob2.sendMessage(to, req('released'), { notice: notice(ok, log2, 4, null, true).n });
    ob2.sendMessage(to, req('rate'));
    await ob2.flush();
    assert.deepEqual(log2, ['wrapped 4 after 0 publishes', 'released 4']);
    assert.equal(ok.calls.length, 1, 'only the other message left; the unrecorded event never did');
  });
});
