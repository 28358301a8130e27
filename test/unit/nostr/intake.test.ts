import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Inbound } from '../../../src/app/inbound.js';
import { conversationKey } from '../../../src/crypto/conversation-key.js';
import { finalizeEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { bytesToHex, generateSecretKey, getPublicKey, schnorrSign, sha256 } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { getUser, insertUser } from '../../../src/db/users.js';
import { wrapRequest, type WrapRequestOptions } from '../../../src/nostr/gift-wrap.js';
import { Intake, type IntakeLimits } from '../../../src/nostr/intake.js';
import {
  gateFreshness,
  gateKind,
  gatePow,
  gateSize,
  gateTradeIndex,
  type TradeIndexStore,
} from '../../../src/nostr/intake-gates.js';
import { nip44Encrypt } from '../../../src/nostr/nip44.js';
import { minePow } from '../../../src/nostr/pow.js';
import { parseRumorContent, serializeMessage, signMessage } from '../../../src/protocol/index.js';
import type { Message } from '../../../src/protocol/types.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { testSettings } from '../../support/test-context.js';
import { req, smallOrder } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const node = generateSecretKey();
const nodePk = getPublicKey(node);
const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await closeDatabase(db);
});

async function setup(opts: { pow?: number; limits?: Partial<IntakeLimits>; dispatch?: (m: Message, i: Inbound) => Promise<void> } = {}) {
  const db = await testDb();
  dbs.push(db);
  const clock = new FakeClock(NOW);
  const outbox = new MemoryOutbox(node, clock);
  const dispatched: Array<{ message: Message; inbound: Inbound }> = [];
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings: testSettings({ mostro: { pow: opts.pow ?? 0 } }),
    clock,
    logger: pino({ level: 'silent' }),
    tradeIndexStore: dbTradeIndexStore(db),
    outbox,
    dispatch:
      opts.dispatch ??
      (async (message, inbound) => {
        dispatched.push({ message, inbound });
      }),
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
  });
  return { db, clock, outbox, intake, dispatched };
}

function request(message: Message, o: Partial<WrapRequestOptions> & { tradeSk?: Uint8Array } = {}): NostrEvent {
  return wrapRequest({ message, tradeSk: o.tradeSk ?? generateSecretKey(), identitySk: generateSecretKey(), recipient: nodePk, now: NOW, ...o });
}

const takeSell = (tradeIndex: bigint | null = 1n) => req('take-sell', { id: ORDER_ID, requestId: 7n, tradeIndex });

void describe('intake: accepted requests', () => {
  void test('reputation mode request is dispatched with identity and trade key', async () => {
    const { intake, dispatched, db } = await setup();
    const identity = generateSecretKey();
    const trade = generateSecretKey();
    const wrap = request(takeSell(5n), { identitySk: identity, tradeSk: trade });
    const v = await intake.handle(wrap);
    assert.ok(v.ok, JSON.stringify(!v.ok && v));
    assert.equal(dispatched.length, 1);
    const { inbound, message } = dispatched[0]!;
    assert.deepEqual(inbound, {
      identity: getPublicKey(identity),
      tradeKey: getPublicKey(trade),
      createdAt: NOW,
      eventId: wrap.id,
      fullPrivacy: false,
    });
    assert.equal(message.kind.action, 'take-sell');
    // a new identity with index 5 gets a users row
    assert.equal((await getUser(db, getPublicKey(identity)))?.last_trade_index, 5);
    assert.deepEqual(intake.counters(), { dispatched: 1 });
  });

  void test('full privacy request (null signature, null index) is dispatched; no user row', async () => {
    const { intake, dispatched, db } = await setup();
    const trade = generateSecretKey();
    const v = await intake.handle(wrapRequest({ message: takeSell(null), tradeSk: trade, recipient: nodePk, now: NOW }));
    assert.ok(v.ok);
    assert.equal(dispatched[0]!.inbound.fullPrivacy, true);
    assert.equal(await getUser(db, getPublicKey(trade)), undefined);
  });

  void test('PoW requirement met', async () => {
    const { intake, dispatched } = await setup({ pow: 8 });
    const v = await intake.handle(request(req('orders', { payload: { ids: [ORDER_ID] } }), { pow: 8 }));
    assert.ok(v.ok);
    assert.equal(dispatched.length, 1);
  });

  void test('a signature over the raw (non-canonical) text is accepted too', async () => {
    const { intake } = await setup();
    const trade = generateSecretKey();
    const m = req('fiat-sent', { id: ORDER_ID });
    const raw = serializeMessage(m).replace('"version":1', '"version": 1');
    const content = `[${raw},"${schnorrSign(sha256(raw), trade)}"]`;
    const v = await intake.handle(request(m, { tradeSk: trade, rawContent: content }));
    assert.ok(v.ok, JSON.stringify(!v.ok && v));
  });
});

