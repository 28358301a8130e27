/**
 * Protocol v2 beside v1, end to end against the BUILT daemon over the relay, with
 * @rust-nostr/nostr-sdk clients (test/e2e/rust-trader.ts: its own gift wraps, its own kind-14
 * events signed and NIP-44-encrypted by the SDK, hand-written message JSON):
 * - one sell trade with the seller on gift wraps (v1) and the buyer on kind 14 (v2), with a daemon
 *   restart mid-trade: every message on the right kind to the right key, one settle, one payout;
 * - a trade where both sides speak v2 only.
 * The node runs `transport = "both"` and says so in its 38385 (protocol_version "2").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from '../../src/db/sqlite-driver.js';
import { WebSocket } from 'ws';
import { finalizeEvent, type NostrEvent } from '../../src/crypto/event.js';
import { generateSecretKey, getPublicKey, schnorrSign, sha256 } from '../../src/crypto/secp.js';
import { buildDirectRequest } from '../../src/nostr/direct-message.js';
import { identityProofPayload } from '../../src/protocol/direct.js';
import { serializeMessage } from '../../src/protocol/serialize.js';
import { msg, waitFor } from './e2e-harness.js';
import { escrowOf, orderRow, paymentsOf, settlesOf, startE2E, tagValue, waitForStatus, type E2E } from './e2e-harness.js';
import { mostroJson, type Json, type RustReply } from './rust-trader.js';
import { RustTrader } from './rust-trader-proxy.js';
import { restartDaemon } from './reliability/faults-support.js';

function payloadOrder(r: RustReply): Record<string, Json> {
  const p = r.kind.payload as Record<string, Json> | null;
  if (p !== null && typeof p['order'] === 'object' && p['order'] !== null) return p['order'] as Record<string, Json>;
  const pr = p?.['payment_request'];
  if (Array.isArray(pr) && typeof pr[0] === 'object' && pr[0] !== null) return pr[0] as Record<string, Json>;
  throw new Error(`no order in ${r.raw}`);
}

const sellOrder = {
  order: {
    kind: 'sell', status: 'pending', amount: 0, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 50,
    payment_method: 'bank transfer', premium: 0, created_at: 0, expires_at: null,
  },
};

void describe('e2e protocol v2 beside v1 (rust-nostr clients, transport = "both")', () => {
  let e: E2E;
  const traders: RustTrader[] = [];
  before(async () => {
    // debug: the intake logs each drop with its reason (the restart in the mixed trade comes back at info)
    e = await startE2E({ settings: { mostro: { transport: 'both' } }, logLevel: 'debug' });
  });
  after(async () => {
    await Promise.allSettled(traders.map((t) => t.close()));
    await e.close();
  });

  /** Every event the relay holds addressed to `key`, by kind; and who authored them. */
  function relayKindsTo(key: string): { kinds: Set<number>; authors: Set<string> } {
    const evs = e.sb.relay.events().filter((ev) => (ev.kind === 1059 || ev.kind === 14) && tagValue(ev, 'p') === key);
    return { kinds: new Set(evs.map((ev) => ev.kind)), authors: new Set(evs.filter((ev) => ev.kind === 14).map((ev) => ev.pubkey)) };
  }

  async function assertTransport(t: RustTrader, key: string, eventKind: 1059 | 14, version: 1 | 2): Promise<number> {
    const mine = (await t.replies()).filter((r) => r.to === key);
    assert.ok(mine.length > 0);
    for (const r of mine) {
      assert.equal(r.eventKind, eventKind, `${r.kind.action} to ${key.slice(0, 8)} came as kind ${r.eventKind}`);
      assert.equal(r.kind.version, version, `${r.kind.action} version`);
    }
    const onRelay = relayKindsTo(key);
    assert.deepEqual(onRelay.kinds, new Set([eventKind]), `the relay holds only kind ${eventKind} for ${key.slice(0, 8)}`);
    if (eventKind === 14) assert.deepEqual(onRelay.authors, new Set([e.sb.nodePubkey]));
    return mine.length;
  }

  void test('the info event advertises protocol v2', async () => {
    const t = await RustTrader.connect(e.sb.relay.url, e.sb.nodePubkey, { v2: true });
    traders.push(t);
    let info: Array<{ tags: string[][] }> = [];
    for (let i = 0; i < 40 && info.length === 0; i++) {
      info = await t.fetchNodeEvents(38385);
      if (info.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(info.length > 0, 'a 38385 was published');
    assert.deepEqual(info[0]!.tags.find((x) => x[0] === 'protocol_version'), ['protocol_version', '2']);
    assert.deepEqual(info[0]!.tags.find((x) => x[0] === 'pow_first_contact'), ['pow_first_contact', '0']);
  });

  // (a bad event signature and a replayed id never get past a relay — the relay refuses the first
  // and does not re-broadcast the second — so those are covered by test/unit/nostr/intake-v2.test.ts)
  void test('hostile kind-14 input over the relay: each dropped before any handler with its reason, no reply; the daemon keeps serving', async () => {
    const { sb } = e;
    const now = () => Math.floor(Date.now() / 1000);
    const node = sb.nodePubkey;
    const m = msg('orders', undefined, { payload: { ids: ['308e1272-d5f4-47e6-bd97-3504baea9c23'] }, requestId: 77n });
    const json = serializeMessage({ ...m, kind: { ...m.kind, version: 2 } });
    const authors: string[] = [];
    const hostile: Array<[string, NostrEvent]> = [];
    const add = (reason: string, ev: NostrEvent) => {
      authors.push(ev.pubkey);
      hostile.push([reason, ev]);
    };
    const base = () => buildDirectRequest({ message: m, tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: node, now: now() });
    const good = base();
    const stranger = generateSecretKey();
    add('unwrap', finalizeEvent({ kind: 14, created_at: now(), tags: [['p', node]], content: base().content }, stranger));
    add('parse', buildDirectRequest({ message: m, tradeSk: generateSecretKey(), recipient: node, now: now(), rawContent: `[${json},null]` }));
    add('tuple-signature', buildDirectRequest({ message: m, tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: node, now: now(), signature: null }));
    const identity = generateSecretKey();
    const victim = getPublicKey(generateSecretKey());
    const grafted = { pubkey: getPublicKey(identity), signature: schnorrSign(sha256(identityProofPayload(victim, json)), identity) };
    add('identity-proof', buildDirectRequest({ message: m, tradeSk: generateSecretKey(), identitySk: identity, recipient: node, now: now(), identityProof: grafted }));

    const ws = new WebSocket(sb.relay.url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const seen = sb.logs().length;
    for (const [, ev] of hostile) ws.send(JSON.stringify(['EVENT', ev]));
    // then a valid request: answered
    ws.send(JSON.stringify(['EVENT', good]));
    await waitFor('the valid request answered', () => e.sb.relay.events().some((x) => x.kind === 14 && tagValue(x, 'p') === good.pubkey));
    const drops = () => sb.logs().slice(seen).filter((l) => l['msg'] === 'intake: event dropped').map((l) => String(l['reason']));
    const expected = hostile.map(([r]) => r).sort();
    await waitFor(`drops ${expected.join(',')}`, () => drops().length >= expected.length);
    assert.deepEqual(drops().sort(), expected);
    ws.close();
    // no reply to any hostile author; the valid one got exactly one
    for (const a of authors) assert.equal(relayKindsTo(a).kinds.size, 0);
    assert.equal(sb.relay.events().filter((x) => tagValue(x, 'p') === good.pubkey).length, 1);
    assert.ok(sb.daemon !== null, 'the daemon is still running');
  });

  void test('sell trade: seller on gift wraps, buyer on kind 14, daemon restarted mid-trade; each key keeps its transport', async () => {
    const { sb } = e;
    const seller = await RustTrader.connect(sb.relay.url, sb.nodePubkey);
    const buyer = await RustTrader.connect(sb.relay.url, sb.nodePubkey, { v2: true });
    traders.push(seller, buyer);
    const ts = await seller.tradeKey();
    const tb = await buyer.tradeKey();

    await seller.send(mostroJson('order', { requestId: 201, tradeIndex: 1, action: 'new-order', payload: sellOrder }), ts);
    const created = await seller.waitFor(ts, 'new-order');
    const orderId = created.kind.id;
    assert.ok(orderId !== undefined);
    assert.equal(created.eventKind, 1059);

    await buyer.send(mostroJson('order', { version: 2, requestId: 202, tradeIndex: 1, id: orderId, action: 'take-sell', payload: null }), tb);
    const addInvoice = await buyer.waitFor(tb, 'add-invoice');
    assert.equal(addInvoice.eventKind, 14);
    assert.equal(addInvoice.kind.version, 2);
    assert.equal(addInvoice.kind.request_id, 202);
    assert.equal(payloadOrder(addInvoice)['amount'], 49_850);
    const waiting = await seller.waitFor(ts, 'waiting-buyer-invoice');
    assert.equal(waiting.eventKind, 1059);
    const row = orderRow(sb, orderId);
    assert.equal(row?.['buyer_pubkey'], tb);
    assert.equal(row?.['master_buyer_pubkey'], buyer.identity, 'v2 identity proof → the buyer identity is the master key');

    const payout = sb.sim.createPayeeInvoice({ sats: 49_850, expirySeconds: 7200 });
    await buyer.send(
      mostroJson('order', { version: 2, requestId: 203, tradeIndex: null, id: orderId, action: 'add-invoice', payload: { payment_request: [null, payout.paymentRequest, null] } }),
      tb,
    );
    const pays = [await seller.waitFor(ts, 'pay-invoice'), await seller.waitFor(ts, 'pay-invoice')];
    assert.ok(pays.every((r) => r.eventKind === 1059));
    await buyer.waitFor(tb, 'waiting-seller-to-pay');
    const escrow = escrowOf(sb, orderId);
    sb.sim.payHoldInvoice(escrow.hash);
    // unsolicited hold-invoice events, each on its recipient's transport
    const took = await seller.waitFor(ts, 'buyer-took-order');
    assert.equal(took.eventKind, 1059);
    const accepted = await buyer.waitFor(tb, 'hold-invoice-payment-accepted');
    assert.equal(accepted.eventKind, 14);
    await waitForStatus(sb, orderId, 'active');

    // restart: the transport of each key comes back from the database
    await restartDaemon(sb, 'SIGTERM');
    const loaded = sb.logs().filter((l) => l['msg'] === 'transports loaded');
    assert.equal(loaded.length, 2);
    assert.equal(loaded[0]!['remembered'], 0);
    // the v2 buyer's key (and the v2 key of the hostile-input test); gift-wrap keys need no row
    assert.ok(typeof loaded[1]!['remembered'] === 'number' && loaded[1]!['remembered'] >= 1, JSON.stringify(loaded[1]));

    {
      const db = new Database(`${sb.dir}/mostro.db`, { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare('SELECT pubkey, transport FROM mostrod_ts_transport WHERE pubkey IN (?, ?)').all(ts, tb);
        assert.deepEqual(rows, [{ pubkey: tb, transport: 'nip44' }], 'the v2 key is persisted; the gift-wrap key needs no row');
      } finally {
        db.close();
      }
    }

    await buyer.send(mostroJson('order', { version: 2, requestId: 204, tradeIndex: null, id: orderId, action: 'fiat-sent', payload: null }), tb);
    const fso = await buyer.waitFor(tb, 'fiat-sent-ok');
    assert.equal(fso.eventKind, 14);
    assert.equal((await seller.waitFor(ts, 'fiat-sent-ok')).eventKind, 1059);

    await seller.send(mostroJson('order', { requestId: 205, tradeIndex: null, id: orderId, action: 'release', payload: null }), ts);
    assert.equal((await seller.waitFor(ts, 'hold-invoice-payment-settled')).eventKind, 1059);
    assert.equal((await buyer.waitFor(tb, 'released')).eventKind, 14);
    assert.equal((await buyer.waitFor(tb, 'purchase-completed')).eventKind, 14);
    await waitForStatus(sb, orderId, 'success');
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(paymentsOf(sb, payout.hash), 1);
    assert.equal(sb.sim.paymentsByHash.get(payout.hash)?.amountMsat, 49_850_000n);

    // every message on the right kind to the right key, and nothing on the other kind
    assert.ok((await assertTransport(seller, ts, 1059, 1)) >= 7);
    assert.ok((await assertTransport(buyer, tb, 14, 2)) >= 6);
    assert.equal((await seller.rejected()) + (await buyer.rejected()), 0, 'every reply opened by rust-nostr and came from the node');
  });

  void test('v2-only trade: both sides on kind 14 (full-privacy seller, reputation buyer)', async () => {
    const { sb } = e;
    const seller = await RustTrader.connect(sb.relay.url, sb.nodePubkey, { v2: true, fullPrivacy: true });
    const buyer = await RustTrader.connect(sb.relay.url, sb.nodePubkey, { v2: true });
    traders.push(seller, buyer);
    const ts = await seller.tradeKey();
    const tb = await buyer.tradeKey();

    await seller.send(mostroJson('order', { version: 2, requestId: 301, tradeIndex: null, action: 'new-order', payload: sellOrder }), ts);
    const created = await seller.waitFor(ts, 'new-order');
    const orderId = created.kind.id;
    assert.ok(orderId !== undefined);
    assert.equal(orderRow(sb, orderId)?.['master_seller_pubkey'], ts, 'full privacy: master key = trade key');

    await buyer.send(mostroJson('order', { version: 2, requestId: 302, tradeIndex: 1, id: orderId, action: 'take-sell', payload: null }), tb);
    await buyer.waitFor(tb, 'add-invoice');
    await seller.waitFor(ts, 'waiting-buyer-invoice');
    const payout = sb.sim.createPayeeInvoice({ sats: 49_850, expirySeconds: 7200 });
    await buyer.send(
      mostroJson('order', { version: 2, requestId: 303, tradeIndex: null, id: orderId, action: 'add-invoice', payload: { payment_request: [null, payout.paymentRequest, null] } }),
      tb,
    );
    await seller.waitFor(ts, 'pay-invoice');
    await buyer.waitFor(tb, 'waiting-seller-to-pay');
    const escrow = escrowOf(sb, orderId);
    sb.sim.payHoldInvoice(escrow.hash);
    await buyer.waitFor(tb, 'hold-invoice-payment-accepted');
    await waitForStatus(sb, orderId, 'active');
    await buyer.send(mostroJson('order', { version: 2, requestId: 304, tradeIndex: null, id: orderId, action: 'fiat-sent', payload: null }), tb);
    await seller.waitFor(ts, 'fiat-sent-ok');
    await seller.send(mostroJson('order', { version: 2, requestId: 305, tradeIndex: null, id: orderId, action: 'release', payload: null }), ts);
    await seller.waitFor(ts, 'hold-invoice-payment-settled');
    await buyer.waitFor(tb, 'purchase-completed');
    await waitForStatus(sb, orderId, 'success');
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(paymentsOf(sb, payout.hash), 1);
    await assertTransport(seller, ts, 14, 2);
    await assertTransport(buyer, tb, 14, 2);
    assert.equal((await seller.rejected()) + (await buyer.rejected()), 0);
  });

  void test('a banned identity on kind 14: a ban written behind the daemon is loaded at start; its new-order gets cant-do not_authorized, read by rust-nostr', async () => {
    const { sb } = e;
    const spammer = await RustTrader.connect(sb.relay.url, sb.nodePubkey, { v2: true });
    traders.push(spammer);
    // As sqlite3 (or the Rust daemon's tooling) would leave it: the upstream column, set directly.
    const db = new Database(`${sb.dir}/mostro.db`);
    try {
      db.pragma('busy_timeout = 5000');
      db.prepare(
        `INSERT INTO users (pubkey, is_admin, is_solver, is_banned, category, last_trade_index, total_reviews, total_rating, last_rating, max_rating, min_rating, created_at)
         VALUES (?, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, ?)`,
      ).run(spammer.identity, Math.floor(Date.now() / 1000));
    } finally {
      db.close();
    }
    await restartDaemon(sb, 'SIGTERM');
    assert.ok(sb.logs().some((l) => l['msg'] === 'banned identities loaded' && l['banned'] === 1), 'the ban list was read at start');

    const ts = await spammer.tradeKey();
    await spammer.send(mostroJson('order', { version: 2, requestId: 401, tradeIndex: 1, action: 'new-order', payload: sellOrder }), ts);
    const refused = await spammer.waitFor(ts, 'cant-do');
    assert.equal(refused.eventKind, 14);
    assert.equal(refused.kind.request_id, 401);
    assert.deepEqual(refused.kind.payload, { cant_do: 'not_authorized' }, 'protocol-v2 clients (mostro-core >= 0.8.4) get the reason itself');
    assert.equal(await spammer.rejected(), 0);
  });
});
