/**
 * The intake's crypto lanes: a known active trade key's request (kind 14) never waits behind
 * unverified first-contact traffic, and each lane is bounded with a counted shed verdict. Real
 * crypto on the event-loop thread, real SQLite; no timing: the order in which verdicts resolve.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { ActiveKeys } from '../../../src/nostr/active-keys.js';
import { buildDirectRequest } from '../../../src/nostr/direct-message.js';
import { wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { Intake, type CryptoLane, type IntakeLimits } from '../../../src/nostr/intake.js';
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

async function setup(limits: Partial<IntakeLimits>, onLaneWait?: (lane: CryptoLane, seconds: number) => void) {
  const db = await testDb();
  dbs.push(db);
  const settings = testSettings({ mostro: { transport: 'both' } });
  const clock = new FakeClock(NOW);
  const known = new ActiveKeys(db, [nodePk]);
  await known.reload();
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings,
    clock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox: new MemoryOutbox(node, clock),
    knownSenders: known,
    transports: new TransportRegistry(db, settings, logger),
    dispatch: async () => {},
    limits,
    ...(onLaneWait !== undefined ? { onLaneWait } : {}),
  });
  return { intake, known };
}

/** A gift wrap with a valid PoW-less id whose signature is wrong: first contact, fails at the signature. */
function forged(i: number) {
  const w = wrapRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: BigInt(i) }), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
  return { ...w, sig: 'ab'.repeat(64) };
}

void describe('intake lanes', () => {
  void test('a known trade key’s kind 14 is opened before 30 first-contact events queued ahead of it', async () => {
    const { intake, known } = await setup({ cryptoBatch: 1 });
    const trade = generateSecretKey();
    known.add(getPublicKey(trade));
    const finished: string[] = [];
    const junk = Array.from({ length: 30 }, (_, i) => intake.handle(forged(i)).then((v) => finished.push(`junk ${v.ok ? 'ok' : v.reason}`)));
    const mine = intake
      .handle(buildDirectRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 99n }), tradeSk: trade, recipient: nodePk, now: NOW }))
      .then((v) => finished.push(`known ${v.ok ? 'ok' : v.reason}`));
    await Promise.all([...junk, mine]);
    assert.equal(finished.length, 31);
    assert.equal(finished[0], 'known ok', `first verdict: ${finished.slice(0, 3).join(', ')}`);
    assert.ok(finished.slice(1).every((f) => f === 'junk signature'));
  });

  void test('each lane is bounded: first-contact overflow is shed and counted, the priority lane still admits', async () => {
    const { intake, known } = await setup({ maxPendingCrypto: 5 });
    const trade = generateSecretKey();
    known.add(getPublicKey(trade));
    const junk = Array.from({ length: 12 }, (_, i) => intake.handle(forged(i)));
    const mine = intake.handle(buildDirectRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 1n }), tradeSk: trade, recipient: nodePk, now: NOW }));
    const verdicts = await Promise.all(junk);
    assert.equal(verdicts.filter((v) => !v.ok && v.reason === 'overloaded').length, 7);
    assert.equal(verdicts.filter((v) => !v.ok && v.reason === 'signature').length, 5);
    assert.ok((await mine).ok);
    const s = intake.stats();
    assert.deepEqual([s.shedFirstContact, s.shedPriority, s.pendingCrypto, s.inCrypto], [7, 0, 0, 0]);
    assert.deepEqual(intake.counters(), { overloaded: 7, signature: 5, dispatched: 1 });
  });

  void test('every event that enters a lane reports its wait there once: queued ones a positive wait, a free slot 0', async () => {
    const waits: Array<[CryptoLane, number]> = [];
    const { intake, known } = await setup({ cryptoBatch: 1 }, (lane, seconds) => waits.push([lane, seconds]));
    const trade = generateSecretKey();
    known.add(getPublicKey(trade));
    // 10 first-contact events: that lane always queues (slots are handed out on a later turn).
    const junk = await Promise.all(Array.from({ length: 10 }, (_, i) => intake.handle(forged(i))));
    assert.ok(junk.every((v) => !v.ok && v.reason === 'signature'));
    const fc = waits.filter(([l]) => l === 'first-contact').map(([, s]) => s);
    assert.equal(fc.length, 10, 'one report per first-contact event');
    assert.ok(fc.every((s) => s > 0 && s < 60), `positive waits, in seconds: ${fc.join(', ')}`);
    // A known key's kind 14 with nothing ahead starts at once in the priority lane: a wait of 0.
    waits.length = 0;
    const mine = await intake.handle(buildDirectRequest({ message: req('fiat-sent', { id: ORDER_ID, requestId: 7n }), tradeSk: trade, recipient: nodePk, now: NOW }));
    assert.ok(mine.ok);
    assert.deepEqual(waits, [['priority', 0]]);
  });
});
