/**
 * Shedding before decryption: once `maxPendingCrypto` events wait for the crypto gates (or the
 * handler queue is full), new events are dropped as 'overloaded' without a signature check, ECDH
 * or NIP-44 work. The seal-layer conversation-key cache grows by one per distinct sender that was
 * unwrapped, so its size tells how many events were really decrypted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Inbound } from '../../../src/app/inbound.js';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { Intake, type IntakeLimits, type TradeIndexStore } from '../../../src/nostr/intake.js';
import type { Message } from '../../../src/protocol/types.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { testSettings } from '../../support/test-context.js';
import { req } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const node = generateSecretKey();
const nodePk = getPublicKey(node);

const store: TradeIndexStore = {
  lastTradeIndex: () => Promise.resolve(null),
  createUser: () => Promise.resolve(),
};

function setup(limits: Partial<IntakeLimits>, dispatch?: (m: Message, i: Inbound) => Promise<void>) {
  const clock = new FakeClock(NOW);
  const dispatched: Message[] = [];
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings: testSettings(),
    clock,
    logger: pino({ level: 'silent' }),
    tradeIndexStore: store,
    outbox: new MemoryOutbox(node, clock),
    dispatch:
      dispatch ??
      (async (m) => {
        dispatched.push(m);
      }),
    limits,
  });
  return { intake, dispatched };
}

/** A valid request from a fresh identity (so every unwrap adds one seal key to the cache). */
function wrap(): NostrEvent {
  return wrapRequest({ message: req('fiat-sent', { id: ORDER_ID }), tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: nodePk, now: NOW });
}

void describe('intake: shedding before decryption', () => {
  void test('beyond maxPendingCrypto, events are dropped as overloaded before any crypto; the backlog is then served', async () => {
    const { intake, dispatched } = setup({ maxPendingCrypto: 3, cryptoBatch: 2 });
    const events = Array.from({ length: 8 }, wrap);
    const verdicts = events.map((e) => intake.handle(e));
    // handle() did no crypto synchronously: three are queued, nothing decrypted yet
    assert.equal(intake.stats().pendingCrypto, 3);
    assert.equal(intake.stats().sealKeyCache, 0);
    // the shed ones are answered at once (microtasks), still before any decryption
    const shed = await Promise.all(verdicts.slice(3));
    for (const v of shed) assert.deepEqual(v, { ok: false, reason: 'overloaded', detail: 'shed before decryption: crypto backlog' });
    assert.equal(intake.stats().sealKeyCache, 0, 'no seal key derived for a shed event');
    assert.equal(intake.stats().replayCache, 0, 'no signature verified for a shed event');

    const kept = await Promise.all(verdicts.slice(0, 3));
    for (const v of kept) assert.ok(v.ok, JSON.stringify(v));
    assert.equal(dispatched.length, 3);
    assert.equal(intake.stats().sealKeyCache, 3, 'exactly the three queued events were decrypted');
    assert.deepEqual(intake.counters(), { overloaded: 5, dispatched: 3 });

    // the backlog is gone: new traffic is accepted again, and a shed event can be resent
    assert.ok((await intake.handle(events[5]!)).ok);
    assert.equal(intake.stats().pendingCrypto, 0);
  });

  void test('cheap gates still run first while a backlog exists', async () => {
    const { intake } = setup({ maxPendingCrypto: 1 });
    const first = intake.handle(wrap());
    const big = wrap();
    const [wrongKind, tooLarge, shed] = await Promise.all([
      intake.handle({ ...wrap(), kind: 1 }),
      intake.handle({ ...big, content: big.content.repeat(40) }),
      intake.handle(wrap()),
    ]);
    assert.equal(!wrongKind.ok && wrongKind.reason, 'kind');
    assert.equal(!tooLarge.ok && tooLarge.reason, 'too-large');
    assert.equal(!shed.ok && shed.reason, 'overloaded');
    assert.ok((await first).ok);
    assert.equal(intake.stats().sealKeyCache, 1);
  });

  void test('a full handler queue sheds new events before decryption too', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { intake } = setup({ maxConcurrent: 1, maxQueued: 1 }, () => gate);
    const a = intake.handle(wrap());
    const b = intake.handle(wrap());
    // let both pass the crypto stage: a runs, b waits for a handler slot
    while (intake.stats().queued < 1) await new Promise((r) => setImmediate(r));
    assert.equal(intake.stats().sealKeyCache, 2);
    const c = await intake.handle(wrap());
    assert.deepEqual(c, { ok: false, reason: 'overloaded', detail: 'shed before decryption: handler queue full' });
    assert.equal(intake.stats().sealKeyCache, 2, 'c was not decrypted');
    release();
    assert.ok((await a).ok);
    assert.ok((await b).ok);
  });
});
