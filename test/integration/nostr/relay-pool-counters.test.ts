/** The per-relay publish counters the metrics export, against the real test relay. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { systemClock } from '../../../src/clock.js';
import { finalizeEvent } from '../../../src/crypto/event.js';
import { generateSecretKey } from '../../../src/crypto/secp.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import { startRelay, type TestRelay } from '../../support/relay.js';

const author = generateSecretKey();
const event = (n: number) => finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: `note ${n}` }, author);

void describe('relay pool: publish failures and rejections per relay', () => {
  let relay: TestRelay;
  let pool: RelayPool;
  after(async () => {
    await pool.close();
    await relay.close();
  });

  void test('accepted, refused (OK false) and undelivered (not connected) are counted apart', async () => {
    relay = await startRelay();
    pool = new RelayPool({ urls: [relay.url], clock: systemClock, logger: pino({ level: 'silent' }), backoff: { initialMs: 30, maxMs: 200 }, publishTimeoutMs: 2000 });
    pool.start();
    await pool.waitForConnection(3000);
    const counts = () => {
      const s = pool.status()[0]!;
      return { publishFailures: s.publishFailures, rejected: s.rejected };
    };

    assert.equal((await pool.publish(event(1)))[0]?.ok, true);
    assert.deepEqual(counts(), { publishFailures: 0, rejected: 0 });

    relay.setMode('refuse');
    const refused = await pool.publish(event(2));
    assert.equal(refused[0]?.ok, false);
    assert.deepEqual(counts(), { publishFailures: 0, rejected: 1 });

    relay.setMode('accept');
    await relay.stop();
    for (let i = 0; pool.connectedRelays().length > 0 && i < 300; i++) await new Promise((r) => setTimeout(r, 10));
    const undelivered = await pool.publish(event(3));
    assert.deepEqual(undelivered[0], { url: relay.url, ok: false, message: 'not connected' });
    assert.deepEqual(counts(), { publishFailures: 1, rejected: 1 });
  });
});
