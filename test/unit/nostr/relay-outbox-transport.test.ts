/**
 * The outbox sends every message on the transport its recipient key speaks, never on both; v1
 * messages keep version 1 and today's bytes, reduced to mostro-core 0.8 vocabulary; v2 messages are
 * kind 14 signed by the node key, `[message(version 2), null, null]`, with a dm_days expiration.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { conversationKey } from '../../../src/crypto/conversation-key.js';
import { verifyEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { setKeyTransport } from '../../../src/db/transports.js';
import { unwrapGiftWrap } from '../../../src/nostr/gift-wrap.js';
import { nip44Decrypt } from '../../../src/nostr/nip44.js';
import { recipientProtocol } from '../../../src/nostr/outbox.js';
import { RelayOutbox, type Publisher } from '../../../src/nostr/relay-outbox.js';
import { TransportRegistry } from '../../../src/nostr/transport-registry.js';
import { directMessageLifetime } from '../../../src/nostr/transport.js';
import { parseDirectContent } from '../../../src/protocol/direct.js';
import { cantDoMessage } from '../../../src/protocol/build.js';
import { serializeRumorContent } from '../../../src/protocol/serialize.js';
import type { Action, CantDoReason, Message, Status } from '../../../src/protocol/types.js';
import { toProtocolV1, V08_CANT_DO_REASONS } from '../../../src/protocol/v1-compat.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { testSettings } from '../../support/test-context.js';
import { req, smallOrder } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const node = generateSecretKey();
const keys = { secretKey: node, pubkey: getPublicKey(node) };
const logger = pino({ level: 'silent' });
const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await closeDatabase(db);
});

class CapturePublisher implements Publisher {
  events: NostrEvent[] = [];
  urls() {
    return ['ws://a'];
  }
  publish(event: NostrEvent) {
    this.events.push(event);
    return Promise.resolve([{ url: 'ws://a', ok: true, message: '' }]);
  }
}

async function setup(transport: 'gift-wrap' | 'nip44' | 'both' = 'both', expiration?: { dm_days: number }) {
  const db = await testDb();
  dbs.push(db);
  const settings = testSettings({ mostro: { transport }, ...(expiration !== undefined ? { expiration } : {}) });
  const v1 = generateSecretKey();
  const v2 = generateSecretKey();
  await setKeyTransport(db, getPublicKey(v1), 'gift-wrap', NOW);
  await setKeyTransport(db, getPublicKey(v2), 'nip44', NOW);
  // the registry is loaded from the database, as at startup
  const registry = new TransportRegistry(db, settings, logger);
  await registry.load();
  const pub = new CapturePublisher();
  const outbox = new RelayOutbox({
    pool: pub,
    keys,
    clock: new FakeClock(NOW),
    logger,
    sleep: async () => {},
    transports: registry,
    dmLifetimeSeconds: directMessageLifetime(settings),
  });
  return { pub, outbox, v1, v2, registry };
}

function openV2(ev: NostrEvent, sk: Uint8Array) {
  return parseDirectContent(nip44Decrypt(ev.content, conversationKey(sk, ev.pubkey)));
}

function openV1(ev: NostrEvent, sk: Uint8Array): string {
  const r = unwrapGiftWrap(ev, sk);
  assert.ok(r.ok);
  assert.equal(r.gift.seal.pubkey, keys.pubkey);
  return r.gift.rumor.content;
}

void describe('outbox: transport per recipient key', () => {
  void test('v2 key → one kind 14 by the node key, p = key, [msg(v2), null, null], expiration = now + dm_days', async () => {
    const { pub, outbox, v2 } = await setup('both', { dm_days: 7 });
    const m = req('fiat-sent-ok', { id: ORDER_ID, requestId: 5n });
    outbox.sendMessage(getPublicKey(v2), m);
    await outbox.flush();
    assert.equal(pub.events.length, 1);
    const ev = pub.events[0]!;
    assert.equal(ev.kind, 14);
    assert.equal(ev.pubkey, keys.pubkey);
    assert.ok(verifyEvent(ev));
    assert.equal(ev.created_at, NOW);
    assert.deepEqual(ev.tags, [
      ['p', getPublicKey(v2)],
      ['expiration', String(NOW + 7 * 86400)],
    ]);
    const c = openV2(ev, v2);
    assert.equal(c.signature, null);
    assert.equal(c.identityProof, null);
    assert.deepEqual(c.message, { ...m, kind: { ...m.kind, version: 2 } });
    assert.equal(outbox.protocolOf(getPublicKey(v2)), 2);
    assert.equal(recipientProtocol(outbox, getPublicKey(v2)), 2);
  });

  void test('v1 key and a key never seen → one gift wrap each, version 1, exactly today’s rumor bytes', async () => {
    const { pub, outbox, v1 } = await setup();
    const stranger = generateSecretKey();
    const m = req('buyer-took-order', { id: ORDER_ID, payload: { order: smallOrder({ id: ORDER_ID, status: 'active' }) } });
    outbox.sendMessage(getPublicKey(v1), m);
    outbox.sendMessage(getPublicKey(stranger), m);
    await outbox.flush();
    assert.deepEqual(pub.events.map((e) => e.kind), [1059, 1059]);
    assert.equal(openV1(pub.events[0]!, v1), serializeRumorContent(m, null));
    assert.equal(openV1(pub.events[1]!, stranger), serializeRumorContent(m, null));
    assert.equal(outbox.protocolOf(getPublicKey(stranger)), 1);
    assert.deepEqual(outbox.transportStats(), { 'gift-wrap': 2, nip44: 0 });
  });

  void test('one trade, two transports: each party gets only its own kind', async () => {
    const { pub, outbox, v1, v2 } = await setup();
    for (const a of ['hold-invoice-payment-settled', 'released', 'purchase-completed'] as Action[]) {
      outbox.sendMessage(getPublicKey(v1), req(a, { id: ORDER_ID }));
      outbox.sendMessage(getPublicKey(v2), req(a, { id: ORDER_ID }));
    }
    await outbox.flush();
    const to = (e: NostrEvent) => e.tags.find((t) => t[0] === 'p')?.[1];
    assert.deepEqual(new Set(pub.events.filter((e) => to(e) === getPublicKey(v1)).map((e) => e.kind)), new Set([1059]));
    assert.deepEqual(new Set(pub.events.filter((e) => to(e) === getPublicKey(v2)).map((e) => e.kind)), new Set([14]));
    assert.equal(pub.events.length, 6);
  });

  void test('node transport setting wins: gift-wrap node wraps everyone, nip44 node sends kind 14 to everyone', async () => {
    const a = await setup('gift-wrap');
    a.outbox.sendMessage(getPublicKey(a.v2), req('released', { id: ORDER_ID }));
    await a.outbox.flush();
    assert.deepEqual(a.pub.events.map((e) => e.kind), [1059]);
    const b = await setup('nip44');
    b.outbox.sendMessage(getPublicKey(generateSecretKey()), req('released', { id: ORDER_ID }));
    await b.outbox.flush();
    assert.deepEqual(b.pub.events.map((e) => e.kind), [14]);
  });

  void test('a newer CantDoReason reaches a v2 client as is and a 0.8-era client as its 0.8 fallback', async () => {
    const { pub, outbox, v1, v2 } = await setup();
    const newer = cantDoMessage('price_too_stale' as CantDoReason, { id: ORDER_ID, requestId: 3n });
    outbox.sendMessage(getPublicKey(v2), newer);
    outbox.sendMessage(getPublicKey(v1), newer);
    await outbox.flush();
    const ev = pub.events[0]!;
    assert.equal(ev.kind, 14);
    assert.match(nip44Decrypt(ev.content, conversationKey(v2, ev.pubkey)), /"version":2,.*"payload":\{"cant_do":"price_too_stale"\}\}\},null,null\]$/);
    const v1Content = openV1(pub.events[1]!, v1);
    assert.match(v1Content, /"cant_do":"invalid_amount"/);
    assert.equal(v1Content, serializeRumorContent(cantDoMessage('invalid_amount', { id: ORDER_ID, requestId: 3n }), null));
  });

  void test('an Action mostro-core 0.8 lacks is never sent to a v1 client (dropped, logged); a v2 client gets it', async () => {
    const { pub, outbox, v1, v2 } = await setup();
    const m = req('bond-slashed' as Action, { id: ORDER_ID });
    outbox.sendMessage(getPublicKey(v1), m);
    outbox.sendMessage(getPublicKey(v2), m);
    await outbox.flush();
    assert.deepEqual(pub.events.map((e) => e.kind), [14]);
    assert.equal(outbox.stats().messagesDropped, 1);
  });
});

void describe('toProtocolV1 (the send-point filter for 0.8-era clients)', () => {
  void test('0.8 vocabulary passes unchanged (same object); version forced to 1', () => {
    const m = req('add-invoice', { id: ORDER_ID, payload: { order: smallOrder({ id: ORDER_ID }) } });
    assert.deepEqual(toProtocolV1(m), m);
    const v2: Message = { ...m, kind: { ...m.kind, version: 2 } };
    assert.equal(toProtocolV1(v2)?.kind.version, 1);
    const plain = req('released', { id: ORDER_ID });
    assert.equal(toProtocolV1(plain), plain);
  });

  void test('unknown reasons map into the 0.8 set; unknown statuses become null; unknown payloads drop', () => {
    for (const r of ['price_too_stale', 'invalid_payload', 'not_authorized', 'cashu_mint_unavailable']) {
      const out = toProtocolV1(cantDoMessage(r as CantDoReason));
      const p = out?.kind.payload;
      assert.ok(p !== null && p !== undefined && 'cant_do' in p && p.cant_do !== null && V08_CANT_DO_REASONS.has(p.cant_do), r);
    }
    const withStatus = (status: string) => req('orders', { payload: { orders: [smallOrder({ status: status as Status })] } });
    const out = toProtocolV1(withStatus('waiting-taker-bond'));
    assert.deepEqual(out?.kind.payload, { orders: [smallOrder({ status: null })] });
    assert.equal(toProtocolV1(req('admin-settle', { id: ORDER_ID, payload: { bond_resolution: { slash_seller: true, slash_buyer: false } } })), null);
  });
});
