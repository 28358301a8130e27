import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { Inbound } from '../../../src/app/inbound.js';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { verifyEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { AdaptiveCrypto, BATCHES_PER_THREAD, InlinePolicy, InThreadCrypto, inlineFromEnv, MAX_BATCH, WorkerCrypto, type CryptoExecutor } from '../../../src/nostr/crypto-pool.js';
import type { CryptoTask } from '../../../src/nostr/crypto-tasks.js';
import { buildDirectRequest, openDirectMessage } from '../../../src/nostr/direct-message.js';
import { unwrapGiftWrap, wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { Intake } from '../../../src/nostr/intake.js';
import type { Publisher } from '../../../src/nostr/relay-outbox.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import type { PublishResult } from '../../../src/nostr/relay-pool.js';
import { parseMessageText } from '../../../src/protocol/parse.js';
import type { Message } from '../../../src/protocol/types.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { testSettings } from '../../support/test-context.js';
import { req } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const nodeSk = generateSecretKey();
const keys = { secretKey: nodeSk, pubkey: getPublicKey(nodeSk) };
const logger = pino({ level: 'silent' });
const FRESH = { now: NOW, pastSeconds: 10, futureSeconds: 300 };

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
});

/** The node's plaintext of a kind-14 request (what verify-event hands the priority lane). */
function openedContent(event: NostrEvent): string {
  const o = openDirectMessage(event, nodeSk);
  if (!o.ok) throw new Error(o.error);
  return o.plaintext;
}

function workerPool(threads: number, extra: { workerFile?: URL; workerData?: Record<string, unknown> } = {}): WorkerCrypto {
  const pool = new WorkerCrypto({ threads, keys, logger, ...extra });
  closers.push(() => pool.close());
  return pool;
}

/** Messages of the wire vectors (every 12th canonical line and every captured live message). */
function vectorMessages(): Message[] {
  const dir = new URL('../protocol/fixtures/', import.meta.url);
  const canonical = readFileSync(new URL('serde-canonical.jsonl', dir), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const live = readFileSync(new URL('captured-live.jsonl', dir), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      const rec = JSON.parse(l) as { rumor_content?: string; message?: unknown };
      if (rec.message !== undefined) return [JSON.stringify(rec.message)];
      return [];
    });
  const texts = [...canonical.filter((_, i) => i % 12 === 0), ...live];
  const out: Message[] = [];
  for (const t of texts) {
    try {
      out.push(parseMessageText(t));
    } catch {
      // not a Message this port parses (the vectors test covers those); nothing to compare
    }
  }
  return out;
}

/** Requests over the vectors: reputation mode, full privacy, and the ways one can be refused. */
function requests(messages: Message[]): Array<{ name: string; event: unknown }> {
  const out: Array<{ name: string; event: unknown }> = [];
  messages.forEach((message, i) => {
    const tradeSk = generateSecretKey();
    const identitySk = i % 3 === 0 ? tradeSk : generateSecretKey();
    out.push({ name: `vector ${i}`, event: wrapRequest({ message, tradeSk, identitySk, recipient: keys.pubkey, now: NOW }) });
  });
  const m = req('take-sell', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 7n, tradeIndex: 3n });
  const good = wrapRequest({ message: m, tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: keys.pubkey, now: NOW });
  out.push({ name: 'bad outer signature', event: { ...good, sig: good.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) } });
  out.push({ name: 'not an event', event: { kind: 1059, content: 'x' } });
  out.push({ name: 'for another node', event: wrapRequest({ message: m, tradeSk: generateSecretKey(), recipient: getPublicKey(generateSecretKey()), now: NOW }) });
  out.push({ name: 'stale rumor', event: wrapRequest({ message: m, tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: keys.pubkey, now: NOW, rumorCreatedAt: NOW - 60 }) });
  out.push({ name: 'wrong tuple signature', event: wrapRequest({ message: m, tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: keys.pubkey, now: NOW, signature: 'ab'.repeat(64) }) });
  out.push({ name: 'unparsable rumor', event: wrapRequest({ message: m, tradeSk: generateSecretKey(), recipient: keys.pubkey, now: NOW, rawContent: '[{"order":{}}]' }) });
  return out;
}

async function outcomes(ex: CryptoExecutor, tasks: CryptoTask[]): Promise<unknown[]> {
  return Promise.all(tasks.map((t) => ex.run(t)));
}

