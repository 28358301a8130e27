/**
 * The intake's crypto scheduling over random interleavings (seeded): lanes, slots, the rounds that
 * refill a pool's freed slots before the answer's handlers run (session 29), shedding, replays and
 * a crypto pool that answers in any order, at any time, or fails a task on every thread; gift
 * wraps and kind 14 (whose authors become known trade keys and take the priority lane) mixed.
 *
 * Invariants, for every schedule:
 *  - every handle() settles with a verdict (none stuck, none thrown);
 *  - the tasks in the executor never exceed the intake's bound (threads × MAX_BATCH);
 *  - afterwards nothing is held: no crypto slot, lane entry, handler slot or queued request;
 *  - a request is dispatched at most once, however many copies arrive, and a copy's verdict is ok
 *    exactly when it was dispatched;
 *  - junk (a bad signature, content that is not for the node, a kind 14 forged in a known key's
 *    name) is never dispatched;
 *  - a valid copy is only refused as a duplicate, as overloaded (shedding), over its author's
 *    allowance (kind 14), or with an error when the pool failed one of its tasks; a request none of whose copies was shed or failed is
 *    dispatched.
 * Real crypto and SQLite; the pool is a pool-shaped executor whose answers a seeded driver
 * releases. SCHEDULE_RUNS / SCHEDULE_SEED widen or replay the search.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { finalizeEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import {
  CryptoPoolError,
  InThreadCrypto,
  MAX_BATCH,
  type CryptoExecutor,
  type CryptoOp,
  type CryptoPoolStats,
  type TaskOf,
} from '../../../src/nostr/crypto-pool.js';
import type { CryptoResults } from '../../../src/nostr/crypto-tasks.js';
import { ActiveKeys } from '../../../src/nostr/active-keys.js';
import { buildDirectRequest } from '../../../src/nostr/direct-message.js';
import { wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { Intake, type Verdict } from '../../../src/nostr/intake.js';
import { TransportRegistry } from '../../../src/nostr/transport-registry.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { testSettings } from '../../support/test-context.js';
import { req } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const RUNS = Number(process.env['SCHEDULE_RUNS'] ?? 40);
const SEED = Number(process.env['SCHEDULE_SEED'] ?? 20_261_206);
const node = generateSecretKey();
const nodePk = getPublicKey(node);
const logger = pino({ level: 'silent' });
const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await closeDatabase(db);
});

/** What the schedules reached, over all runs (asserted at the end: the search covers these paths). */
const reached = new Map<string, number>();
const tally = (k: string): void => void reached.set(k, (reached.get(k) ?? 0) + 1);

/** xorshift32: the schedule's own randomness, from the run's seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x2545f491;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Held {
  task: CryptoTask;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}
type CryptoTask = TaskOf<CryptoOp>;

/**
 * A pool whose tasks wait until the driver answers them (in any order) or fails them (as a task
 * that failed on every thread). Answers are computed on this thread by the reference executor.
 */
class ChaosPool implements CryptoExecutor {
  private readonly inner = new InThreadCrypto({ secretKey: node, pubkey: nodePk });
  held: Held[] = [];
  maxHeld = 0;
  /** Events (by object) one of whose tasks was failed. */
  readonly failedEvents = new Set<unknown>();
  constructor(readonly threads: number) {}

  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    return new Promise<CryptoResults[K]>((resolve, reject) => {
      this.held.push({ task: task as CryptoTask, resolve: resolve as (v: unknown) => void, reject });
      this.maxHeld = Math.max(this.maxHeld, this.intakeTasks());
    });
  }
  /** Held tasks the intake started (the outbox's wraps are not bounded by the intake). */
  intakeTasks(): number {
    return this.held.filter((h) => h.task.op !== 'wrap-message' && h.task.op !== 'direct-message' && h.task.op !== 'sign-event').length;
  }
  answer(i: number): void {
    const [h] = this.held.splice(i, 1);
    if (h === undefined) return;
    this.inner.run(h.task).then(h.resolve, h.reject);
  }
  fail(i: number): void {
    const [h] = this.held.splice(i, 1);
    if (h === undefined) return;
    if ('event' in h.task) this.failedEvents.add(h.task.event);
    h.reject(new CryptoPoolError(`crypto task ${h.task.op} failed on 3 thread(s)`));
  }
  flushNow(): void {}
  stats(): CryptoPoolStats {
    return { threads: this.threads, queued: this.held.length, completed: 0, workerFailures: 0, retried: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Sent {
  /** Request number (valid copies of one request share it), or -1 for junk. */
  request: number;
  raw: unknown;
  verdict?: Verdict;
}

function junk(rnd: () => number): NostrEvent {
  if (rnd() < 0.5) {
    // a real wrap for the node whose signature was broken on the way
    const e = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 0n }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
    return { ...e, sig: e.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
  }
  // validly signed, content not for the node
  const content = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rnd() * 256))).toString('base64');
  return finalizeEvent({ kind: 1059, created_at: NOW, tags: [['p', nodePk]], content }, generateSecretKey());
}

