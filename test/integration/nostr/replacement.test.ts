/**
 * Addressable replacement on a real relay (issue 3): the outbox stamps created_at strictly
 * increasing per (kind, d), so when an order changes state twice in the same second the relay keeps
 * the newest state (NIP-01 would otherwise keep the lowest id, possibly the older one — STACK §8).
 * Across a restart too: the new process learns its predecessor's times from the publication ledger
 * (session 34).
 */
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { buildDisputeEvent, buildInfoEvent, buildOrderEvent, buildRelayListEvent } from '../../../src/nostr/events.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import type { Status } from '../../../src/protocol/types.js';
import { PublicationLedgerOutbox, restoreOrderEventTimes } from '../../../src/ops/publication-ledger.js';
import { makeOrder, testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { startRelay } from '../../support/relay.js';
import { testSettings } from '../../support/test-context.js';

const logger = pino({ level: 'silent' });

void describe('38383 replacement on a real relay', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  void test('three states published within one second: the relay keeps the last one', async () => {
    const relay = await startRelay();
    closers.push(() => relay.close());
    const sk = generateSecretKey();
    const keys = { secretKey: sk, pubkey: getPublicKey(sk) };
    const t0 = Math.floor(Date.now() / 1000);
    const clock = new FakeClock(t0); // frozen: every publish falls in the same second (real time: the relay drops NIP-40-expired events)
    const pool = new RelayPool({ urls: [relay.url], clock, logger, filter: null });
    pool.start();
    await pool.waitForConnection();
    closers.push(() => pool.close());
    const outbox = new RelayOutbox({ pool, keys, clock, logger });
    const settings = testSettings();
    const order = makeOrder({ kind: 'sell', status: 'pending' });
    const states: Array<[Status, string]> = [
      ['pending', 'pending'],
      ['waiting-buyer-invoice', 'in-progress'],
      ['success', 'success'],
    ];
    for (const [status, s] of states) {
      const ev = buildOrderEvent({ order: { ...order, status }, status: s, rating: null, settings, nodePubkey: keys.pubkey, network: 'regtest', now: clock.now() });
      await outbox.publish(ev);
    }
    await outbox.flush();
    const stored = await relay.query({ kinds: [38383], authors: [keys.pubkey], '#d': [order.id] } as never);
    assert.equal(stored.length, 1, 'one addressable event per d tag');
    const sTag = stored[0]!.tags.find((t) => t[0] === 's');
    assert.deepEqual(sTag, ['s', 'success']);
    assert.equal(stored[0]!.created_at, t0 + 2, 'created_at bumped past the two earlier states');
  });

  void test('a restarted daemon publishes an order’s next state after its predecessor’s, even within the same second', async () => {
    const relay = await startRelay();
    closers.push(() => relay.close());
    const sk = generateSecretKey();
    const keys = { secretKey: sk, pubkey: getPublicKey(sk) };
    const t0 = Math.floor(Date.now() / 1000);
    const clock = new FakeClock(t0);
    const pool = new RelayPool({ urls: [relay.url], clock, logger, filter: null });
    pool.start();
    await pool.waitForConnection();
    closers.push(() => pool.close());
    const db = await testDb();
    closers.push(() => db.destroy());
    const settings = testSettings();
    const order = makeOrder({ kind: 'sell', status: 'pending' });
    const event = (status: Status, s: string) =>
      buildOrderEvent({ order: { ...order, status }, status: s, rating: null, settings, nodePubkey: keys.pubkey, network: 'regtest', now: clock.now() });
    const stored = async () => {
      const evs = await relay.query({ kinds: [38383], authors: [keys.pubkey], '#d': [order.id] } as never);
      assert.equal(evs.length, 1);
      return { s: evs[0]!.tags.find((t) => t[0] === 's')?.[1], createdAt: evs[0]!.created_at };
    };
    // The first process: three states in one second (t0 … t0 + 2), recorded in the ledger.
    const first = new RelayOutbox({ pool, keys, clock, logger });
    const ledger1 = new PublicationLedgerOutbox(first, db, clock, logger);
    for (const [status, s] of [['pending', 'pending'], ['waiting-buyer-invoice', 'in-progress'], ['active', 'in-progress']] as Array<[Status, string]>) {
      await ledger1.publish(event(status, s));
    }
    await first.flush();
    assert.deepEqual(await stored(), { s: 'in-progress', createdAt: t0 + 2 });

    // Without the ledger's times, a process started in that second stamps t0 and the relay keeps
    // the older state (the control this test would fail without the restore).
    const forgetful = new RelayOutbox({ pool, keys, clock, logger });
    await forgetful.publish(event('canceled', 'canceled'));
    await forgetful.flush();
    assert.deepEqual(await stored(), { s: 'in-progress', createdAt: t0 + 2 }, 'the relay ignores an older event');

    // The restarted process restores the times first: its event comes after t0 + 2.
    const second = new RelayOutbox({ pool, keys, clock, logger });
    const ledger2 = new PublicationLedgerOutbox(second, db, clock, logger);
    assert.equal(await restoreOrderEventTimes(db, ledger2, clock.now()), 1);
    await ledger2.publish(event('canceled', 'canceled'));
    await second.flush();
    assert.deepEqual(await stored(), { s: 'canceled', createdAt: t0 + 3 });
    // A minute later nothing is restored (a clock-stamped created_at is later anyway).
    assert.equal(await restoreOrderEventTimes(db, ledger2, t0 + 3 + 61), 0);

    // Dispute events too (mostrod_ts_event_times): initiated at t0, in-progress bumped to t0 + 1; the
    // next process's settled event comes after it.
    const dispute = { id: randomUUID(), order_id: order.id, order_previous_status: 'active', solver_pubkey: null, created_at: t0, taken_at: 0 };
    const disputeEvent = (status: 'initiated' | 'in-progress' | 'settled') =>
      buildDisputeEvent({ dispute: { ...dispute, status }, initiator: 'buyer', settings, now: clock.now() });
    await ledger2.publish(disputeEvent('initiated'));
    await ledger2.publish(disputeEvent('in-progress'));
    await second.flush();
    const third = new RelayOutbox({ pool, keys, clock, logger });
    const ledger3 = new PublicationLedgerOutbox(third, db, clock, logger);
    assert.equal(await restoreOrderEventTimes(db, ledger3, clock.now()), 2, 'the order and the dispute');
    await ledger3.publish(disputeEvent('settled'));
    await third.flush();
    const kept = await relay.query({ kinds: [38386], authors: [keys.pubkey], '#d': [dispute.id] } as never);
    assert.deepEqual(
      kept.map((e) => [e.tags.find((t) => t[0] === 's')?.[1], e.created_at]),
      [['settled', t0 + 2]],
    );

    // The node's info (38385) and its relay list (10002, replaceable: no d tag) too: a process
    // restarted within the second of its predecessor's publications (new settings) is kept.
    const lnd = { version: 'v0.18.0', identityPubkey: '02'.padEnd(66, '0'), commitHash: 'c', alias: 'a', chains: ['bitcoin'], networks: ['regtest'], uris: [], blockHeight: 1 };
    const info = (fee: number) =>
      buildInfoEvent({ settings: testSettings({ mostro: { fee } }), nodePubkey: keys.pubkey, lnd, mostroVersion: '0.17.1', commitHash: 'x', now: clock.now() });
    await ledger3.publish(info(0.006));
    await ledger3.publish(info(0.007));
    await ledger3.publish(buildRelayListEvent([relay.url], clock.now()));
    await third.flush();
    const fourth = new RelayOutbox({ pool, keys, clock, logger });
    const ledger4 = new PublicationLedgerOutbox(fourth, db, clock, logger);
    assert.equal(await restoreOrderEventTimes(db, ledger4, clock.now()), 4, 'the order, the dispute, the info and the relay list');
    await ledger4.publish(info(0.008));
    await ledger4.publish(buildRelayListEvent([relay.url, 'wss://other.example'], clock.now()));
    await fourth.flush();
    const infos = await relay.query({ kinds: [38385], authors: [keys.pubkey] } as never);
    assert.deepEqual(
      infos.map((e) => [e.tags.find((t) => t[0] === 'fee')?.[1], e.created_at]),
      [['0.008', t0 + 2]],
    );
    const lists = await relay.query({ kinds: [10002], authors: [keys.pubkey] } as never);
    assert.deepEqual(
      lists.map((e) => [e.tags.length, e.created_at]),
      [[2, t0 + 1]],
    );
  });
});