void describe('crypto pool: the same results as the in-thread path', () => {
  const messages = vectorMessages();
  const reqs = requests(messages);

  void test(`open-gift-wrap and verify-event over ${reqs.length} requests built from the wire vectors`, async () => {
    assert.ok(messages.length >= 250, `${messages.length} vector messages`);
    const inThread = new InThreadCrypto(keys);
    const pool = workerPool(2);
    const tasks: CryptoTask[] = reqs.flatMap(({ event }) => [
      { op: 'verify-event', event },
      { op: 'open-gift-wrap', event, ...FRESH },
      { op: 'open-gift-wrap', event, verified: true, ...FRESH },
    ]);
    const expected = await outcomes(inThread, tasks);
    const actual = await outcomes(pool, tasks);
    assert.deepEqual(actual, expected);
    // The comparison is not vacuous: most vectors open, and every refusal kind is represented.
    const opened = expected.filter((o) => (o as { verdict?: { ok: boolean } }).verdict?.ok === true).length;
    assert.ok(opened >= messages.length * 0.9, `${opened} opened`);
    const reasons = new Set(expected.map((o) => (o as { verdict?: { ok: boolean; reason?: string } }).verdict).filter((v) => v !== undefined && !v.ok).map((v) => v!.reason));
    for (const r of ['signature', 'unwrap', 'stale', 'tuple-signature', 'parse']) assert.ok(reasons.has(r), `reason ${r} seen`);
    assert.equal(pool.stats().completed, tasks.length);
    // Handed over in one turn, the tasks went in batches (at most MAX_BATCH each), not one by one.
    const batches = pool.stats().batches ?? 0;
    assert.ok(batches >= Math.ceil(tasks.length / MAX_BATCH) && batches < tasks.length / 4, `${batches} batches for ${tasks.length} tasks`);
  });

  void test('open-direct (protocol v2): same verdicts, known and first-contact authors', async () => {
    const inThread = new InThreadCrypto(keys);
    const pool = workerPool(1);
    const tasks: CryptoTask[] = messages.slice(0, 60).flatMap((message, i) => {
      const tradeSk = generateSecretKey();
      const event = buildDirectRequest({ message, tradeSk, identitySk: i % 2 === 0 ? tradeSk : generateSecretKey(), recipient: keys.pubkey, now: NOW });
      return [
        { op: 'open-direct', event, knownAuthor: true, firstContactPow: 8, ...FRESH },
        { op: 'open-direct', event, knownAuthor: false, firstContactPow: 8, ...FRESH },
        { op: 'open-direct', event, knownAuthor: false, firstContactPow: 0, ...FRESH },
        // authenticated by verify-event before: its decrypted content is handed over
        { op: 'open-direct', event, plaintext: openedContent(event), knownAuthor: false, firstContactPow: 0, ...FRESH },
      ] satisfies CryptoTask[];
    });
    assert.deepEqual(await outcomes(pool, tasks), await outcomes(inThread, tasks));
  });

  void test('wrap-message and sign-event: the recipient reads the same bytes; ids and signatures check', async () => {
    const inThread = new InThreadCrypto(keys);
    const pool = workerPool(2);
    for (const message of messages.slice(0, 80)) {
      const recipientSk = generateSecretKey();
      const task: CryptoTask = { op: 'wrap-message', message, recipient: getPublicKey(recipientSk), now: NOW, pow: 0 };
      const [a, b] = await Promise.all([inThread.run(task), pool.run(task)]);
      // Wraps are randomized (ephemeral key, NIP-44 nonce, timestamp blur): compare what the
      // recipient reads.
      const ua = unwrapGiftWrap(a, recipientSk);
      const ub = unwrapGiftWrap(b, recipientSk);
      assert.ok(ua.ok && ub.ok);
      assert.equal(ub.gift.rumor.content, ua.gift.rumor.content);
      assert.equal(ub.gift.identity, keys.pubkey);
      assert.deepEqual(b.tags, a.tags);
    }
    const template: CryptoTask = { op: 'sign-event', kind: 38383, tags: [['d', 'x'], ['s', 'pending']], content: '', created_at: NOW };
    const [ea, eb] = await Promise.all([inThread.run(template), pool.run(template)]);
    assert.equal(eb.id, ea.id, 'same event id');
    assert.equal(eb.pubkey, keys.pubkey);
    assert.ok(verifyEvent(eb) && verifyEvent(ea));
  });

  void test('in a batch, a task that fails by itself rejects alone; the others get their results', async () => {
    const pool = workerPool(1);
    const recipientSk = generateSecretKey();
    const good: CryptoTask = { op: 'wrap-message', message: req('fiat-sent'), recipient: getPublicKey(recipientSk), now: NOW, pow: 0 };
    const bad: CryptoTask = { op: 'wrap-message', message: req('fiat-sent'), recipient: 'not a key', now: NOW, pow: 0 };
    const results = await Promise.allSettled([good, bad, good, bad, good].map((t) => pool.run(t)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    for (const r of results) {
      if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'CryptoTaskError');
      else assert.ok(unwrapGiftWrap(r.value, recipientSk).ok);
    }
    assert.equal(pool.stats().batches, 1, 'the five went as one batch');
    assert.deepEqual([pool.stats().workerFailures, pool.stats().retried], [0, 0]);
  });

  void test('batches leave as a thread can take them: two per thread at most, formed from what waited', async () => {
    assert.equal(BATCHES_PER_THREAD, 2);
    const pool = workerPool(1);
    const recipients = Array.from({ length: 10 }, () => generateSecretKey());
    // PoW 12 makes each wrap take milliseconds, so the first two are still running while the
    // other eight are submitted, one per event-loop turn (as replies are, under load).
    const wrap = (sk: Uint8Array): Promise<NostrEvent> =>
      pool.run({ op: 'wrap-message', message: req('fiat-sent'), recipient: getPublicKey(sk), now: NOW, pow: 12 });
    const runs: Array<Promise<NostrEvent>> = [];
    for (const sk of recipients) {
      runs.push(wrap(sk));
      await new Promise((r) => setImmediate(r));
    }
    const mid = pool.stats();
    assert.equal(mid.batchesInFlight, 2, 'two batches handed over, no more');
    assert.equal(mid.queued, 8, 'the other eight wait in the pool');
    const wraps = await Promise.all(runs);
    wraps.forEach((w, i) => assert.ok(unwrapGiftWrap(w, recipients[i]!).ok, `wrap ${i} readable by its recipient`));
    const end = pool.stats();
    // One by one, the ten would have gone as ten messages; the eight that waited left together
    // (or in two batches if the first answer came back before the last submission).
    assert.ok((end.batches ?? 0) <= 4, `${end.batches} batches`);
    assert.deepEqual([end.batchesInFlight, end.queued, end.completed], [0, 0, 10]);
  });

  void test('close: tasks waiting for a batch slot still finish', async () => {
    const pool = new WorkerCrypto({ threads: 1, keys, logger });
    const recipients = Array.from({ length: 40 }, () => generateSecretKey());
    const runs = recipients.map((sk) => pool.run({ op: 'wrap-message', message: req('fiat-sent'), recipient: getPublicKey(sk), now: NOW, pow: 0 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(pool.stats().queued, 8, 'two batches of 16 on the thread, 8 tasks wait');
    await pool.close();
    const wraps = await Promise.all(runs);
    wraps.forEach((w, i) => assert.ok(unwrapGiftWrap(w, recipients[i]!).ok, `wrap ${i} readable by its recipient`));
    assert.equal(pool.stats().completed, 40);
  });

  void test('a task that fails by itself rejects on both paths (and is not retried)', async () => {
    const bad: CryptoTask = { op: 'wrap-message', message: req('fiat-sent'), recipient: 'not a key', now: NOW, pow: 0 };
    const pool = workerPool(1);
    await assert.rejects(new InThreadCrypto(keys).run(bad), { name: 'CryptoTaskError' });
    await assert.rejects(pool.run(bad), { name: 'CryptoTaskError' });
    assert.deepEqual([pool.stats().workerFailures, pool.stats().retried], [0, 0]);
  });
});

void describe('crypto pool: a worker that dies mid-task', () => {
  const dbs: Db[] = [];
  after(async () => {
    for (const db of dbs) await closeDatabase(db);
  });

  function crashingPool(): WorkerCrypto {
    return workerPool(1, {
      workerFile: new URL('../../support/crashing-crypto-worker.ts', import.meta.url),
      workerData: { crashOnce: new Int32Array(new SharedArrayBuffer(4)) },
    });
  }

  void test('intake: the thread is replaced, the request is dispatched exactly once', async () => {
    const pool = crashingPool();
    const db = await testDb();
    dbs.push(db);
    const clock = new FakeClock(NOW);
    const dispatched: Array<{ message: Message; inbound: Inbound }> = [];
    const intake = new Intake({
      crypto: pool,
      keys,
      settings: testSettings(),
      clock,
      logger,
      tradeIndexStore: dbTradeIndexStore(db),
      outbox: new MemoryOutbox(nodeSk, clock),
      dispatch: async (message, inbound) => {
        dispatched.push({ message, inbound });
      },
    });
    const tradeSk = generateSecretKey();
    const first = wrapRequest({ message: req('take-sell', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 1n, tradeIndex: 1n }), tradeSk, identitySk: generateSecretKey(), recipient: keys.pubkey, now: NOW });
    const v = await intake.handle(first);
    assert.ok(v.ok, v.ok ? "" : `${v.reason}: ${v.detail ?? ""}`);
    assert.equal(dispatched.length, 1, 'dispatched once');
    assert.equal(dispatched[0]!.inbound.eventId, first.id);
    assert.deepEqual([pool.stats().workerFailures, pool.stats().retried], [1, 1], 'one thread died, its task ran again');
    // The same event again (another relay): a duplicate, not a second dispatch.
    assert.deepEqual(await intake.handle(first), { ok: false, reason: 'duplicate' });
    // The replacement thread serves the next request.
    const second = wrapRequest({ message: req('fiat-sent', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 2n }), tradeSk: generateSecretKey(), recipient: keys.pubkey, now: NOW });
    assert.ok((await intake.handle(second)).ok);
    assert.equal(dispatched.length, 2);
    assert.deepEqual(intake.counters(), { dispatched: 2, duplicate: 1 });
  });

  void test('two batches on a thread that dies: both run again, each task answered once', async () => {
    const pool = crashingPool();
    const recipients = Array.from({ length: 40 }, () => generateSecretKey());
    const runs = recipients.map((sk) => pool.run({ op: 'wrap-message', message: req('fiat-sent'), recipient: getPublicKey(sk), now: NOW, pow: 0 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(pool.stats().batchesInFlight, 2, 'two batches of 16 on the thread; 8 tasks wait');
    const wraps = await Promise.all(runs);
    wraps.forEach((w, i) => assert.ok(unwrapGiftWrap(w, recipients[i]!).ok, `wrap ${i} readable by its recipient`));
    const s = pool.stats();
    // The thread died under the first batch: both it and the one queued behind it ran again.
    assert.deepEqual([s.workerFailures, s.retried, s.batches, s.completed, s.batchesInFlight], [2, 32, 3, 40, 0]);
  });

  void test('outbox: a reply whose wrap thread died is sent once, readable by its recipient', async () => {
    const pool = crashingPool();
    const sent: NostrEvent[] = [];
    const publisher: Publisher = {
      urls: () => ['ws://relay.test'],
      publish: (event: NostrEvent): Promise<PublishResult[]> => {
        sent.push(event);
        return Promise.resolve([{ url: 'ws://relay.test', ok: true, message: '' }]);
      },
    };
    const outbox = new RelayOutbox({ crypto: pool, pool: publisher, keys, clock: new FakeClock(NOW), logger, sleep: async () => {} });
    const recipientSk = generateSecretKey();
    const m = req('fiat-sent-ok', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 9n });
    outbox.sendMessage(getPublicKey(recipientSk), m);
    outbox.sendMessage(getPublicKey(recipientSk), req('released', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 10n }));
    await outbox.flush();
    assert.equal(sent.length, 2, 'each message once');
    const actions = sent.map((e) => {
      const u = unwrapGiftWrap(e, recipientSk);
      assert.ok(u.ok);
      return (JSON.parse(u.gift.rumor.content) as [{ order: { action: string } }, null])[0].order.action;
    });
    assert.deepEqual(actions, ['fiat-sent-ok', 'released'], 'in enqueue order');
    // Both wraps were handed over in one turn: one batch, which died and ran again as a whole.
    assert.deepEqual([pool.stats().workerFailures, pool.stats().retried, pool.stats().batches], [1, 2, 1]);
  });
});

void describe('adaptive executor: inline while the event loop is idle, the pool when it is busy', () => {
  /** A policy on a hand-driven clock, whose utilization readings come from `loads` in turn. */
  function driven(loads: number[], inlineShare = 0.3): { policy: InlinePolicy; at: { t: number }; reads: () => number } {
    const at = { t: 0 };
    let reads = 0;
    const policy = new InlinePolicy({ windowMs: 100, busyAbove: 0.6, idleBelow: 0.35, inlineShare, smoothing: 1, cryptoAbove: 0, cryptoBelow: 0, now: () => at.t, utilization: () => loads[reads++] ?? 0 });
    return { policy, at, reads: () => reads };
  }

  void test('policy: hysteresis between the thresholds, a per-window inline budget, never inline past a pool task', () => {
    const { policy, at, reads } = driven([0.2, 0.7, 0.5, 0.4, 0.3, 0.9]);
    assert.equal(policy.inline(0), true, 'starts inline');
    assert.equal(policy.inline(1), false, 'a task is in the pool: the next one follows it there');
    policy.spent(29);
    assert.equal(policy.inline(0), true, '29 of 30 ms spent');
    policy.spent(1);
    assert.equal(policy.inline(0), false, 'the window\'s inline budget (30 % of 100 ms) is spent: overflow to the pool');
    assert.equal(reads(), 0, 'no utilization read inside a window');
    // The two tasks sent to the pool count as inline work in the mode's utilization, at the estimate
    // when each was sent: 0.5 ms (the guess), then 0.51 (the 29 ms sample counts as twice the
    // estimate and pushes it up at weight 0.01: 0.5 + 0.01 × 0.5 = 0.505; the 1 ms one likewise).
    at.t = 1_000;
    assert.equal(policy.inline(0), true, 'a long window at 0.2 (+ 1.0 ms of 1,000): inline again, budget reset');
    at.t = 1_100;
    assert.equal(policy.inline(0), false, '0.7 > busyAbove: pool');
    assert.equal(policy.current, 'pool');
    at.t = 1_200;
    assert.equal(policy.inline(0), false, '0.5 (+ 1 pool task × 0.51 ms of 100 ms) is between the thresholds: stays in the pool');
    at.t = 1_300;
    assert.equal(policy.inline(0), false, '0.4 + 0.005: still above idleBelow');
    at.t = 1_400;
    assert.equal(policy.inline(0), true, '0.3 + 0.005 < idleBelow: back inline');
    at.t = 1_550;
    assert.equal(policy.inline(0), false, '0.9: pool');
    assert.equal(reads(), 6);
    assert.deepEqual({ mode: policy.stats().mode, modeSwitches: policy.stats().modeSwitches }, { mode: 'pool', modeSwitches: 3 }, 'reported on /metrics');
  });

  void test('policy: the pool\'s tasks count as the inline work they would be — a loop busy with other things comes back inline, one busy with crypto stays on the pool', () => {
    const at = { t: 0 };
    const loads = [0.9, 0.5];
    let reads = 0;
    const policy = new InlinePolicy({ windowMs: 100, busyAbove: 0.8, idleBelow: 0.65, smoothing: 1, cryptoAbove: 0, cryptoBelow: 0, now: () => at.t, utilization: () => loads[reads++] ?? 0 });
    for (let i = 0; i < 10; i++) policy.spent(2); // the estimate: each 2 ms sample counts as twice it, pushing it up at 0.01: 0.5 × 1.01^10 ≈ 0.55 ms
    const modes: string[] = [];
    at.t = 100;
    assert.equal(policy.inline(0), false, '0.9 > busyAbove: pool');
    modes.push(policy.current);
    at.t = 200;
    policy.inline(0);
    modes.push(policy.current);
    // Window 2: the loop still 0.5 busy (before: above the old 0.45, so it stayed in the pool), but
    // its one pool task would have cost ≈ 0.55 ms of 100 inline: 0.51 < 0.65 → inline.
    assert.deepEqual(modes, ['pool', 'inline']);

    const busy = new InlinePolicy({ windowMs: 100, busyAbove: 0.8, idleBelow: 0.65, smoothing: 1, cryptoAbove: 0, cryptoBelow: 0, taskMsGuess: 1.5, now: () => at.t, utilization: () => 0.5 });
    const busyModes: string[] = [];
    const base = at.t;
    // Each window read at 0.5, with 40 or 5 tasks that went to the pool (one in flight there: never inline past it).
    for (const [w, tasks] of [[1, 40], [2, 40], [3, 40], [4, 5], [5, 5]] as const) {
      for (let i = 0; i < tasks; i++) busy.inline(1);
      at.t = base + w * 100;
      busy.inline(1);
      busyModes.push(busy.current);
    }
    // windows: 0.5 + 40 × 1.5 / 100 = 1.1 → pool; then 41 tasks a window (1.115) twice: stays; then
    // 0.5 + 6 × 1.5 / 100 = 0.59 < 0.65 → inline; the next window counts 6 pool tasks again (one is
    // in flight, so none runs inline): 0.59 < busyAbove, stays inline.
    assert.deepEqual(busyModes, ['pool', 'pool', 'pool', 'inline', 'inline']);
  });

  void test('policy: the pool only while the crypto is a share of the loop — a loop saturated by other work (a flood\'s onset) stays inline', () => {
    const at = { t: 0 };
    const loads = [0.95, 0.95, 0.95, 0.95, 0.9, 0.9, 0.9];
    let reads = 0;
    const policy = new InlinePolicy({ windowMs: 100, busyAbove: 0.8, idleBelow: 0.7, cryptoAbove: 0.2, cryptoBelow: 0.1, smoothing: 1, cryptoSmoothing: 1, taskMsGuess: 0.3, now: () => at.t, utilization: () => loads[reads++] ?? 0 });
    const modes: string[] = [];
    const window = (w: number, inlineMs: number[], poolTasks: number): void => {
      for (const ms of inlineMs) {
        assert.equal(policy.inline(0), true, `window ${w}: inline`);
        policy.spent(ms);
      }
      for (let i = 0; i < poolTasks; i++) policy.inline(1);
      at.t = w * 100;
      policy.inline(1);
      modes.push(policy.current);
    };
    // Windows 1–2: the loop 0.95 busy reading junk, 3 crypto tasks of 0.3 ms (≈ 0.01 of it): the old
    // rule (utilization alone) went to the pool here; the crypto's share keeps it inline.
    window(1, [0.3, 0.3, 0.3], 0);
    window(2, [0.3, 0.3, 0.3], 0);
    // Windows 3–4: the crypto is the load — 29.1 ms inline (under the 30 ms budget), then tasks go
    // to the pool (each window also counts the task that closed the one before): share (29.1 + 31 ×
    // 0.3) / 100 = 0.38 ≥ 0.2 → pool; then 81 × 0.3 / 100 = 0.24: stays.
    window(3, Array<number>(97).fill(0.3), 30);
    window(4, [], 80);
    // Windows 5–6: the loop still 0.9 busy (above idleBelow), the crypto falling: 41 pool tasks (0.12,
    // above cryptoBelow: stays), then 6 (0.02 < 0.1 → inline).
    window(5, [], 40);
    window(6, [], 5);
    modes.push(String(reads));
    assert.deepEqual(modes, ['inline', 'inline', 'pool', 'pool', 'pool', 'inline', '6']);

    // The share is smoothed slowly (default weight 0.1): the backlog a stalled loop works off in one
    // window (0.6 of it in crypto) does not tip a loop whose crypto is otherwise 0.1; a load whose
    // crypto stays at 0.6 does, within a few windows.
    const slow = { t: 0 };
    const steady = new InlinePolicy({ windowMs: 100, taskMsGuess: 1, now: () => slow.t, utilization: () => 0.95 });
    const slowModes: string[] = [];
    const slowWindow = (w: number, poolTasks: number): void => {
      for (let i = 0; i < poolTasks - 1; i++) steady.inline(1); // the closing call counts one more
      slow.t = w * 100;
      steady.inline(1);
      slowModes.push(steady.current);
    };
    slowWindow(1, 10);
    slowWindow(2, 60);
    for (let w = 3; w <= 6; w++) slowWindow(w, 10);
    for (let w = 7; w <= 12; w++) slowWindow(w, 60);
    // smoothed share: .01 .069 .072 .075 .078 .080 (inline; the old rule: pool from the first
    // window), then .13 .18 .22 .26 (→ pool) .29 .33
    assert.deepEqual(slowModes, [...Array<string>(9).fill('inline'), 'pool', 'pool', 'pool']);
  });

  void test('policy: a task\'s cost is estimated per operation, as on an undisturbed thread (preempted and cold samples barely move it)', () => {
    const at = { t: 0 };
    let reads = 0;
    const loads = [0.9, 0.55];
    const policy = new InlinePolicy({ windowMs: 100, busyAbove: 0.8, idleBelow: 0.7, smoothing: 1, cryptoAbove: 0, cryptoBelow: 0, taskMsGuess: 0.5, now: () => at.t, utilization: () => loads[reads++] ?? 0 });
    // A cold start (20 unwraps of 3 ms: unoptimized code), then a flood's box: every other unwrap
    // preempted, 5 ms instead of 0.25; signatures at 0.05 ms. (Spent outside any window's budget
    // question: only the estimates matter here.)
    for (let i = 0; i < 50; i++) policy.spent(0.05, 'sign-event');
    for (let i = 0; i < 20; i++) policy.spent(3, 'open-gift-wrap');
    for (let i = 0; i < 200; i++) policy.spent(i % 2 === 0 ? 5 : 0.25, 'open-gift-wrap');
    at.t = 100;
    policy.inline(0); // closes the window: 0.9 → pool
    assert.equal(policy.current, 'pool');
    // The pool window: 30 unwraps and 30 signatures (plus the closing call's task at the 0.5 guess)
    // counted at the estimates — unwrap ≈ 0.28 ms (the equilibrium of 0.01 × q = 0.1 × (q − 0.25)),
    // signature ≈ 0.05: 0.55 + (8.4 + 1.5 + 0.5) / 100 ≈ 0.65 → inline. One mean over every sample
    // (before: weight 0.05, each sample at most twice the mean) climbs to ≈ 2.6 ms on such a box
    // (0.5 × 0.25 + 0.5 × 5), and the same window read 0.55 + 61 × 2.6 / 100 > 2: the pool for good.
    for (let i = 0; i < 30; i++) {
      policy.inline(1, 'open-gift-wrap');
      policy.inline(1, 'sign-event');
    }
    at.t = 200;
    policy.inline(1);
    assert.equal(policy.current, 'inline', 'the estimates stayed near the undisturbed costs');
    assert.equal(reads, 2);
  });

  void test('policy: the utilization is smoothed over windows (one busy window alone does not switch)', () => {
    const at = { t: 0 };
    const loads = [0.5, 1, 0.5, 1, 1, 1, 0, 0, 0, 0];
    let reads = 0;
    const policy = new InlinePolicy({ windowMs: 100, busyAbove: 0.8, idleBelow: 0.45, smoothing: 0.5, cryptoAbove: 0, cryptoBelow: 0, now: () => at.t, utilization: () => loads[reads++] ?? 0 });
    const modes: string[] = [];
    for (let i = 1; i <= loads.length; i++) {
      at.t = i * 100;
      policy.inline(0);
      modes.push(policy.current);
    }
    // smoothed: .25 .625 .5625 .78 .89 (→ pool) .95 .47 .24 (→ inline) .12 .06
    assert.deepEqual(modes, ['inline', 'inline', 'inline', 'inline', 'pool', 'pool', 'pool', 'inline', 'inline', 'inline']);
  });

  void test('same results on both paths; each task counted once; inline only while the pool is empty', async () => {
    const pool = workerPool(1);
    const inThread = new InThreadCrypto(keys);
    // utilization read at each new window of the fake clock: busy (→ pool), then idle (→ inline).
    // The inline budget is measured in real time, so it is made unreachable here (10^6 windows):
    // with the whole window (100 ms) a stall of a busy CI box during the first inline task sent
    // the idle window's other tasks to the pool (Node 24 in CI: 1 inline instead of 8).
    const { policy, at } = driven([0.95, 0.1], 1e6);
    const adaptive = new AdaptiveCrypto(new InThreadCrypto(keys), pool, policy);
    const reqs = requests(vectorMessages()).slice(0, 24);
    const tasks: CryptoTask[] = reqs.map(({ event }) => ({ op: 'open-gift-wrap', event, ...FRESH }));
    const expected = await outcomes(inThread, tasks);

    // window 1 (idle): inline
    const first = await outcomes(adaptive, tasks.slice(0, 8));
    assert.deepEqual(first, expected.slice(0, 8));
    assert.equal(adaptive.stats().inline, 8);
    assert.equal(pool.stats().completed, 0, 'nothing went to the pool');

    // window 2 (busy): every task goes to the pool; the last one is left in flight
    at.t = 100;
    const second = await outcomes(adaptive, tasks.slice(8, 16));
    assert.deepEqual(second, expected.slice(8, 16));
    assert.equal(adaptive.stats().inline, 8);
    assert.equal(pool.stats().completed, 8);
    const pending = adaptive.run(tasks[16]!);
    assert.equal(pool.inFlight(), 1);

    // window 3 (idle again: long enough that the 9 tasks sent to the pool add nothing worth
    // counting to its utilization), a task still in the pool: the next one follows it there
    at.t = 10_100;
    const behind = adaptive.run(tasks[17]!);
    assert.equal(adaptive.stats().inline, 8, 'not run inline past a task in the pool');
    assert.deepEqual(await Promise.all([pending, behind]), expected.slice(16, 18));
    assert.equal(pool.inFlight(), 0);
    const rest = await outcomes(adaptive, tasks.slice(18));
    assert.deepEqual(rest, expected.slice(18));
    assert.equal(adaptive.stats().inline, 8 + tasks.length - 18);
    assert.equal(adaptive.stats().completed, tasks.length, 'each task once');
  });

  void test('policy: the loop helps only while its smoothed utilization is below helpBelow', () => {
    const at = { t: 0 };
    const loads = [0.5, 0.9, 0.7];
    let reads = 0;
    const policy = new InlinePolicy({ windowMs: 100, helpBelow: 0.8, smoothing: 1, now: () => at.t, utilization: () => loads[reads++] ?? 0 });
    assert.equal(policy.mayHelp(), true, 'starts idle');
    at.t = 100;
    assert.equal(policy.mayHelp(), true, '0.5');
    at.t = 200;
    assert.equal(policy.mayHelp(), false, '0.9 ≥ 0.8');
    assert.equal(policy.mayHelp(), false, 'the same window');
    at.t = 300;
    assert.equal(policy.mayHelp(), true, '0.7');
    assert.equal(new InlinePolicy({ helpBelow: 0 }).mayHelp(), false, '0 = never');
  });

  void test('MOSTROD_CRYPTO_INLINE: auto, no-help or off; anything else names the variable', () => {
    assert.equal(inlineFromEnv(undefined), 'auto');
    assert.equal(inlineFromEnv('auto'), 'auto');
    assert.equal(inlineFromEnv('no-help'), 'no-help');
    assert.equal(inlineFromEnv('off'), 'off');
    assert.throws(() => inlineFromEnv('yes'), /MOSTROD_CRYPTO_INLINE must be auto, no-help or off/);
  });
});

void describe('the event loop helps a pool whose threads are behind', () => {
  const reqs = requests(vectorMessages()).slice(0, 60);
  const tasks: CryptoTask[] = reqs.map(({ event }) => ({ op: 'open-gift-wrap', event, ...FRESH }));
  const turns = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  // (a helper that never runs would leave the first 8 waiting behind the closed gate: bounded)
  void test('tasks waiting for a batch slot run on the loop while it may help: same results, each once; none while it may not', { timeout: 30_000 }, async () => {
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const pool = workerPool(1, { workerFile: new URL('../../support/gated-crypto-worker.ts', import.meta.url), workerData: { gate } });
    const inThread = new InThreadCrypto(keys);
    const expected = await outcomes(new InThreadCrypto(keys), tasks);
    let may = true;
    pool.setHelper((t) => inThread.reply(t), () => may);

    // 40 tasks, one thread, two batch slots of 16: 8 wait for a slot. The gate holds both batches,
    // so only the loop can answer those 8.
    const first = tasks.slice(0, 40).map((t) => pool.run(t));
    const waiting = Promise.all(first.slice(32));
    assert.deepEqual(await waiting, expected.slice(32, 40), 'the waiting tasks answered by the loop, with the thread\'s results');
    assert.equal(pool.stats().helped, 8);
    assert.equal(pool.stats().batches, 2, 'nothing more went to the thread');

    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    assert.deepEqual(await Promise.all(first), expected.slice(0, 40));
    assert.equal(pool.stats().batches, 2, 'the helped tasks were not sent to the thread as well');

    // A loop that may not help leaves the waiting tasks to the thread.
    Atomics.store(gate, 0, 0);
    may = false;
    const second = tasks.slice(40, 60).map((t) => pool.run(t));
    let settled = 0;
    for (const p of second) void p.then(() => settled++);
    await turns(20);
    assert.equal(settled, 0, 'nothing answered while the thread is held');
    assert.equal(pool.stats().helped, 8, 'no help');
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    assert.deepEqual(await Promise.all(second), expected.slice(40, 60));
    assert.equal(pool.stats().batches, 4, '16 + 4 went to the thread');
  });

  void test('the adaptive executor wires the help (auto) and leaves it out (no-help)', async () => {
    const withHelp = new AdaptiveCrypto(new InThreadCrypto(keys), workerPool(1));
    const without = new AdaptiveCrypto(new InThreadCrypto(keys), workerPool(1), new InlinePolicy(), false);
    assert.equal(withHelp.stats().helped, 0);
    assert.equal(without.stats().helped, undefined);
    await Promise.all([withHelp.close(), without.close()]);
  });
});