void describe('intake: drops', () => {
  void test('wrong kind, non-objects', async () => {
    const { intake } = await setup();
    const wrap = request(takeSell());
    for (const e of [null, 1, 'x', [], { ...wrap, kind: 1 }]) {
      const v = await intake.handle(e);
      assert.equal(!v.ok && v.reason, 'kind');
    }
  });

  void test('bad outer signature and bad id are dropped (HQ-1 fix)', async () => {
    const { intake, dispatched } = await setup();
    const wrap = request(takeSell());
    const badSig = { ...wrap, sig: bytesToHex(generateSecretKey()) + bytesToHex(generateSecretKey()) };
    assert.equal(((await intake.handle(badSig)) as { reason: string }).reason, 'signature');
    const badId = { ...wrap, created_at: wrap.created_at + 1 };
    assert.equal(((await intake.handle(badId)) as { reason: string }).reason, 'signature');
    // the forged copy did not poison the replay cache: the real one still goes through
    assert.ok((await intake.handle(wrap)).ok);
    assert.equal(dispatched.length, 1);
  });

  void test('insufficient PoW', async () => {
    const { intake } = await setup({ pow: 12 });
    let wrap = request(takeSell());
    while (wrap.id.startsWith('000')) wrap = request(takeSell());
    const v = await intake.handle(wrap);
    assert.equal(!v.ok && v.reason, 'pow');
  });

  void test('oversize content', async () => {
    const { intake } = await setup({ limits: { maxContentBytes: 1000 } });
    const v = await intake.handle(request(takeSell()));
    assert.equal(!v.ok && v.reason, 'too-large');
  });

  void test('replayed wrap id', async () => {
    const { intake, dispatched } = await setup();
    const wrap = request(req('fiat-sent', { id: ORDER_ID }));
    assert.ok((await intake.handle(wrap)).ok);
    const v = await intake.handle({ ...wrap });
    assert.equal(!v.ok && v.reason, 'duplicate');
    assert.equal(dispatched.length, 1);
  });

  void test('a copy of a processed wrap is dropped as duplicate before any signature work, even a forged one', async () => {
    const { intake, dispatched } = await setup();
    const wrap = request(req('fiat-sent', { id: ORDER_ID }));
    assert.ok((await intake.handle(wrap)).ok);
    // same id, garbage signature: a re-check of the signature would say 'signature'
    const forgedCopy = { ...wrap, sig: 'f'.repeat(128) };
    const v = await intake.handle(forgedCopy);
    assert.equal(!v.ok && v.reason, 'duplicate');
    assert.equal(dispatched.length, 1);
  });

  void test('not addressed to us / seal signed by a different key than claimed', async () => {
    const { intake } = await setup();
    const other = getPublicKey(generateSecretKey());
    const v1 = await intake.handle(wrapRequest({ message: takeSell(), tradeSk: generateSecretKey(), recipient: other, now: NOW }));
    assert.equal(!v1.ok && v1.reason, 'unwrap');

    const identity = generateSecretKey();
    const impostor = generateSecretKey();
    const rumor = { pubkey: getPublicKey(impostor), created_at: NOW, kind: 1, tags: [], content: '[]' };
    const seal = finalizeEvent({ kind: 13, created_at: NOW, tags: [], content: nip44Encrypt(JSON.stringify(rumor), conversationKey(impostor, nodePk)) }, impostor);
    const forged = { ...seal, pubkey: getPublicKey(identity) };
    const eph = generateSecretKey();
    const wrap = finalizeEvent({ kind: 1059, created_at: NOW, tags: [['p', nodePk]], content: nip44Encrypt(JSON.stringify(forged), conversationKey(eph, nodePk)) }, eph);
    const v2 = await intake.handle(wrap);
    assert.equal(!v2.ok && v2.reason, 'unwrap');
    assert.match((!v2.ok && v2.detail) || '', /seal-signature/);
  });

  void test('stale and future rumors', async () => {
    const { intake } = await setup();
    const stale = await intake.handle(request(takeSell(), { rumorCreatedAt: NOW - 11 }));
    assert.equal(!stale.ok && stale.reason, 'stale');
    assert.ok((await intake.handle(request(req('fiat-sent', { id: ORDER_ID }), { rumorCreatedAt: NOW - 10 }))).ok);
    const future = await intake.handle(request(takeSell(), { rumorCreatedAt: NOW + 301 }));
    assert.equal(!future.ok && future.reason, 'stale');
    assert.ok((await intake.handle(request(req('fiat-sent', { id: ORDER_ID }), { rumorCreatedAt: NOW + 300 }))).ok);
  });

  void test('garbage content, wrong arity, 2-element payment_request, unknown action', async () => {
    const { intake } = await setup();
    const m = req('add-invoice', { id: ORDER_ID });
    const body = serializeMessage(m);
    const contents = [
      'not json',
      '{}',
      '[]',
      `[${body}]`,
      `[${body},null,null]`,
      body.replace('"add-invoice"', '"no-such-action"'),
      `[${body.replace('"payload":null', '"payload":{"payment_request":[null,"lnbc1"]}')},null]`,
      `[${body},"zz"]`,
    ];
    for (const c of contents) {
      const trade = generateSecretKey();
      const v = await intake.handle(wrapRequest({ message: m, tradeSk: trade, recipient: nodePk, now: NOW, rawContent: c }));
      assert.equal(!v.ok && v.reason, 'parse', c);
    }
  });

  void test('tuple signature: missing, wrong key, over another message', async () => {
    const { intake } = await setup();
    const m = req('fiat-sent', { id: ORDER_ID });
    const v1 = await intake.handle(request(m, { signature: null }));
    assert.equal(!v1.ok && v1.reason, 'tuple-signature');
    const v2 = await intake.handle(request(m, { signature: signMessage(m, generateSecretKey()) }));
    assert.equal(!v2.ok && v2.reason, 'tuple-signature');
    const trade = generateSecretKey();
    const v3 = await intake.handle(request(m, { tradeSk: trade, signature: signMessage(req('release', { id: ORDER_ID }), trade) }));
    assert.equal(!v3.ok && v3.reason, 'tuple-signature');
    // full privacy: a garbage-but-well-formed signature is ignored
    const v4 = await intake.handle(wrapRequest({ message: m, tradeSk: trade, recipient: nodePk, now: NOW, signature: 'ab'.repeat(64) }));
    assert.ok(v4.ok);
  });

  void test('structure: add-invoice without payment_request, new-order without order', async () => {
    const { intake, db } = await setup();
    const identity = generateSecretKey();
    const v1 = await intake.handle(request(req('new-order', { tradeIndex: 1n }), { identitySk: identity }));
    assert.equal(!v1.ok && v1.reason, 'structure');
    assert.equal(await getUser(db, getPublicKey(identity)), undefined, 'no user row for a malformed request');
    const v2 = await intake.handle(request(req('release')));
    assert.equal(!v2.ok && v2.reason, 'structure');
  });
});

