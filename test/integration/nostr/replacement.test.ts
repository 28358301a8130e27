/**
 * Addressable replacement on a real relay (issue 3): the outbox stamps created_at strictly
 * increasing per (kind, d), so when an order changes state twice in the same second the relay keeps
 * the newest state (NIP-01 would otherwise keep the lowest id, possibly the older one — STACK §8).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { buildOrderEvent } from '../../../src/nostr/events.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import type { Status } from '../../../src/protocol/types.js';
import { makeOrder } from '../../support/db.js';
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
});
