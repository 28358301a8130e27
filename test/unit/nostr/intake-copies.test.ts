/**
 * The same event from several relays: a copy read while another copy's crypto is under way waits
 * for that copy's verification instead of paying for the crypto again (Intake.openOnce). A forged
 * copy read first, or a crypto failure, never costs the real event its turn. Real crypto and
 * SQLite behind a pool-shaped executor that holds its answers until released.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { ActiveKeys } from '../../../src/nostr/active-keys.js';
import { CryptoPoolError, InThreadCrypto, type CryptoExecutor, type CryptoOp, type CryptoPoolStats, type TaskOf } from '../../../src/nostr/crypto-pool.js';
import type { CryptoResults } from '../../../src/nostr/crypto-tasks.js';
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
const node = generateSecretKey();
const nodePk = getPublicKey(node);
const logger = pino({ level: 'silent' });
const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await closeDatabase(db);
});

/** A pool whose answers wait for release(); `failNext` fails the next task handed to it. */
class HeldPool implements CryptoExecutor {
  readonly threads = 1;
  readonly ops: CryptoOp[] = [];
  failNext = false;
  private readonly inner = new InThreadCrypto({ secretKey: node, pubkey: nodePk });
  private held: Array<() => void> = [];
  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    this.ops.push(task.op);
    const fail = this.failNext;
    this.failNext = false;
    return new Promise<CryptoResults[K]>((resolve, reject) =>
      this.held.push(() => (fail ? reject(new CryptoPoolError(`crypto task ${task.op} failed on 3 thread(s)`)) : void this.inner.run(task).then(resolve, reject))),
    );
  }
  get holding(): number {
    return this.held.length;
  }
  release(): void {
    const h = this.held;
    this.held = [];
    for (const f of h) f();
  }
  stats(): CryptoPoolStats {
    return { threads: 1, queued: this.held.length, completed: 0, workerFailures: 0, retried: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function setup() {
  const db = await testDb();
  dbs.push(db);
  const settings = testSettings({ mostro: { transport: 'both' } });
  const clock = new FakeClock(NOW);
  const known = new ActiveKeys(db, [nodePk]);
  await known.reload();
  const pool = new HeldPool();
  const dispatched: bigint[] = [];
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings,
    clock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox: new MemoryOutbox(node, clock),
    transports: new TransportRegistry(db, settings, logger),
    knownSenders: known,
    dispatch: (msg) => {
      dispatched.push(msg.kind.request_id ?? -1n);
      return Promise.resolve();
    },
    crypto: pool,
    limits: { inlineRoundMs: 250 },
  });
  /** Answers whatever the pool holds until every verdict is in. */
  const settle = async (verdicts: Array<Promise<Verdict>>): Promise<Verdict[]> => {
    let done = false;
    const all = Promise.all(verdicts).finally(() => {
      done = true;
    });
    for (let i = 0; i < 200 && !done; i++) {
      pool.release();
      await turn();
    }
    return all;
  };
  return { pool, intake, dispatched, known, settle };
}

/** The copy of `e` another relay hands over: the same JSON, a new object. */
const copy = (e: NostrEvent): NostrEvent => JSON.parse(JSON.stringify(e)) as NostrEvent;
const forge = (e: NostrEvent): NostrEvent => ({ ...copy(e), sig: e.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) });
const reasons = (vs: Verdict[]): string[] => vs.map((v) => (v.ok ? 'ok' : v.reason));

void describe('intake: copies of one event from several relays', () => {
  void test('eight copies read before the first one verified: one crypto task, one dispatch, seven duplicates', async () => {
    const { pool, intake, dispatched, settle } = await setup();
    const e = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 1n }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
    const verdicts = Array.from({ length: 8 }, () => intake.handle(copy(e)));
    for (let i = 0; i < 20 && pool.holding === 0; i++) await turn();
    const got = await settle(verdicts);
    assert.deepEqual(reasons(got).sort(), ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'ok']);
    assert.deepEqual(pool.ops, ['open-gift-wrap'], 'one unwrap for the eight copies');
    assert.deepEqual(dispatched, [1n]);
    assert.equal(intake.stats().inCrypto, 0);
  });

  void test('a forged copy read first does not shadow the real event: it fails, the real one is opened and dispatched', async () => {
    const { pool, intake, dispatched, settle } = await setup();
    const e = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 2n }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
    const verdicts = [intake.handle(forge(e)), intake.handle(copy(e)), intake.handle(copy(e))];
    const got = await settle(verdicts);
    assert.deepEqual(reasons(got), ['signature', 'ok', 'duplicate']);
    assert.deepEqual(pool.ops, ['open-gift-wrap', 'open-gift-wrap'], 'the forgery, then the real one once; the third copy waited');
    assert.deepEqual(dispatched, [2n]);
  });

  void test('a copy whose crypto failed on the threads: the copy that waited for it is opened on its own', async () => {
    const { pool, intake, dispatched, settle } = await setup();
    const e = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 3n }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
    pool.failNext = true;
    const got = await settle([intake.handle(copy(e)), intake.handle(copy(e))]);
    assert.deepEqual(reasons(got), ['error', 'ok']);
    assert.deepEqual(dispatched, [3n]);
  });

  void test('kind 14 from a known trade key (priority lane): copies wait for the first one too', async () => {
    const { pool, intake, dispatched, known, settle } = await setup();
    const tradeSk = generateSecretKey();
    known.add(getPublicKey(tradeSk));
    const e = buildDirectRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 4n }), tradeSk, identitySk: generateSecretKey(), recipient: nodePk, now: NOW });
    const got = await settle([intake.handle(copy(e)), intake.handle(copy(e)), intake.handle(copy(e))]);
    assert.deepEqual(reasons(got).sort(), ['duplicate', 'duplicate', 'ok']);
    assert.deepEqual(pool.ops, ['open-direct']);
    assert.deepEqual(dispatched, [4n]);
  });

  void test('a copy read after the event was processed is dropped before any crypto, as before', async () => {
    const { pool, intake, dispatched, settle } = await setup();
    const e = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 5n }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
    assert.deepEqual(reasons(await settle([intake.handle(copy(e))])), ['ok']);
    assert.deepEqual(reasons(await settle([intake.handle(copy(e))])), ['duplicate']);
    assert.deepEqual(pool.ops, ['open-gift-wrap']);
    assert.deepEqual(dispatched, [5n]);
  });
});