void describe('intake: trade index', () => {
  void test('known user: stale index gets cant-do invalid_trade_index to the trade key', async () => {
    const { intake, db, outbox, dispatched } = await setup();
    const identity = generateSecretKey();
    await insertUser(db, { pubkey: getPublicKey(identity), last_trade_index: 5, created_at: NOW });
    const trade = generateSecretKey();
    const v = await intake.handle(request(takeSell(5n), { identitySk: identity, tradeSk: trade }));
    assert.equal(!v.ok && v.reason, 'trade-index');
    assert.equal(dispatched.length, 0);
    assert.equal(outbox.sent.length, 1);
    const sent = outbox.sent[0]!;
    assert.equal(sent.to, getPublicKey(trade));
    assert.equal(sent.queue, 'cant-do');
    assert.deepEqual(sent.message.kind.payload, { cant_do: 'invalid_trade_index' });
    assert.equal(sent.message.kind.id, ORDER_ID);
    assert.equal(sent.message.kind.request_id, 7n);
    // a greater index passes
    assert.ok((await intake.handle(request(takeSell(6n), { identitySk: identity }))).ok);
  });

  void test('known user: index 0 or null is dropped silently and does not reach the handler (HQ-4)', async () => {
    const { intake, db, outbox, dispatched } = await setup();
    const identity = generateSecretKey();
    await insertUser(db, { pubkey: getPublicKey(identity), last_trade_index: 9, created_at: NOW });
    for (const idx of [0n, null, -1n]) {
      const m = req('new-order', { tradeIndex: idx, payload: { order: smallOrder() } });
      const v = await intake.handle(request(m, { identitySk: identity }));
      assert.equal(!v.ok && v.reason, 'trade-index', String(idx));
    }
    assert.equal(outbox.sent.length, 0);
    assert.equal(dispatched.length, 0);
    assert.equal((await getUser(db, getPublicKey(identity)))?.last_trade_index, 9);
  });

  void test('unknown user: index 0 dropped, null in reputation mode dropped, other actions unaffected', async () => {
    const { intake, db } = await setup();
    const identity = generateSecretKey();
    const v0 = await intake.handle(request(takeSell(0n), { identitySk: identity }));
    assert.equal(!v0.ok && v0.reason, 'trade-index');
    const vn = await intake.handle(request(takeSell(null), { identitySk: identity }));
    assert.equal(!vn.ok && vn.reason, 'trade-index');
    assert.equal(await getUser(db, getPublicKey(identity)), undefined);
    assert.ok((await intake.handle(request(req('fiat-sent', { id: ORDER_ID, tradeIndex: 0n }), { identitySk: identity }))).ok);
  });

  void test('gateTradeIndex: full privacy with an index creates nothing', async () => {
    const created: string[] = [];
    const store: TradeIndexStore = {
      lastTradeIndex: async () => null,
      createUser: async (id) => {
        created.push(id);
      },
    };
    const trade = getPublicKey(generateSecretKey());
    const parsed = parseRumorContent(`[${serializeMessage(takeSell(3n))},null]`);
    assert.deepEqual(await gateTradeIndex(store, parsed, trade, trade, NOW), { ok: true });
    assert.deepEqual(created, []);
    const identity = getPublicKey(generateSecretKey());
    assert.deepEqual(await gateTradeIndex(store, parsed, identity, trade, NOW), { ok: true });
    assert.deepEqual(created, [identity]);
  });

  void test('requests of one identity are processed one at a time, in order', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { intake } = await setup({
      dispatch: async (m) => {
        order.push(`start ${m.kind.trade_index}`);
        if (m.kind.trade_index === 1n) await gate;
        order.push(`end ${m.kind.trade_index}`);
      },
    });
    const identity = generateSecretKey();
    const p1 = intake.handle(request(takeSell(1n), { identitySk: identity }));
    const p2 = intake.handle(request(req('fiat-sent', { id: ORDER_ID, tradeIndex: 2n }), { identitySk: identity }));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['start 1']);
    release();
    await Promise.all([p1, p2]);
    await intake.idle();
    assert.deepEqual(order, ['start 1', 'end 1', 'start 2', 'end 2']);
  });

  void test('concurrency bound: excess requests wait, then overflow is dropped as overloaded', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { intake } = await setup({ limits: { maxConcurrent: 1, maxQueued: 1 }, dispatch: () => gate });
    const p = [0, 1, 2].map(() => intake.handle(request(req('fiat-sent', { id: ORDER_ID }))));
    const third = await p[2]!;
    assert.equal(!third.ok && third.reason, 'overloaded');
    assert.deepEqual(intake.stats().queued, 1);
    release();
    assert.ok((await p[0]!).ok);
    assert.ok((await p[1]!).ok);
  });

  void test('a throwing dispatch is logged and counted, never thrown', async () => {
    const { intake } = await setup({ dispatch: async () => Promise.reject(new Error('boom')) });
    const v = await intake.handle(request(req('fiat-sent', { id: ORDER_ID })));
    assert.ok(v.ok);
    assert.equal(intake.counters()['dispatch-error'], 1);
  });
});

void describe('gates (pure)', () => {
  void test('gateKind / gateSize / gatePow / gateFreshness', () => {
    assert.equal(gateKind({ kind: 1059 }).ok, true);
    assert.equal(gateKind({ kind: '1059' }).ok, false);
    assert.equal(gateSize({ content: 'x'.repeat(11) }, 10).ok, false);
    assert.equal(gateSize({ content: 'x'.repeat(10), tags: [] }, 10).ok, true);
    assert.equal(gateSize({ content: '', tags: new Array(65).fill(['p']) }, 10).ok, false);
    const mined = minePow({ pubkey: nodePk, created_at: NOW, kind: 1059, tags: [], content: '' }, 6);
    assert.equal(gatePow(mined, 6).ok, true);
    assert.equal(gatePow({ id: 'f'.repeat(64) }, 1).ok, false);
    assert.equal(gatePow({ id: 'f'.repeat(64) }, 0).ok, true);
    assert.equal(gatePow({}, 1).ok, false);
    assert.equal(gateFreshness(NOW - 10, NOW, 10, 300).ok, true);
    assert.equal(gateFreshness(NOW - 11, NOW, 10, 300).ok, false);
    assert.equal(gateFreshness(NOW + 301, NOW, 10, 300).ok, false);
  });
});
