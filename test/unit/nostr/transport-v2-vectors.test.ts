/**
 * Protocol v2 vectors checked both ways against an independent implementation:
 * - theirs → ours: test/fixtures/transport-v2/vectors.json (mostro-core 0.14 format, built with
 *   @rust-nostr/nostr-sdk + @noble/curves) through our intake: dispatched as expected or dropped
 *   with the expected reason; the node reply in the same format parses with our v2 parser.
 * - ours → theirs: our node reply and our client request, opened and verified with the SDK.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { Event as RustEvent, loadWasmSync, nip44Decrypt as sdkDecrypt, PublicKey, SecretKey } from '@rust-nostr/nostr-sdk';
import type { Inbound } from '../../../src/app/inbound.js';
import { conversationKey } from '../../../src/crypto/conversation-key.js';
import { generateSecretKey, getPublicKey, hexToBytes as hex } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { buildDirectMessage, buildDirectRequest } from '../../../src/nostr/direct-message.js';
import { Intake } from '../../../src/nostr/intake.js';
import { nip44Decrypt } from '../../../src/nostr/nip44.js';
import { parseDirectContent } from '../../../src/protocol/direct.js';
import type { Message } from '../../../src/protocol/types.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { testSettings } from '../../support/test-context.js';
import { req, smallOrder } from '../../support/trade-fixtures.js';

loadWasmSync();

interface Vector {
  name: string;
  expect: { ok: true; identity: string; trade_key: string; action: string } | { ok: false; reason: string };
  plaintext: string;
  author: string;
  event: Record<string, unknown>;
}
const V = JSON.parse(readFileSync(new URL('../../fixtures/transport-v2/vectors.json', import.meta.url), 'utf8')) as {
  created_at: number;
  node_secret_key: string;
  node_pubkey: string;
  user_secret_key: string;
  to_node: Vector[];
  from_node: { plaintext: string; event: { pubkey: string; kind: number; tags: string[][]; content: string } };
};

const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await closeDatabase(db);
});

function verifyText(sigHex: string, text: string, pubkey: string): boolean {
  return schnorr.verify(hexToBytes(sigHex), sha256(new TextEncoder().encode(text)), hexToBytes(pubkey));
}

void describe('v2 vectors: theirs → ours', () => {
  for (const v of V.to_node) {
    void test(v.name, async () => {
      const db = await testDb();
      dbs.push(db);
      const nodeSk = hex(V.node_secret_key);
      const clock = new FakeClock(V.created_at);
      const dispatched: Array<{ message: Message; inbound: Inbound }> = [];
      const intake = new Intake({
        keys: { secretKey: nodeSk, pubkey: V.node_pubkey },
        settings: testSettings({ mostro: { transport: 'both' } }),
        clock,
        logger: pino({ level: 'silent' }),
        tradeIndexStore: dbTradeIndexStore(db),
        outbox: new MemoryOutbox(nodeSk, clock),
        dispatch: async (message, inbound) => {
          dispatched.push({ message, inbound });
        },
      });
      const verdict = await intake.handle(v.event);
      if (v.expect.ok) {
        assert.ok(verdict.ok, JSON.stringify(!verdict.ok && verdict));
        assert.equal(dispatched.length, 1);
        assert.equal(dispatched[0]!.inbound.identity, v.expect.identity);
        assert.equal(dispatched[0]!.inbound.tradeKey, v.expect.trade_key);
        assert.equal(dispatched[0]!.message.kind.action, v.expect.action);
        assert.equal(dispatched[0]!.message.kind.version, 2);
      } else {
        assert.equal(verdict.ok ? 'ok' : verdict.reason, v.expect.reason);
        assert.equal(dispatched.length, 0);
      }
    });
  }

  void test('their node reply opens with the user key and parses: [message(version 2), null, null]', () => {
    const ev = V.from_node.event;
    assert.equal(ev.kind, 14);
    assert.equal(ev.pubkey, V.node_pubkey);
    const plain = nip44Decrypt(ev.content, conversationKey(hex(V.user_secret_key), ev.pubkey));
    assert.equal(plain, V.from_node.plaintext);
    const c = parseDirectContent(plain);
    assert.equal(c.message.kind.action, 'add-invoice');
    assert.equal(c.message.kind.version, 2);
    assert.equal(c.signature, null);
    assert.equal(c.identityProof, null);
  });
});

void describe('v2 vectors: ours → theirs (@rust-nostr/nostr-sdk opens and verifies)', () => {
  void test('our node reply: valid event, kind 14, p = user, NIP-44 opens with the SDK, [msg v2, null, null]', () => {
    const nodeSk = generateSecretKey();
    const userSk = generateSecretKey();
    const userPk = getPublicKey(userSk);
    const m = req('add-invoice', { id: '308e1272-d5f4-47e6-bd97-3504baea9c23', requestId: 7n, payload: { order: smallOrder({ amount: 49_850n }) } });
    const ev = buildDirectMessage(m, userPk, nodeSk, { now: V.created_at, expiration: V.created_at + 86400 });
    const rust = RustEvent.fromJson(JSON.stringify(ev));
    assert.ok(rust.verify());
    assert.equal(rust.kind.asU16(), 14);
    assert.equal(rust.author.toHex(), getPublicKey(nodeSk));
    const plain = sdkDecrypt(SecretKey.parse(Buffer.from(userSk).toString('hex')), PublicKey.parse(getPublicKey(nodeSk)), ev.content);
    const tuple = JSON.parse(plain) as [Record<string, { version: number; action: string; request_id: number }>, unknown, unknown];
    assert.equal(tuple.length, 3);
    assert.equal(tuple[1], null);
    assert.equal(tuple[2], null);
    assert.equal(tuple[0]['order']!.version, 2);
    assert.equal(tuple[0]['order']!.action, 'add-invoice');
    assert.deepEqual(ev.tags, [
      ['p', userPk],
      ['expiration', String(V.created_at + 86400)],
    ]);
  });

  void test('our client request (reputation mode): the SDK verifies the event, opens it with the node key; trade_sig and identity proof verify', () => {
    const nodeSk = generateSecretKey();
    const tradeSk = generateSecretKey();
    const identitySk = generateSecretKey();
    const tradePk = getPublicKey(tradeSk);
    const ev = buildDirectRequest({ message: req('fiat-sent', { id: '308e1272-d5f4-47e6-bd97-3504baea9c23' }), tradeSk, identitySk, recipient: getPublicKey(nodeSk), now: V.created_at });
    assert.ok(RustEvent.fromJson(JSON.stringify(ev)).verify());
    const plain = sdkDecrypt(SecretKey.parse(Buffer.from(nodeSk).toString('hex')), PublicKey.parse(tradePk), ev.content);
    const [, sig, proof] = JSON.parse(plain) as [unknown, string, [string, string]];
    const messageJson = plain.slice(1, plain.indexOf(`,"${sig}"`));
    assert.ok(verifyText(sig, messageJson, tradePk), 'trade_sig over the message JSON');
    assert.equal(proof[0], getPublicKey(identitySk));
    assert.ok(verifyText(proof[1], `mostro-transport-v2-identity:${tradePk}:${messageJson}`, proof[0]), 'identity proof bound to the trade key');
  });
});
