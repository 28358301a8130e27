import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newOrder } from '../../../../src/app/handlers/new-order.js';
import { sql } from 'kysely';
import { countOrderChanges, getOrderChange } from '../../../../src/db/order-changes.js';
import { casUpdateOrder, findOrders, getOrder } from '../../../../src/db/orders.js';
import { getUser } from '../../../../src/db/users.js';
import { SilentError } from '../../../../src/errors.js';
import { makeTestContext, signedInvoice, type TestContext } from '../../../support/test-context.js';
import {
  assertCantDo,
  createOrder,
  lastOrderEvent,
  onlyMessage,
  orderPayload,
  party,
  req,
  smallOrder,
  tag,
} from '../../../support/trade-fixtures.js';
import type { SmallOrder } from '../../../../src/protocol/types.js';

const NOW = 1_700_000_000;

async function ctxWithFee(fee = 0.006): Promise<TestContext> {
  return makeTestContext({ now: NOW, settings: { mostro: { fee } } });
}

async function attempt(ctx: TestContext, inbound: Parameters<typeof newOrder>[2], order: Partial<SmallOrder>, tradeIndex: bigint | null = 1n) {
  return newOrder(ctx, req('new-order', { requestId: 77n, tradeIndex, payload: { order: smallOrder(order) } }), inbound);
}

async function assertNothingWritten(ctx: TestContext): Promise<void> {
  assert.equal((await findOrders(ctx.db, {})).length, 0, 'no order row');
  assert.equal(ctx.outbox.sent.length, 0, 'no message');
  assert.equal(ctx.outbox.published.length, 0, 'no event');
}