async function runSchedule(seed: number): Promise<void> {
  const rnd = prng(seed);
  const db = await testDb();
  dbs.push(db);
  const settings = testSettings({ mostro: { transport: 'both' } });
  const clock = new FakeClock(NOW);
  const known = new ActiveKeys(db, [nodePk]);
  await known.reload();
  const threads = rnd() < 0.5 ? 1 : 2;
  const pool = new ChaosPool(threads);
  const bound = threads * MAX_BATCH;
  const dispatched = new Map<number, number>();
  const limits = {
    cryptoBatch: rnd() < 0.5 ? 64 : 1 + Math.floor(rnd() * 8),
    ...(rnd() < 0.4 ? { maxPendingCrypto: 4 + Math.floor(rnd() * 12), maxConcurrent: 1 + Math.floor(rnd() * 4), maxQueued: 2 + Math.floor(rnd() * 20) } : {}),
  };
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings,
    clock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox: new MemoryOutbox(node, clock),
    transports: new TransportRegistry(db, settings, logger),
    knownSenders: known,
    dispatch: async (msg) => {
      const n = Number(msg.kind.request_id);
      dispatched.set(n, (dispatched.get(n) ?? 0) + 1);
      // a handler that sometimes takes a turn or two (its commit, its reply)
      for (let i = Math.floor(rnd() * 3); i > 0; i--) await new Promise((r) => setImmediate(r));
    },
    crypto: pool,
    limits: { inlineRoundMs: 1_000, ...limits },
  });

  // Requests: some identities send several (one at a time through the identity lock).
  const identities = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => generateSecretKey());
  // kind-14 trade keys, reused: after its first accepted request a key is known (priority lane)
  const directKeys = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => generateSecretKey());
  const originals: NostrEvent[] = [];
  const sent: Sent[] = [];
  const total = 20 + Math.floor(rnd() * 60);
  const failRate = rnd() < 0.5 ? 0 : 0.1;
  let nextRequest = 1;
  for (let step = 0; sent.length < total || pool.held.length > 0 || sent.some((s) => s.verdict === undefined); step++) {
    assert.ok(step < 20_000, `seed ${seed}: the schedule does not finish (${pool.held.length} tasks held, ${sent.filter((s) => s.verdict === undefined).length} verdicts pending)`);
    const r = rnd();
    if (sent.length < total && r < 0.45) {
      // one event, or a burst (a relay's backlog after a reconnect) that fills the lanes past the bound
      for (let b = rnd() < 0.2 ? 5 + Math.floor(rnd() * 2 * bound) : 1; b > 0 && sent.length < total; b--) {
        let s: Sent;
        const k = rnd();
        if (k < 0.15 && originals.length > 0) {
          const o = originals[Math.floor(rnd() * originals.length)]!;
          // the same wrap again (another relay's copy: a new object)
          s = { request: sent.find((x) => x.raw === o)!.request, raw: JSON.parse(JSON.stringify(o)) as unknown };
        } else if (k < 0.3) {
          s = { request: -1, raw: junk(rnd) };
        } else if (k < 0.35) {
          // a kind 14 in a (possibly known) trade key's name with a broken signature
          const e = buildDirectRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 0n }), tradeSk: directKeys[Math.floor(rnd() * directKeys.length)]!, recipient: nodePk, now: NOW });
          s = { request: -1, raw: { ...e, sig: e.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) } };
        } else if (k < 0.6) {
          const n = nextRequest++;
          const tradeSk = directKeys[Math.floor(rnd() * directKeys.length)]!;
          const identitySk = rnd() < 0.5 ? identities[Math.floor(rnd() * identities.length)]! : undefined;
          const e = buildDirectRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: BigInt(n) }), tradeSk, ...(identitySk !== undefined ? { identitySk } : {}), recipient: nodePk, now: NOW });
          originals.push(e);
          s = { request: n, raw: e };
        } else {
          const n = nextRequest++;
          const tradeSk = generateSecretKey();
          const identitySk = rnd() < 0.5 ? identities[Math.floor(rnd() * identities.length)]! : undefined;
          const e = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: BigInt(n) }), tradeSk, ...(identitySk !== undefined ? { identitySk } : {}), recipient: nodePk, now: NOW });
          originals.push(e);
          s = { request: n, raw: e };
        }
        sent.push(s);
        void intake.handle(s.raw).then((v) => {
          s.verdict = v;
        });
      }
    } else if (r < 0.75 && pool.held.length > 0) {
      // answer a random handful, in random order
      for (let m = 1 + Math.floor(rnd() * Math.min(pool.held.length, 2 * MAX_BATCH)); m > 0 && pool.held.length > 0; m--) {
        const i = Math.floor(rnd() * pool.held.length);
        if (rnd() < failRate && 'event' in pool.held[i]!.task) pool.fail(i);
        else pool.answer(i);
      }
    } else if (r < 0.9) {
      await Promise.resolve(); // a microtask
    } else {
      await new Promise((res) => setImmediate(res)); // a turn
    }
    assert.ok(intake.stats().inCrypto <= bound, `seed ${seed}: ${intake.stats().inCrypto} crypto slots taken, bound ${bound}`);
  }
  await intake.idle();

  assert.ok(pool.maxHeld <= bound, `seed ${seed}: ${pool.maxHeld} intake tasks in the pool at once, bound ${bound}`);
  const st = intake.stats();
  assert.deepEqual(
    { inCrypto: st.inCrypto, pendingCrypto: st.pendingCrypto, active: st.active, queued: st.queued },
    { inCrypto: 0, pendingCrypto: 0, active: 0, queued: 0 },
    `seed ${seed}: something is still held`,
  );
  for (const [n, times] of dispatched) assert.equal(times, 1, `seed ${seed}: request ${n} dispatched ${times} times`);
  const byRequest = new Map<number, Sent[]>();
  for (const s of sent) {
    const v = s.verdict!;
    tally(`${(s.raw as NostrEvent).kind === 14 ? 'v2' : 'v1'}:${s.request === -1 ? 'junk' : 'valid'}:${v.ok ? 'ok' : v.reason}`);
    if (s.request === -1) {
      assert.equal(v.ok, false, `seed ${seed}: junk dispatched`);
      continue;
    }
    byRequest.set(s.request, [...(byRequest.get(s.request) ?? []), s]);
    if (!v.ok) {
      const direct = (s.raw as NostrEvent).kind === 14;
      const allowed = ['duplicate', 'overloaded', ...(direct ? ['author-rate'] : []), ...(pool.failedEvents.has(s.raw) ? ['error'] : [])];
      assert.ok(allowed.includes(v.reason), `seed ${seed}: a valid copy of request ${s.request} refused as ${v.reason} (${v.detail ?? ''})`);
    }
  }
  for (const [n, copies] of byRequest) {
    const oks = copies.filter((c) => c.verdict!.ok).length;
    assert.equal(oks, dispatched.get(n) ?? 0, `seed ${seed}: request ${n}: ${oks} ok verdicts, ${dispatched.get(n) ?? 0} dispatches`);
    const refusedForCause = copies.some((c) => !c.verdict!.ok && c.verdict!.reason !== 'duplicate');
    if (!refusedForCause) assert.equal(dispatched.get(n), 1, `seed ${seed}: request ${n} was never shed nor failed, yet not dispatched`);
  }
}

void test(`intake scheduling invariants over ${RUNS} random interleavings (seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
      await runSchedule(seed);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  const seen = (k: string): number => reached.get(k) ?? 0;
  for (const k of ['v1:valid:ok', 'v2:valid:ok', 'v1:valid:duplicate', 'v1:valid:overloaded', 'v1:valid:error', 'v1:junk:signature', 'v1:junk:unwrap', 'v2:junk:signature', 'v2:valid:author-rate']) {
    assert.ok(seen(k) > 0, `the schedules never reached ${k}: ${JSON.stringify(Object.fromEntries(reached))}`);
  }
});
