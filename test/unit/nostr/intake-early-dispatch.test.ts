/**
 * With a crypto pool, the slots a pool answer frees are refilled, and the new tasks handed to the
 * pool (flushNow), before that answer's handlers run: the threads get their next batch first,
 * instead of idling for the length of those handlers (docs/PERFORMANCE.md, session 29). Real
 * crypto (on this thread, behind a pool-shaped executor that holds its answers until released),
 * real SQLite; no timing: the order of what happened.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { InThreadCrypto, MAX_BATCH, type CryptoExecutor, type CryptoOp, type CryptoPoolStats, type TaskOf } from '../../../src/nostr/crypto-pool.js';
import type { CryptoResults } from '../../../src/nostr/crypto-tasks.js';
import { wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { Intake } from '../../../src/nostr/intake.js';
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

/**
 * One "thread": a task is only recorded when handed over (as a pool's run() only queues it); it
 * runs, here, at release(), and all answers come back together, as a pool batch's do.
 */
class HeldPool implements CryptoExecutor {
  readonly threads = 1;
  private readonly inner = new InThreadCrypto({ secretKey: node, pubkey: nodePk });
  private held: Array<() => void> = [];
  /** `inline`: the task's crypto runs in run() itself (as AdaptiveCrypto's on an idle loop). */
  constructor(
    private readonly log: string[],
    private readonly inline = false,
  ) {}

  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    this.log.push('task');
    if (this.inline) {
      const answer = this.inner.run(task);
      return new Promise<CryptoResults[K]>((resolve, reject) => this.held.push(() => void answer.then(resolve, reject)));
    }
    return new Promise<CryptoResults[K]>((resolve, reject) => this.held.push(() => void this.inner.run(task).then(resolve, reject)));
  }
  flushNow(): void {
    this.log.push('flush');
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
    return { threads: 1, queued: 0, completed: 0, workerFailures: 0, retried: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function setup(inline: boolean) {
  const db = await testDb();
  dbs.push(db);
  const settings = testSettings();
  const clock = new FakeClock(NOW);
  const log: string[] = [];
  const pool = new HeldPool(log, inline);
  const counter = { handled: 0 };
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings,
    clock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox: new MemoryOutbox(node, clock),
    transports: new TransportRegistry(db, settings, logger),
    dispatch: () => {
      log.push('handler');
      counter.handled++;
      return Promise.resolve();
    },
    crypto: pool,
    // Without inline crypto a round takes microseconds; a generous bound keeps a preempted round
    // (a busy test machine) from counting as one that ran crypto here.
    ...(inline ? {} : { limits: { inlineRoundMs: 250 } }),
  });
  const verdicts = Array.from({ length: 3 * MAX_BATCH }, (_, i) =>
    intake.handle(wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: BigInt(i + 1) }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW })),
  );
  for (let i = 0; i < 50 && pool.holding < MAX_BATCH; i++) await turn();
  assert.equal(pool.holding, MAX_BATCH, 'one batch worth of first-contact tasks in flight');
  /** Answers the held batch; resolves with what happened until its handlers all ran. */
  const answer = async (): Promise<string[]> => {
    log.length = 0;
    const want = counter.handled + MAX_BATCH;
    pool.release();
    for (let i = 0; i < 50 && counter.handled < want; i++) await turn();
    assert.equal(counter.handled, want);
    return [...log];
  };
  return { pool, verdicts, answer };
}

const beforeFirstHandler = (log: string[]): string[] => log.slice(0, log.indexOf('handler'));

void describe('intake with a crypto pool', () => {
  void test('an answer’s freed slots go back to the pool before that answer’s handlers run', async () => {
    const { pool, verdicts, answer } = await setup(false);
    for (let round = 1; round <= 2; round++) {
      const log = await answer();
      assert.deepEqual(beforeFirstHandler(log), [...Array<string>(MAX_BATCH).fill('task'), 'flush'], `round ${round}: ${log.join(' ')}`);
      assert.equal(pool.holding, MAX_BATCH);
    }
    assert.deepEqual(beforeFirstHandler(await answer()), [], 'nothing left to hand over');
    assert.ok((await Promise.all(verdicts)).every((v) => v.ok));
  });

  void test('a round that ran crypto on this thread lets the turn end (handlers, I/O) before the next round', async () => {
    const { pool, verdicts, answer } = await setup(true);
    const log = await answer();
    assert.deepEqual(beforeFirstHandler(log), [], `the next round waits for the next turn: ${log.join(' ')}`);
    for (let round = 2; round <= 3; round++) {
      for (let i = 0; i < 50 && pool.holding < MAX_BATCH; i++) await turn();
      assert.equal(pool.holding, MAX_BATCH, `round ${round}`);
      await answer();
    }
    assert.ok((await Promise.all(verdicts)).every((v) => v.ok));
  });
});
