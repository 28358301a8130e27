/**
 * Interop with an independent implementation: @rust-nostr/nostr-sdk 0.43 (the library mostrod and
 * mostro-cli are built on) builds requests our intake must accept, and opens our replies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Client,
  Duration,
  Event as RustEvent,
  EventBuilder,
  Filter,
  Keys,
  Kind,
  loadWasmSync,
  NostrSigner,
  PublicKey,
  UnwrappedGift,
} from '@rust-nostr/nostr-sdk';
import { pino } from 'pino';
import { systemClock } from '../../../src/clock.js';
import { bytesToHex, generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { wrapMessage } from '../../../src/nostr/gift-wrap.js';
import { Intake } from '../../../src/nostr/intake.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import { parseRumorContent, serializeRumorContent, signMessage } from '../../../src/protocol/index.js';
import { testDb } from '../../support/db.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { startRelay, type TestRelay } from '../../support/relay.js';
import { testSettings } from '../../support/test-context.js';
import { req } from '../../support/trade-fixtures.js';

const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const node = generateSecretKey();
const nodePk = getPublicKey(node);
const logger = pino({ level: 'silent' });
let db: Db;

before(async () => {
  loadWasmSync();
  db = await testDb();
});
after(async () => {
  await closeDatabase(db);
});

function intake(dispatched: unknown[]) {
  return new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings: testSettings(),
    clock: systemClock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox: new MemoryOutbox(node),
    dispatch: async (m, i) => {
      dispatched.push({ m, i });
    },
  });
}

const rustKeys = (sk: Uint8Array) => Keys.parse(bytesToHex(sk));

void describe('rust-nostr → our intake', () => {
  void test('reputation mode: seal by the identity key, rumor by the trade key, canonical tuple signature', async () => {
    const identity = generateSecretKey();
    const trade = generateSecretKey();
    const message = req('take-sell', { id: ORDER_ID, requestId: 12345678901234567890n, tradeIndex: 1n });
    const content = serializeRumorContent(message, signMessage(message, trade));
    const rumor = EventBuilder.textNote(content).build(rustKeys(trade).publicKey);
    const seal = (await EventBuilder.seal(NostrSigner.keys(rustKeys(identity)), PublicKey.parse(nodePk), rumor)).signWithKeys(rustKeys(identity));
    const wrap = EventBuilder.giftWrapFromSeal(PublicKey.parse(nodePk), seal, []);
    const dispatched: Array<{ m: unknown; i: { identity: string; tradeKey: string } }> = [];
    const v = await intake(dispatched).handle(JSON.parse(wrap.asJson()));
    assert.ok(v.ok, JSON.stringify(!v.ok && v));
    assert.equal(dispatched[0]!.i.identity, getPublicKey(identity));
    assert.equal(dispatched[0]!.i.tradeKey, getPublicKey(trade));
    assert.equal(v.message.kind.request_id, 12345678901234567890n);
  });

  void test('full privacy: EventBuilder.giftWrap with the trade key, null signature', async () => {
    const trade = generateSecretKey();
    const message = req('fiat-sent', { id: ORDER_ID });
    const rumor = EventBuilder.textNote(serializeRumorContent(message, null)).build(rustKeys(trade).publicKey);
    const wrap = await EventBuilder.giftWrap(NostrSigner.keys(rustKeys(trade)), PublicKey.parse(nodePk), rumor, []);
    const dispatched: unknown[] = [];
    const v = await intake(dispatched).handle(JSON.parse(wrap.asJson()));
    assert.ok(v.ok, JSON.stringify(!v.ok && v));
    assert.equal(v.inbound.fullPrivacy, true);
  });
});

void describe('our replies → rust-nostr', () => {
  void test('UnwrappedGift.fromGiftWrap opens our reply; sender is the node; content parses', async () => {
    const user = generateSecretKey();
    const message = req('pay-invoice', { id: ORDER_ID, requestId: 1n, payload: { payment_request: [null, 'lnbcrt1...', null] } });
    const reply = wrapMessage(message, getPublicKey(user), node, { now: Math.floor(Date.now() / 1000) });
    const ug = await UnwrappedGift.fromGiftWrap(NostrSigner.keys(rustKeys(user)), RustEvent.fromJson(JSON.stringify(reply)));
    assert.equal(ug.sender.toHex(), nodePk);
    const parsed = parseRumorContent(ug.rumor.content);
    assert.deepEqual(parsed.message, message);
    assert.equal(parsed.signature, null);
  });

  void test('a rust-nostr Client on the real relay fetches and unwraps a reply our outbox published', async () => {
    const relay: TestRelay = await startRelay();
    const pool = new RelayPool({ urls: [relay.url], clock: systemClock, logger });
    pool.start();
    const client = new Client(NostrSigner.keys(rustKeys(generateSecretKey())));
    const user = generateSecretKey();
    const userKeys = rustKeys(user);
    try {
      await pool.waitForConnection();
      const outbox = new RelayOutbox({ pool, keys: { secretKey: node, pubkey: nodePk }, clock: systemClock, logger });
      const message = req('waiting-seller-to-pay', { id: ORDER_ID, requestId: 99n });
      outbox.sendMessage(getPublicKey(user), message);
      await outbox.flush();
      await client.addRelay(relay.url);
      await client.connect();
      await client.waitForConnection(Duration.fromSecs(2));
      const events = await client.fetchEvents(new Filter().kind(new Kind(1059)).pubkey(userKeys.publicKey), Duration.fromSecs(2));
      const list = events.toVec();
      assert.equal(list.length, 1);
      const ug = await UnwrappedGift.fromGiftWrap(NostrSigner.keys(userKeys), list[0]!);
      assert.equal(ug.sender.toHex(), nodePk);
      assert.deepEqual(parseRumorContent(ug.rumor.content).message, message);
    } finally {
      await client.shutdown();
      await pool.close();
      await relay.close();
    }
  });
});