void describe('new-order: happy paths', () => {
  void test('fixed-amount sell order: row, ack to the trade key, pending 38383 with rating and source', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await newOrder(
      ctx,
      req('new-order', {
        requestId: 3876325412n,
        tradeIndex: 1n,
        payload: { order: smallOrder({ amount: 100_000n, fiat_amount: 50n, payment_method: 'face to face,bank transfer' }) },
      }),
      maker.inbound,
    );
    const [o] = await findOrders(ctx.db, {});
    assert.ok(o);
    assert.equal(o.status, 'pending');
    assert.equal(o.kind, 'sell');
    assert.equal(o.creator_pubkey, maker.trade.pubkey);
    assert.equal(o.seller_pubkey, maker.trade.pubkey);
    assert.equal(o.master_seller_pubkey, maker.identity.pubkey);
    assert.equal(o.buyer_pubkey, null);
    assert.equal(o.trade_index_seller, 1);
    assert.equal(o.fee, 300, 'round(0.006 × 100000 / 2)');
    assert.equal(o.dev_fee, 0);
    assert.equal(o.price_from_api, 0);
    assert.equal(o.created_at, NOW);
    assert.equal(o.expires_at, NOW + 24 * 3600);

    const ack = onlyMessage(ctx, maker.trade.pubkey);
    assert.equal(ack.wrapper, 'order');
    assert.equal(ack.kind.action, 'new-order');
    assert.equal(ack.kind.id, o.id);
    assert.equal(ack.kind.request_id, 3876325412n);
    assert.equal(ack.kind.trade_index, 1n);
    const so = orderPayload(ack);
    assert.equal(so.id, o.id);
    assert.equal(so.status, 'pending');
    assert.equal(so.amount, 100_000n);
    assert.equal('seller_trade_pubkey' in so, false, 'as-new-order: no trade keys');
    assert.equal(so.created_at, BigInt(NOW));
    assert.equal(so.expires_at, BigInt(NOW + 86_400));

    const ev = lastOrderEvent(ctx, o.id);
    assert.ok(ev, '38383 published');
    assert.deepEqual(tag(ev, 's'), ['pending']);
    assert.deepEqual(tag(ev, 'k'), ['sell']);
    assert.deepEqual(tag(ev, 'amt'), ['100000']);
    assert.deepEqual(tag(ev, 'fa'), ['50']);
    assert.deepEqual(tag(ev, 'pm'), ['face to face', 'bank transfer']);
    assert.deepEqual(tag(ev, 'rating'), ['["rating",{"days":0,"total_rating":0.0,"total_reviews":0}]']);
    assert.ok(tag(ev, 'source')?.[0]?.startsWith(`mostro:${o.id}?relays=`));
    assert.deepEqual(tag(ev, 'network'), ['regtest']);
    assert.equal((await getOrder(ctx.db, o.id))?.event_id, ev.id, 'event id saved');
    assert.equal((await getUser(ctx.db, maker.identity.pubkey))?.last_trade_index, 1);
  });

  void test('market buy order with premium and a Lightning address: ack includes buyer_invoice', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await attempt(ctx, maker.inbound, { kind: 'buy', amount: 0n, fiat_amount: 100n, premium: 1n, buyer_invoice: 'mostro_p2p@ln.tips' }, 2n);
    const [o] = await findOrders(ctx.db, {});
    assert.ok(o);
    assert.equal(o.kind, 'buy');
    assert.equal(o.buyer_pubkey, maker.trade.pubkey);
    assert.equal(o.master_buyer_pubkey, maker.identity.pubkey);
    assert.equal(o.trade_index_buyer, 2);
    assert.equal(o.seller_pubkey, null);
    assert.equal(o.price_from_api, 1);
    assert.equal(o.fee, 0, 'market orders get their fee at take time');
    assert.equal(o.premium, 1);
    assert.equal(o.buyer_invoice, 'mostro_p2p@ln.tips');
    assert.deepEqual(ctx.lnurl.checks, ['mostro_p2p@ln.tips']);
    const so = orderPayload(onlyMessage(ctx, maker.trade.pubkey));
    assert.equal(so.buyer_invoice, 'mostro_p2p@ln.tips');
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 'amt'), ['0']);
  });

  void test('range order: fa tag carries [min, max]', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    const o = await createOrder(ctx, maker, { amount: 0n, min_amount: 10n, max_amount: 50n, fiat_amount: 0n });
    assert.equal(o.min_amount, 10);
    assert.equal(o.max_amount, 50);
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 'fa'), ['10', '50']);
  });

  void test('buy order with a BOLT11 for amount − fee is accepted (HQ-9 fix) and stored', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    const inv = signedInvoice({ sats: 99_700, now: NOW });
    await attempt(ctx, maker.inbound, { kind: 'buy', amount: 100_000n, fiat_amount: 50n, buyer_invoice: inv });
    const [o] = await findOrders(ctx.db, {});
    assert.equal(o?.buyer_invoice, inv);
  });

  void test('full privacy: no trade index → 0, ack trade_index null, rating zeros, no users row', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx, { fullPrivacy: true });
    await attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, null);
    const [o] = await findOrders(ctx.db, {});
    assert.ok(o);
    assert.equal(o.trade_index_seller, null);
    assert.equal(onlyMessage(ctx, maker.trade.pubkey).kind.trade_index, null);
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 'rating'), ['["rating",{"days":0,"total_rating":0.0,"total_reviews":0}]']);
    assert.equal(await getUser(ctx.db, maker.identity.pubkey), undefined);
  });

  void test('expires_at: clamped to max_expiration_days; explicit shorter value kept', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    const far = await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n, expires_at: BigInt(NOW + 100 * 86_400) });
    assert.equal(far.expires_at, NOW + 15 * 86_400);
    const near = await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n, expires_at: BigInt(NOW + 3600) }, { tradeIndex: 2n });
    assert.equal(near.expires_at, NOW + 3600);
  });

  void test('one transaction: the row goes in with its 38383 id, the event is signed after the commit, its change-log entry goes once a relay accepted it', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    const o = await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n });
    const ev = lastOrderEvent(ctx, o.id);
    assert.ok(ev);
    assert.equal((await getOrder(ctx.db, o.id))?.event_id, ev.id);
    assert.equal(ctx.outbox.prepared.length, 0, 'every prepared event was published');
    assert.equal(await countOrderChanges(ctx.db), 1, 'the insert logged a change; the acceptance is batched');
    await ctx.orderChangeAcks.flush();
    assert.equal(await countOrderChanges(ctx.db), 0, 'accepted: the change-log entry is gone');
  });

  void test('a new order whose event every relay refused stays in the change log (the republish job publishes it again)', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    ctx.outbox.refuse = true;
    const o = await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n });
    await ctx.orderChangeAcks.flush();
    assert.equal((await getOrderChange(ctx.db, o.id))?.status, 'pending');
    assert.equal(ctx.orderChangeAcks.stats().inFlight, 0, 'given up: not in flight any more');
  });

  void test('a new order whose transaction fails publishes nothing and leaves nothing', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await sql`CREATE TRIGGER test_refuse_orders BEFORE INSERT ON orders BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`.execute(ctx.db);
    await assert.rejects(attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }), /refused by the test/);
    await assertNothingWritten(ctx);
    assert.equal(await countOrderChanges(ctx.db), 0);
    assert.equal(ctx.outbox.prepared.length, 1, 'the event was prepared in the transaction and never published');
    assert.equal((await getUser(ctx.db, maker.identity.pubkey))?.last_trade_index, 0, 'the trade index raise rolled back with it');
  });

  void test('rating tag reflects the maker users row', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await ctx.db
      .updateTable('users')
      .set({ total_rating: 4.5, total_reviews: 7, created_at: NOW - 10 * 86_400 - 5 })
      .where('pubkey', '=', maker.identity.pubkey)
      .execute();
    const o = await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n });
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 'rating'), ['["rating",{"days":10,"total_rating":4.5,"total_reviews":7}]']);
  });
});

