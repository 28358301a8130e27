/**
 * Protocol v2 (kind 14) through the one intake pipeline: accepted requests reach the handler
 * exactly like gift-wrapped ones; hostile input is dropped before any handler, counted, and the
 * intake keeps serving. Real SQLite (users, transports), real crypto.
 */
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Inbound } from '../../../src/app/inbound.js';
import type { Settings } from '../../../src/config/types.js';
import { conversationKey } from '../../../src/crypto/conversation-key.js';
import { finalizeEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey, schnorrSign, sha256 } from '../../../src/crypto/secp.js';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { getKeyTransport } from '../../../src/db/transports.js';
import { getUser, insertUser } from '../../../src/db/users.js';
import { ActiveKeys } from '../../../src/nostr/active-keys.js';
import type { AuthorLimits } from '../../../src/nostr/author-limiter.js';
import { buildDirectRequest, type DirectRequestOptions } from '../../../src/nostr/direct-message.js';
import { wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { InThreadCrypto, type CryptoExecutor, type CryptoOp, type TaskOf } from '../../../src/nostr/crypto-pool.js';
import type { CryptoResults } from '../../../src/nostr/crypto-tasks.js';
import { Intake } from '../../../src/nostr/intake.js';
import { nip44Encrypt } from '../../../src/nostr/nip44.js';
import { leadingZeroBits } from '../../../src/nostr/pow.js';
import { TransportRegistry } from '../../../src/nostr/transport-registry.js';
import { identityProofPayload, serializeDirectContent } from '../../../src/protocol/direct.js';
import { serializeMessage } from '../../../src/protocol/serialize.js';
import type { Message } from '../../../src/protocol/types.js';
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

/**
 * The event-loop thread's crypto, reporting `threads` (1: the intake takes the paths it takes with
 * a pool — a first contact's signature check and the rest of its crypto as one task while the
 * priority lane is empty); the tasks it is given are recorded.
 */
class RecordingCrypto implements CryptoExecutor {
  readonly ops: CryptoOp[] = [];
  private readonly inner = new InThreadCrypto({ secretKey: node, pubkey: nodePk });
  constructor(readonly threads: number) {}
  run<K extends CryptoOp>(task: TaskOf<K>): Promise<CryptoResults[K]> {
    this.ops.push(task.op);
    return this.inner.run(task);
  }
  stats() {
    return this.inner.stats();
  }
  close() {
    return this.inner.close();
  }
}

/** Every test below runs with crypto on the event-loop thread and with a pool's paths. */
const SHAPES = ['event-loop', 'pool-shaped'] as const;
let shape: (typeof SHAPES)[number] = 'event-loop';

async function setup(mostro: Partial<Settings['mostro']> = {}, authorLimits: Partial<AuthorLimits> = {}) {
  const db = await testDb();
  dbs.push(db);
  const settings = testSettings({ mostro: { transport: 'both', ...mostro } });
  const clock = new FakeClock(NOW);
  const outbox = new MemoryOutbox(node, clock);
  const transports = new TransportRegistry(db, settings, logger);
  const known = new ActiveKeys(db, [nodePk]);
  await known.reload();
  const dispatched: Array<{ message: Message; inbound: Inbound }> = [];
  const crypto = new RecordingCrypto(shape === 'pool-shaped' ? 1 : 0);
  const intake = new Intake({
    crypto,
    keys: { secretKey: node, pubkey: nodePk },
    settings,
    clock,
    logger,
    tradeIndexStore: dbTradeIndexStore(db),
    outbox,
    knownSenders: known,
    transports,
    authorLimits,
    dispatch: async (message, inbound) => {
      dispatched.push({ message, inbound });
    },
  });
  return { db, clock, outbox, intake, dispatched, transports, known, settings, crypto };
}

function direct(message: Message, o: Partial<DirectRequestOptions> = {}): NostrEvent {
  return buildDirectRequest({ message, tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: nodePk, now: NOW, ...o });
}

const takeSell = (tradeIndex: bigint | null = 1n) => req('take-sell', { id: ORDER_ID, requestId: 7n, tradeIndex });
const fiatSent = () => req('fiat-sent', { id: ORDER_ID, requestId: 9n });

for (const each of SHAPES) {
  void describe(`crypto ${each}`, () => {
    beforeEach(() => {
      shape = each;
    });

    void describe('intake v2: accepted requests', () => {
      void test('reputation mode: identity from the proof, trade key = author; recorded as nip44, persisted; known at once', async () => {
        const { intake, dispatched, db, transports, known } = await setup();
        const identity = generateSecretKey();
        const trade = generateSecretKey();
        const ev = direct(takeSell(3n), { identitySk: identity, tradeSk: trade });
        assert.equal(ev.kind, 14);
        assert.equal(ev.pubkey, getPublicKey(trade));
        const v = await intake.handle(ev);
        assert.ok(v.ok, JSON.stringify(!v.ok && v));
        assert.equal(v.transport, 'nip44');
        assert.deepEqual(dispatched[0]!.inbound, {
          identity: getPublicKey(identity),
          tradeKey: getPublicKey(trade),
          createdAt: NOW,
          eventId: ev.id,
          fullPrivacy: false,
        });
        assert.equal(dispatched[0]!.message.kind.version, 2);
        assert.equal((await getUser(db, getPublicKey(identity)))?.last_trade_index, 3);
        assert.equal(transports.transportOf(getPublicKey(trade)), 'nip44');
        assert.equal(await getKeyTransport(db, getPublicKey(trade)), 'nip44');
        assert.ok(known.has(getPublicKey(trade)));
        assert.deepEqual(intake.counters(), { dispatched: 1 });
      });

      void test('crypto tasks: a first contact takes one with a pool (signature and the rest together), two without; a forgery stops at its signature; a known key takes one', async () => {
        const s = await setup();
        const pool = shape === 'pool-shaped';
        const trade = generateSecretKey();
        assert.ok((await s.intake.handle(direct(takeSell(3n), { tradeSk: trade }))).ok);
        assert.deepEqual(s.crypto.ops.splice(0), pool ? ['open-direct'] : ['verify-event', 'open-direct']);
        const ev = direct(fiatSent());
        const v = await s.intake.handle({ ...ev, sig: direct(fiatSent()).sig });
        assert.equal(!v.ok && v.reason, 'signature');
        assert.deepEqual(s.crypto.ops.splice(0), pool ? ['open-direct'] : ['verify-event']);
        assert.ok((await s.intake.handle(direct(fiatSent(), { tradeSk: trade }))).ok);
        assert.deepEqual(s.crypto.ops.splice(0), ['open-direct']);
        assert.equal(s.dispatched.length, 2);
      });

      void test('full privacy: no proof, no trade_sig → identity = trade key', async () => {
        const { intake, dispatched } = await setup();
        const trade = generateSecretKey();
        const v = await intake.handle(buildDirectRequest({ message: takeSell(null), tradeSk: trade, recipient: nodePk, now: NOW }));
        assert.ok(v.ok, JSON.stringify(!v.ok && v));
        assert.equal(dispatched[0]!.inbound.fullPrivacy, true);
        assert.equal(dispatched[0]!.inbound.identity, getPublicKey(trade));
      });

      void test('the handler sees the same Message and Inbound from a gift wrap and from a kind 14', async () => {
        const { intake, dispatched } = await setup();
        const identity = generateSecretKey();
        const m = req('orders', { payload: { ids: [ORDER_ID] }, requestId: 4n });
        const t1 = generateSecretKey();
        const t2 = generateSecretKey();
        assert.ok((await intake.handle(wrapRequest({ message: m, tradeSk: t1, identitySk: identity, recipient: nodePk, now: NOW }))).ok);
        assert.ok((await intake.handle(direct(m, { tradeSk: t2, identitySk: identity }))).ok);
        const [a, b] = dispatched;
        // only the version field tells them apart (1 vs 2, as each client stamps it); no handler reads it
        assert.equal(a!.message.kind.version, 1);
        assert.equal(b!.message.kind.version, 2);
        assert.deepEqual(a!.message, { ...b!.message, kind: { ...b!.message.kind, version: 1 } });
        assert.deepEqual({ ...a!.inbound, tradeKey: '', eventId: '' }, { ...b!.inbound, tradeKey: '', eventId: '' });
      });

      void test('a key switching transport is answered on the new one', async () => {
        const { intake, transports, db } = await setup();
        const trade = generateSecretKey();
        const pk = getPublicKey(trade);
        assert.equal(transports.transportOf(pk), 'gift-wrap', 'never seen → gift wrap');
        // a gift-wrap key needs no row on a "both" node
        const v1Only = generateSecretKey();
        assert.ok((await intake.handle(wrapRequest({ message: fiatSent(), tradeSk: v1Only, recipient: nodePk, now: NOW }))).ok);
        assert.equal(await getKeyTransport(db, getPublicKey(v1Only)), null);
        assert.equal(transports.transportOf(getPublicKey(v1Only)), 'gift-wrap');
        assert.ok((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: trade, recipient: nodePk, now: NOW }))).ok);
        assert.equal(transports.transportOf(pk), 'nip44');
        assert.ok((await intake.handle(wrapRequest({ message: fiatSent(), tradeSk: trade, recipient: nodePk, now: NOW }))).ok);
        assert.equal(transports.transportOf(pk), 'gift-wrap');
        assert.equal(await getKeyTransport(db, pk), 'gift-wrap');
        // a new registry over the same database (a restart) remembers it
        const again = new TransportRegistry(db, testSettings({ mostro: { transport: 'both' } }), logger);
        await again.load();
        assert.equal(again.transportOf(pk), 'gift-wrap');
      });

      void test('stale trade index on v2: invalid_trade_index reply to the trade key, which is now a nip44 key', async () => {
        const { intake, db, outbox, transports } = await setup();
        const identity = generateSecretKey();
        await insertUser(db, { pubkey: getPublicKey(identity), last_trade_index: 5, created_at: NOW });
        const trade = generateSecretKey();
        const v = await intake.handle(direct(takeSell(5n), { identitySk: identity, tradeSk: trade }));
        assert.equal(!v.ok && v.reason, 'trade-index');
        assert.deepEqual(outbox.sent.map((s) => [s.to, s.message.kind.payload]), [[getPublicKey(trade), { cant_do: 'invalid_trade_index' }]]);
        assert.equal(transports.transportOf(getPublicKey(trade)), 'nip44');
      });
    });

    void describe('intake v2: hostile input is dropped before any handler, counted, and the intake keeps serving', () => {
      async function expectDrop(events: unknown[], reason: string, mostro: Partial<Settings['mostro']> = {}) {
        const s = await setup(mostro);
        for (const e of events) {
          const v = await s.intake.handle(e);
          assert.equal(v.ok ? 'ok' : v.reason, reason, JSON.stringify(!v.ok && v.detail));
        }
        assert.equal(s.dispatched.length, 0);
        assert.equal(s.intake.counters()[reason], events.length);
        // still serving
        assert.ok((await s.intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW, pow: mostro.pow_first_contact ?? 0 }))).ok);
        return s;
      }

      void test('bad event signature / id', async () => {
        const ev = direct(takeSell());
        const other = direct(takeSell());
        await expectDrop([{ ...ev, sig: other.sig }, { ...ev, content: other.content }], 'signature');
      });

      void test('replay of an accepted event', async () => {
        const s = await setup();
        const ev = direct(fiatSent());
        assert.ok((await s.intake.handle(ev)).ok);
        const v = await s.intake.handle({ ...ev });
        assert.equal(!v.ok && v.reason, 'duplicate');
        assert.equal(s.dispatched.length, 1);
      });

      void test('wrong p (or none)', async () => {
        const stranger = getPublicKey(generateSecretKey());
        const trade = generateSecretKey();
        const noP = finalizeEvent({ kind: 14, created_at: NOW, tags: [], content: direct(fiatSent(), { tradeSk: trade }).content }, trade);
        await expectDrop([direct(fiatSent(), { pTag: stranger }), noP], 'recipient');
      });

      void test('undecryptable content: encrypted to another key, or not NIP-44 at all', async () => {
        const trade = generateSecretKey();
        const toOther = nip44Encrypt(serializeDirectContent(fiatSent(), null, null), conversationKey(trade, getPublicKey(generateSecretKey())));
        const ev1 = finalizeEvent({ kind: 14, created_at: NOW, tags: [['p', nodePk]], content: toOther }, trade);
        const ev2 = finalizeEvent({ kind: 14, created_at: NOW, tags: [['p', nodePk]], content: 'hello' }, trade);
        await expectDrop([ev1, ev2], 'unwrap');
      });

      void test('bad tuple shapes', async () => {
        const m = serializeMessage(fiatSent());
        const shapes = [
          `[${m},null]`, // v1's 2-tuple
          `[${m},null,null,null]`,
          `{"order":1}`,
          `[${m},"nothex",null]`,
          `[${m},null,["abc","def"]]`,
          `[${m},null,"${'a'.repeat(64)}"]`,
          `[{"order":{"version":2,"action":"no-such-action"}},null,null]`,
          'not json',
        ];
        await expectDrop(shapes.map((rawContent) => direct(fiatSent(), { rawContent })), 'parse');
      });

      void test('trade_sig missing while identity ≠ author; trade_sig by another key', async () => {
        const foreign = schnorrSign(sha256(serializeMessage(fiatSent())), generateSecretKey());
        await expectDrop([direct(fiatSent(), { signature: null }), direct(fiatSent(), { signature: foreign })], 'tuple-signature');
      });

      void test('identity proof grafted from another trade key, or over another message', async () => {
        const identity = generateSecretKey();
        const victimTrade = getPublicKey(generateSecretKey());
        const json = serializeMessage(fiatSent());
        const grafted = { pubkey: getPublicKey(identity), signature: schnorrSign(sha256(identityProofPayload(victimTrade, json)), identity) };
        const attacker = generateSecretKey();
        const wrongMsg = { pubkey: getPublicKey(identity), signature: schnorrSign(sha256(identityProofPayload(getPublicKey(attacker), 'other')), identity) };
        await expectDrop(
          [direct(fiatSent(), { tradeSk: attacker, identityProof: grafted }), direct(fiatSent(), { tradeSk: attacker, identityProof: wrongMsg })],
          'identity-proof',
        );
      });

      void test('first contact without enough PoW; a known key needs only pow', async () => {
        let weak = direct(fiatSent());
        while (leadingZeroBits(weak.id) >= 8) weak = direct(fiatSent());
        const s = await expectDrop([weak], 'first-contact-pow', { pow_first_contact: 8 });
        // an accepted (first-contact) key is recognised at once: its follow-up needs no extra PoW
        const trade = generateSecretKey();
        assert.ok((await s.intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: trade, recipient: nodePk, now: NOW, pow: 8 }))).ok);
        let follow = buildDirectRequest({ message: takeSell(null), tradeSk: trade, recipient: nodePk, now: NOW });
        while (leadingZeroBits(follow.id) >= 8) follow = buildDirectRequest({ message: takeSell(null), tradeSk: trade, recipient: nodePk, now: NOW });
        assert.ok((await s.intake.handle(follow)).ok);
        // the node key (admin) is always known
        let admin = buildDirectRequest({ message: fiatSent(), tradeSk: node, recipient: nodePk, now: NOW });
        while (leadingZeroBits(admin.id) >= 8) admin = buildDirectRequest({ message: fiatSent(), tradeSk: node, recipient: nodePk, now: NOW });
        assert.ok((await s.intake.handle(admin)).ok);
      });

      void test('stale or far-future events', async () => {
        await expectDrop([direct(fiatSent(), { now: NOW - 11 }), direct(fiatSent(), { now: NOW + 301 })], 'stale');
      });

      void test('kind 14 on a gift-wrap-only node; kind 1059 on a nip44-only node', async () => {
        const s = await setup({ transport: 'gift-wrap' });
        const v = await s.intake.handle(direct(fiatSent()));
        assert.equal(!v.ok && v.reason, 'kind');
        const s2 = await setup({ transport: 'nip44' });
        const v2 = await s2.intake.handle(wrapRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW }));
        assert.equal(!v2.ok && v2.reason, 'kind');
      });
    });

    void describe('intake v2: per-author admission (a flooding key is refused cheaply)', () => {
      /** A copy of `ev` whose signature no longer verifies (a forgery naming ev.pubkey). */
      const forge = (ev: NostrEvent): NostrEvent => ({ ...ev, sig: (ev.sig[0] === '0' ? '1' : '0') + ev.sig.slice(1) });

      void test('a key that spent its allowance is refused before any crypto; others are served; it refills', async () => {
        const { intake, clock } = await setup({}, { burst: 5, rate: 2 });
        const flooder = generateSecretKey();
        const verdicts: string[] = [];
        for (let i = 0; i < 12; i++) {
          const v = await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW }));
          verdicts.push(v.ok ? 'dispatched' : v.reason);
        }
        assert.deepEqual(verdicts, [...Array<string>(5).fill('dispatched'), ...Array<string>(7).fill('author-rate')]);
        // Refused before the signature check: a forgery naming the flooder gets the same answer.
        const forged = await intake.handle(forge(buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW })));
        assert.equal(!forged.ok && forged.reason, 'author-rate');
        // ... and before the content is even looked at: content that is no NIP-44 payload at all gets
        // the same answer (the allowance is a map lookup; the payload check a pass over the content).
        const garbled = buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW });
        assert.equal(await intake.handle({ ...garbled, content: '!'.repeat(200) }).then((v) => !v.ok && v.reason), 'author-rate');
        // A key with allowance left and such content: refused by the payload check (no crypto either).
        const fresh = buildDirectRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
        const bad = await intake.handle({ ...fresh, content: '!'.repeat(200) });
        assert.ok(!bad.ok && bad.reason !== 'author-rate', `payload check for a key with allowance, got ${JSON.stringify(bad)}`);
        // Another key is not affected.
        assert.ok((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW }))).ok);
        // One second later the flooder has `rate` events again.
        clock.advance(1);
        const later: boolean[] = [];
        for (let i = 0; i < 3; i++) later.push((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW + 1 }))).ok);
        assert.deepEqual(later, [true, true, false]);
        assert.equal(intake.counters()['author-rate'], 10);
      });

      void test('forgeries naming a known key neither spend its allowance nor cost it its known status', async () => {
        const { intake } = await setup({ pow_first_contact: 8 }, { burst: 3, rate: 1 });
        const victim = generateSecretKey();
        // First contact with enough PoW: from now on the victim is a known key (no first-contact PoW).
        assert.ok((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW, pow: 8 }))).ok);
        for (let i = 0; i < 20; i++) {
          const v = await intake.handle(forge(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW })));
          assert.equal(!v.ok && v.reason, 'signature');
        }
        // Demoted to the first-contact lane, still known (no PoW needed) and its allowance intact (2 left).
        const real: boolean[] = [];
        for (let i = 0; i < 3; i++) {
          let ev = buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW });
          while (leadingZeroBits(ev.id) >= 8) ev = buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW });
          const v = await intake.handle(ev);
          real.push(v.ok);
          if (!v.ok) assert.equal(v.reason, 'author-rate');
        }
        assert.deepEqual(real, [true, true, false]);
      });

      void test('a forgery flood naming a known key cannot lock its real events out (forgeries in flight do not hold its allowance)', async () => {
        const { intake, dispatched } = await setup({}, { burst: 3, rate: 1 });
        const victim = generateSecretKey();
        assert.ok((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW }))).ok);
        // One forgery fails its signature check: the key is now suspected of being forged.
        const first = await intake.handle(forge(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW })));
        assert.equal(!first.ok && first.reason, 'signature');
        // The flood: 200 forgeries in flight at once, the victim's own events among them. Before,
        // the first forgeries filled the victim's allowance (events admitted and not yet verified
        // count against it) and its real events were refused as author-rate.
        const pending: Array<Promise<{ ok: boolean; reason?: string }>> = [];
        const real: Array<Promise<{ ok: boolean; reason?: string }>> = [];
        for (let i = 0; i < 200; i++) {
          pending.push(intake.handle(forge(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW }))));
          if (i === 50 || i === 150) real.push(intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW })));
        }
        const forgedVerdicts = await Promise.all(pending);
        const realVerdicts = await Promise.all(real);
        assert.deepEqual(realVerdicts.map((v) => (v.ok ? 'dispatched' : v.reason)), ['dispatched', 'dispatched']);
        // Every forgery was checked and dropped for its signature (none reached a handler); the
        // victim's allowance went only to its own events (1 + 2 of 3).
        assert.deepEqual(new Set(forgedVerdicts.map((v) => (v.ok ? 'dispatched' : v.reason))), new Set(['signature']));
        assert.equal(dispatched.length, 3);
        const after = await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW }));
        assert.equal(!after.ok && after.reason, 'author-rate', 'the real key is still held to its own allowance');
      });

      void test('with pow_first_contact set, a suspected key\'s events past its reserved allowance still pay the base pow only (its real client does not know it is being forged)', async () => {
        const { intake } = await setup({ pow_first_contact: 8 }, { burst: 3, rate: 1 });
        const victim = generateSecretKey();
        assert.ok((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW, pow: 8 }))).ok);
        assert.equal(await intake.handle(forge(buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW }))).then((v) => !v.ok && v.reason), 'signature');
        const weak = (): NostrEvent => {
          let ev = buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW });
          while (leadingZeroBits(ev.id) >= 8) ev = buildDirectRequest({ message: fiatSent(), tradeSk: victim, recipient: nodePk, now: NOW });
          return ev;
        };
        const flood = Array.from({ length: 20 }, () => intake.handle(forge(weak())));
        const real = intake.handle(weak());
        const verdicts = await Promise.all(flood);
        assert.deepEqual(new Set(verdicts.map((v) => (v.ok ? 'dispatched' : v.reason))), new Set(['signature']));
        const r = await real;
        assert.equal(r.ok ? 'dispatched' : r.reason, 'dispatched');
      });

      void test('first contact without pow_first_contact is refused before the signature check', async () => {
        const { intake } = await setup({ pow_first_contact: 8 });
        let weak = buildDirectRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
        while (leadingZeroBits(weak.id) >= 8) weak = buildDirectRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW });
        const v = await intake.handle(forge(weak));
        assert.equal(!v.ok && v.reason, 'first-contact-pow', 'a forgery without the work is dropped for the work, not after a signature check');
      });

      void test('one known key floods concurrently: only as many events as it has tokens get past admission, the rest is refused before any crypto, a second key is served', async () => {
        const { intake } = await setup({}, { burst: 10, rate: 1, maxQueued: 4 });
        const flooder = generateSecretKey();
        assert.ok((await intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW }))).ok);
        const flood = Array.from({ length: 200 }, () => intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW })));
        const other = intake.handle(buildDirectRequest({ message: fiatSent(), tradeSk: generateSecretKey(), recipient: nodePk, now: NOW }));
        const verdicts = await Promise.all(flood);
        assert.ok((await other).ok, 'the other key is served');
        const ok = verdicts.filter((v) => v.ok).length;
        assert.equal(ok, 9, 'the flooder gets exactly its remaining allowance');
        // Admitted-but-unverified events count against the bucket: the other 191 are refused at once,
        // none waits in a crypto lane (where it could get other users' first contacts shed).
        assert.equal(verdicts.filter((v) => !v.ok && v.reason === 'author-rate').length, 191);
      });
      void test('the raw-frame gate refuses exactly the frames of a key over its allowance, before decoding, counted as author-rate', async () => {
        const { intake } = await setup({}, { burst: 3, rate: 1 });
        const flooder = generateSecretKey();
        const frame = (e: NostrEvent) => Buffer.from(JSON.stringify(['EVENT', 'sub', e]));
        const mk = (sk = flooder) => buildDirectRequest({ message: fiatSent(), tradeSk: sk, recipient: nodePk, now: NOW });
        assert.equal(intake.refusesFrame(frame(mk())), false, 'a key never seen');
        for (let i = 0; i < 3; i++) assert.ok((await intake.handle(mk())).ok);
        const before = intake.counters()['author-rate'] ?? 0;
        const refusedFrame = frame(mk());
        assert.equal(intake.refusesFrame(refusedFrame), true, 'spent: refused from the frame');
        assert.equal(intake.counters()['author-rate'], before + 1, 'counted as the decoded event would be');
        // the decoded event of a refused frame is refused by the pipeline too
        const decoded = await intake.handle((JSON.parse(refusedFrame.toString()) as unknown[])[2]);
        assert.equal(!decoded.ok && decoded.reason, 'author-rate');
        assert.equal(intake.refusesFrame(frame(mk(generateSecretKey()))), false, 'another key');
        // a gift wrap is never refused from the frame, even one whose wrapping key is the flooder's
        const wrap = wrapRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW });
        assert.equal(intake.refusesFrame(frame({ ...wrap, pubkey: getPublicKey(flooder) })), false);
      });

      void test('a gift-wrap-only node never refuses a frame by its author', async () => {
        const { intake } = await setup({ transport: 'gift-wrap' }, { burst: 1, rate: 1 });
        const flooder = generateSecretKey();
        const e = buildDirectRequest({ message: fiatSent(), tradeSk: flooder, recipient: nodePk, now: NOW });
        await intake.handle(e);
        await intake.handle(e);
        assert.equal(intake.refusesFrame(Buffer.from(JSON.stringify(['EVENT', 'sub', e]))), false);
      });
    });
  });
}
