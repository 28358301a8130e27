/**
 * The whole transport over a real relay: test client → relay → pool → intake → dispatch →
 * relay outbox → relay → client. Dispatch here is an echo (the router is tested elsewhere).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { systemClock } from '../../../src/clock.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { Intake } from '../../../src/nostr/intake.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import { buildMessage } from '../../../src/protocol/index.js';
import { TestClient } from '../../support/client.js';
import { testDb } from '../../support/db.js';
import { startRelay } from '../../support/relay.js';
import { testSettings } from '../../support/test-context.js';
import { req } from '../../support/trade-fixtures.js';

const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const logger = pino({ level: 'silent' });
const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function node(relayUrls: string[]) {
  const sk = generateSecretKey();
  const keys = { secretKey: sk, pubkey: getPublicKey(sk) };
  const db = await testDb();
  const pool = new RelayPool({ urls: relayUrls, pubkey: keys.pubkey, clock: systemClock, logger, backoff: { initialMs: 30, maxMs: 200 } });
  const outbox = new RelayOutbox({ pool, keys, clock: systemClock, logger, messageRetry: { initialMs: 50, maxMs: 100, attempts: 10 } });
  const intake = new Intake({
    keys,
    settings: testSettings(),
    clock: systemClock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox,
    dispatch: async (msg, inbound) => {
      outbox.sendMessage(inbound.tradeKey, buildMessage({ action: msg.kind.action, ...(msg.kind.id !== undefined ? { id: msg.kind.id } : {}), requestId: msg.kind.request_id }));
    },
  });
  pool.onEvent((e) => void intake.handle(e));
  pool.start();
  await pool.waitForConnection();
  cleanup.push(async () => {
    pool.stopIntake();
    await intake.idle();
    await outbox.flush();
    await pool.close();
    await closeDatabase(db);
  });
  return { keys, pool, outbox, intake };
}

void describe('transport end to end over a real relay', () => {
  void test('request → reply; stale trade index → cant-do; replies arrive in order', async () => {
    const relay = await startRelay();
    cleanup.push(() => relay.close());
    const n = await node([relay.url]);
    const client = await TestClient.connect({ relays: [relay.url], mostroPubkey: n.keys.pubkey });
    cleanup.push(() => client.close());
    await new Promise((r) => setTimeout(r, 50));

    const k1 = client.tradeKey();
    await client.send(req('take-sell', { id: ORDER_ID, requestId: 1n, tradeIndex: BigInt(k1.index) }), { tradeKey: k1 });
    const echo = await client.waitForAction(k1, 'take-sell');
    assert.equal(echo.message.kind.request_id, 1n);

    // same index again from a new trade key → invalid_trade_index to that trade key
    const k1b = client.tradeKey(1);
    await client.send(req('take-sell', { id: ORDER_ID, requestId: 2n, tradeIndex: 1n }), { tradeKey: k1b });
    const cantDo = await client.waitForAction(k1b, 'cant-do');
    assert.deepEqual(cantDo.message.kind.payload, { cant_do: 'invalid_trade_index' });

    const k2 = client.tradeKey();
    for (let i = 0; i < 10; i++) await client.send(req('fiat-sent', { id: ORDER_ID, requestId: BigInt(100 + i) }), { tradeKey: k2 });
    await client.waitFor((r) => r.to === k2.pubkey && r.message.kind.request_id === 109n);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      client.repliesTo(k2).map((r) => r.message.kind.request_id),
      Array.from({ length: 10 }, (_, i) => BigInt(100 + i)),
    );
    assert.equal(client.rejected, 0);
    assert.equal(n.intake.counters()['dispatched'], 11);
  });

  void test('a relay that refuses replies for a while: the outbox retries until it accepts', async () => {
    const relay = await startRelay();
    cleanup.push(() => relay.close());
    const n = await node([relay.url]);
    const client = await TestClient.connect({ relays: [relay.url], mostroPubkey: n.keys.pubkey });
    cleanup.push(() => client.close());
    const k = client.tradeKey();
    await new Promise((r) => setTimeout(r, 50));
    n.outbox.sendMessage(k.pubkey, req('purchase-completed', { id: ORDER_ID }));
    await new Promise((r) => setTimeout(r, 20));
    relay.setMode('refuse');
    n.outbox.sendMessage(k.pubkey, req('rate', { id: ORDER_ID }));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(client.actions(k), ['purchase-completed']);
    relay.setMode('accept');
    await n.outbox.flush();
    await client.waitForAction(k, 'rate');
    assert.equal(n.outbox.stats().messagesDropped, 0);
  });

  void test('two relays, one down: requests still flow and replies still go out', async () => {
    const [a, b] = [await startRelay(), await startRelay()];
    cleanup.push(() => a.close(), () => b.close());
    const n = await node([a.url, b.url]);
    await b.stop();
    const client = await TestClient.connect({ relays: [a.url], mostroPubkey: n.keys.pubkey });
    cleanup.push(() => client.close());
    const k = client.tradeKey();
    await new Promise((r) => setTimeout(r, 50));
    await client.send(req('release', { id: ORDER_ID }), { tradeKey: k });
    await client.waitForAction(k, 'release');
    await b.restart();
    await n.pool.waitForConnection(3000);
  });
});