void describe('new-order: refusals in the spec order, nothing written', () => {
  void test('invalid_invoice (BOLT11 for the full amount when fee > 0) before invalid_fiat_currency', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    const inv = signedInvoice({ sats: 100_000, now: NOW });
    await assertCantDo(attempt(ctx, maker.inbound, { kind: 'buy', amount: 100_000n, fiat_code: 'VES', buyer_invoice: inv }), 'invalid_invoice');
    await assertNothingWritten(ctx);
  });

  void test('unreachable Lightning address → invalid_invoice', async () => {
    const ctx = await ctxWithFee();
    ctx.lnurl.unreachable.add('nobody@nowhere.test');
    const maker = await party(ctx);
    await assertCantDo(attempt(ctx, maker.inbound, { kind: 'buy', buyer_invoice: 'nobody@nowhere.test' }), 'invalid_invoice');
    await assertNothingWritten(ctx);
  });

  void test('invalid_fiat_currency (case-sensitive) before range checks; empty list accepts all', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await assertCantDo(attempt(ctx, maker.inbound, { fiat_code: 'usd', min_amount: 50n, max_amount: 10n }), 'invalid_fiat_currency');
    await assertNothingWritten(ctx);
    const open = await makeTestContext({ now: NOW, settings: { mostro: { fiat_currencies_accepted: [] } } });
    const m2 = await party(open);
    await attempt(open, m2.inbound, { fiat_code: 'VES', fiat_amount: 100n });
    assert.equal((await findOrders(open.db, {})).length, 1);
  });

  for (const [name, fields] of [
    ['min ≥ max', { amount: 0n, min_amount: 50n, max_amount: 50n, fiat_amount: 0n }],
    ['negative min', { amount: 0n, min_amount: -1n, max_amount: 50n, fiat_amount: 0n }],
    ['range with amount', { amount: 100_000n, min_amount: 10n, max_amount: 50n, fiat_amount: 0n }],
    ['negative amount', { amount: -5n }],
    ['zero fiat amount (upstream #702)', { amount: 100_000n, fiat_amount: 0n }],
  ] as const) {
    void test(`invalid_amount: ${name}`, async () => {
      const ctx = await ctxWithFee();
      const maker = await party(ctx);
      await assertCantDo(attempt(ctx, maker.inbound, { premium: 5n, ...fields }), 'invalid_amount');
      await assertNothingWritten(ctx);
    });
  }

  void test('invalid_parameters: premium with a fixed amount', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 100_000n, premium: 2n }), 'invalid_parameters');
    await assertNothingWritten(ctx);
  });

  void test('out_of_range_sats_amount: fixed amount below min_payment_amount, market quote above max_order_amount, range max above', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 99n }), 'out_of_range_sats_amount');
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 1_000_001n }), 'out_of_range_sats_amount');
    // 1000 USD at 50 000 USD/BTC = 2 000 000 sats > 1 000 000
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 0n, fiat_amount: 1000n }), 'out_of_range_sats_amount');
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 0n, min_amount: 10n, max_amount: 1000n, fiat_amount: 0n }), 'out_of_range_sats_amount');
    await assertNothingWritten(ctx);
    // boundary: exactly max_order_amount passes (500 USD = 1 000 000 sats)
    await attempt(ctx, maker.inbound, { amount: 0n, fiat_amount: 500n });
    assert.equal((await findOrders(ctx.db, {})).length, 1);
  });

  void test('market order without a fresh cached price → invalid_amount (0.17.1: silence)', async () => {
    const ctx = await ctxWithFee();
    ctx.prices.markStale('USD');
    const maker = await party(ctx);
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 0n, fiat_amount: 100n }), 'invalid_amount');
    await assertNothingWritten(ctx);
  });

  void test('reputation mode without trade index → silence (SilentError), nothing written', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await assert.rejects(attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, null), SilentError);
    await assertNothingWritten(ctx);
  });

  void test('invalid_order_kind: refused before the trade index is recorded (fix of step ordering)', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx, { lastTradeIndex: 1 });
    await assertCantDo(attempt(ctx, maker.inbound, { kind: null, amount: 100_000n, fiat_amount: 50n }, 5n), 'invalid_order_kind');
    await assertNothingWritten(ctx);
    assert.equal((await getUser(ctx.db, maker.identity.pubkey))?.last_trade_index, 1);
  });

  void test('negative trade index → invalid_trade_index', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx);
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, -1n), 'invalid_trade_index');
    await assertNothingWritten(ctx);
  });

  void test('HQ-4: a lower or zero index never lowers the stored one', async () => {
    const ctx = await ctxWithFee();
    const maker = await party(ctx, { lastTradeIndex: 5 });
    await attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, 0n);
    assert.equal((await getUser(ctx.db, maker.identity.pubkey))?.last_trade_index, 5);
    await attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, 6n);
    assert.equal((await getUser(ctx.db, maker.identity.pubkey))?.last_trade_index, 6);
  });
});

void describe('new-order: [mostro] max_pending_orders_per_user', () => {
  void test('the limit counts the identity pending orders (both kinds); the refusal writes nothing; a taken or canceled order frees a place', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { mostro: { max_pending_orders_per_user: 2 } } });
    const maker = await party(ctx);
    const first = await createOrder(ctx, maker, { kind: 'sell', amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 1n });
    await createOrder(ctx, maker, { kind: 'buy', amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 2n });
    ctx.outbox.clear();
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, 3n), 'pending_order_exists');
    assert.equal((await findOrders(ctx.db, {})).length, 2, 'no third order');
    assert.equal(ctx.outbox.published.length, 0, 'no event');
    assert.equal((await getUser(ctx.db, maker.identity.pubkey))?.last_trade_index, 2, 'the refused index is not consumed');

    // Someone else is not limited by this maker's orders.
    await createOrder(ctx, await party(ctx), { amount: 100_000n, fiat_amount: 50n });

    // An order that leaves `pending` frees its place.
    assert.equal(await casUpdateOrder(ctx.db, first.id, { status: 'pending' }, { status: 'waiting-buyer-invoice' }), true);
    assert.equal((await getOrder(ctx.db, first.id))?.status, 'waiting-buyer-invoice');
    await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 3n });
    await assertCantDo(attempt(ctx, maker.inbound, { amount: 100_000n, fiat_amount: 50n }, 4n), 'pending_order_exists');
  });

  void test('0 (the default) is no limit', async () => {
    const ctx = await ctxWithFee();
    assert.equal(ctx.settings.mostro.max_pending_orders_per_user, 0);
    const maker = await party(ctx);
    for (let i = 1n; i <= 5n; i++) await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: i });
    assert.equal((await findOrders(ctx.db, {})).length, 5);
  });
});

void describe('new-order: [mostro] unrated_orders_per_minute', () => {
  void test('unrated makers share a budget of N a minute (a burst of N); a rated maker is never limited; the refusal writes nothing', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { mostro: { unrated_orders_per_minute: 2 } } });
    // Two full-privacy makers and one reputation-mode maker with no rating: all unrated.
    await createOrder(ctx, await party(ctx, { fullPrivacy: true }), { amount: 100_000n, fiat_amount: 50n });
    const fresh = await party(ctx);
    await createOrder(ctx, fresh, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 1n });
    ctx.outbox.clear();
    const anon = await party(ctx, { fullPrivacy: true });
    await assertCantDo(attempt(ctx, anon.inbound, { amount: 100_000n, fiat_amount: 50n }, null), 'too_many_requests');
    await assertCantDo(attempt(ctx, fresh.inbound, { amount: 100_000n, fiat_amount: 50n }, 2n), 'too_many_requests');
    assert.equal((await findOrders(ctx.db, {})).length, 2, 'no third order');
    assert.equal(ctx.outbox.published.length, 0, 'no event');
    assert.equal((await getUser(ctx.db, fresh.identity.pubkey))?.last_trade_index, 1, 'the refused index is not consumed');

    // A maker with a rating goes on, and does not spend the budget.
    const rated = await party(ctx);
    await ctx.db.updateTable('users').set({ total_reviews: 3, total_rating: 4.5 }).where('pubkey', '=', rated.identity.pubkey).execute();
    await createOrder(ctx, rated, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 1n });

    // Half a minute later one more unrated order fits (N a minute), then none again.
    ctx.clock.advance(30);
    await createOrder(ctx, anon, { amount: 100_000n, fiat_amount: 50n });
    await assertCantDo(attempt(ctx, (await party(ctx, { fullPrivacy: true })).inbound, { amount: 100_000n, fiat_amount: 50n }, null), 'too_many_requests');
    assert.equal(ctx.unrated.orders.refused, 3);
    // After a quiet minute the whole burst is back, never more.
    ctx.clock.advance(600);
    for (let i = 0; i < 2; i++) await createOrder(ctx, await party(ctx, { fullPrivacy: true }), { amount: 100_000n, fiat_amount: 50n });
    await assertCantDo(attempt(ctx, (await party(ctx, { fullPrivacy: true })).inbound, { amount: 100_000n, fiat_amount: 50n }, null), 'too_many_requests');
  });

  void test('0 (the default) is no limit', async () => {
    const ctx = await ctxWithFee();
    assert.equal(ctx.settings.mostro.unrated_orders_per_minute, 0);
    for (let i = 0; i < 5; i++) await createOrder(ctx, await party(ctx, { fullPrivacy: true }), { amount: 100_000n, fiat_amount: 50n });
    assert.equal((await findOrders(ctx.db, {})).length, 5);
    assert.equal(ctx.unrated.orders.refused, 0);
  });
});
