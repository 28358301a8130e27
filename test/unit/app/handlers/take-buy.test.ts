import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { takeBuy } from '../../../../src/app/handlers/take-buy.js';
import { getUser } from '../../../../src/db/users.js';
import { CantDoError } from '../../../../src/errors.js';
import { makeTestContext, signedInvoice, type TestContext } from '../../../support/test-context.js';
import {
  assertCantDo,
  createOrder,
  lastOrderEvent,
  onlyMessage,
  orderPayload,
  party,
  reload,
  req,
  tag,
  type Party,
} from '../../../support/trade-fixtures.js';
import type { Payload } from '../../../../src/protocol/types.js';

const NOW = 1_700_000_000;

async function setup(fee = 0.006) {
  const ctx = await makeTestContext({ now: NOW, settings: { mostro: { fee } } });
  const buyer = await party(ctx);
  const seller = await party(ctx);
  return { ctx, seller, buyer };
}

function take(ctx: TestContext, who: Party, id: string, opts: { payload?: Payload | null; tradeIndex?: bigint | null; requestId?: bigint } = {}) {
  return takeBuy(
    ctx,
    req('take-buy', { id, requestId: opts.requestId ?? 2n, tradeIndex: opts.tradeIndex === undefined ? 5n : opts.tradeIndex, payload: opts.payload ?? null }),
    who.inbound,
  );
}

void describe('take-buy (PROTOCOL §9.2)', () => {
  void test('steps 3–9: escrow to the seller, waiting-seller-to-pay to the buyer, in-progress; payment → add-invoice + reputation', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, buyer, { kind: 'buy', amount: 0n, fiat_amount: 100n }, { tradeIndex: 1n });
    ctx.outbox.clear();
    await take(ctx, seller, o.id, { requestId: 20n });

    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-payment');
    assert.equal(row.seller_pubkey, seller.trade.pubkey);
    assert.equal(row.master_seller_pubkey, seller.identity.pubkey);
    assert.equal(row.trade_index_seller, 5);
    assert.equal(row.amount, 200_000);
    assert.equal(row.fee, 600);
    assert.equal(row.dev_fee, 360);
    assert.equal(row.taken_at, NOW);
    assert.equal(ctx.lightning.onlyInvoice().amountSats, 200_600);

    const pay = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(pay.kind.action, 'pay-invoice');
    assert.equal(pay.kind.request_id, 20n);
    assert.equal(pay.kind.trade_index, 5n);
    const wait = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(wait.kind.action, 'waiting-seller-to-pay');
    assert.equal(wait.kind.request_id, 20n, "echo of the taker's request id");
    assert.equal(wait.kind.trade_index, 1n, 'trade_index_buyer');
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 's'), ['in-progress']);
    assert.equal((await getUser(ctx.db, seller.identity.pubkey))?.last_trade_index, 5);

    // Seller pays: no buyer invoice yet → waiting-buyer-invoice (steps 7–9).
    ctx.outbox.clear();
    ctx.lightning.pay(row.hash!);
    await ctx.tasks.idle();
    const after = await reload(ctx, o.id);
    assert.equal(after.status, 'waiting-buyer-invoice');
    assert.equal(after.invoice_held_at, NOW);
    const toBuyer = ctx.outbox.messagesTo(buyer.trade.pubkey);
    assert.deepEqual(toBuyer.map((m) => m.kind.action), ['add-invoice', 'add-invoice']);
    const ask = orderPayload(toBuyer[0]!);
    assert.equal(toBuyer[0]!.kind.request_id, 20n);
    assert.equal(toBuyer[0]!.kind.trade_index, null);
    assert.equal(ask.status, 'waiting-buyer-invoice');
    assert.equal(ask.amount, 199_400n);
    assert.equal('buyer_trade_pubkey' in ask, false);
    assert.equal(ask.created_at, BigInt(NOW), 'created_at/expires_at set (§6.1)');
    const rep = toBuyer[1]!;
    assert.equal(rep.kind.request_id, null);
    assert.deepEqual(rep.kind.payload, { peer: { pubkey: '', reputation: { rating: 0, reviews: 0n, operating_days: 0n } } });
    const toSeller = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(toSeller.kind.action, 'waiting-buyer-invoice');
    assert.equal(toSeller.kind.request_id, 20n);
    assert.equal(toSeller.kind.payload, null);
  });

  void test('maker gave an invoice at creation: kept, and payment → active with buyer-took-order / hold-invoice-payment-accepted', async () => {
    const { ctx, seller, buyer } = await setup();
    const inv = signedInvoice({ sats: 99_700, now: NOW });
    const o = await createOrder(ctx, buyer, { kind: 'buy', amount: 100_000n, fiat_amount: 50n, buyer_invoice: inv });
    await take(ctx, seller, o.id, { requestId: 21n });
    const row = await reload(ctx, o.id);
    assert.equal(row.buyer_invoice, inv);
    ctx.outbox.clear();
    ctx.lightning.pay(row.hash!);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, o.id)).status, 'active');
    const took = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(took.kind.action, 'buyer-took-order');
    assert.equal(took.kind.request_id, 21n);
    const so = orderPayload(took);
    assert.equal(so.status, 'active');
    assert.equal(so.amount, 100_300n);
    assert.equal(so.buyer_trade_pubkey, buyer.trade.pubkey);
    assert.equal(so.seller_trade_pubkey, seller.trade.pubkey);
    assert.equal('buyer_invoice' in so, false);
    const acc = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(acc.kind.action, 'hold-invoice-payment-accepted');
    assert.equal(orderPayload(acc).amount, 99_700n);
  });

  void test('range buy order: requested amount, out of range refused', async () => {
    const { ctx, seller, buyer } = await setup(0);
    const o = await createOrder(ctx, buyer, { kind: 'buy', amount: 0n, min_amount: 10n, max_amount: 50n, fiat_amount: 0n });
    await assertCantDo(take(ctx, seller, o.id, { payload: { amount: 60n } }), 'out_of_range_sats_amount');
    await take(ctx, seller, o.id, { payload: { amount: 10n } });
    assert.equal((await reload(ctx, o.id)).fiat_amount, 10);
  });
});

void describe('take-buy refusals', () => {
  void test('Lightning down → not_allowed_by_status, nothing changes', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, buyer, { kind: 'buy', amount: 100_000n, fiat_amount: 50n });
    ctx.lightning.setState('down');
    await assertCantDo(take(ctx, seller, o.id), 'not_allowed_by_status');
    assert.equal((await reload(ctx, o.id)).status, 'pending');
  });

  void test('not_found, pending_order_exists, invalid_order_kind, invalid_order_status, invalid_pubkey', async () => {
    const { ctx, seller, buyer } = await setup();
    await assertCantDo(take(ctx, seller, '00000000-0000-4000-8000-000000000000'), 'not_found');
    const first = await createOrder(ctx, buyer, { kind: 'buy', amount: 100_000n, fiat_amount: 50n });
    await take(ctx, seller, first.id); // seller now master seller of a waiting-payment order
    const second = await createOrder(ctx, buyer, { kind: 'buy', amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 2n });
    await assertCantDo(take(ctx, seller, second.id, { tradeIndex: 6n }), 'pending_order_exists');
    const other = await party(ctx);
    const sell = await createOrder(ctx, buyer, { kind: 'sell', amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 3n });
    await assertCantDo(take(ctx, other, sell.id), 'invalid_order_kind');
    await assertCantDo(take(ctx, other, first.id), 'invalid_order_status');
    await assertCantDo(take(ctx, buyer, second.id), 'invalid_pubkey');
  });

  void test('5 racing sellers → exactly one escrow, others invalid_order_status, losers’ invoices canceled', async () => {
    const { ctx, buyer } = await setup();
    const o = await createOrder(ctx, buyer, { kind: 'buy', amount: 100_000n, fiat_amount: 50n });
    const sellers = await Promise.all([0, 1, 2, 3, 4].map(() => party(ctx)));
    const results = await Promise.allSettled(sellers.map((s) => take(ctx, s, o.id)));
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(lost.length, 4);
    for (const l of lost) assert.equal((l.reason as CantDoError).reason, 'invalid_order_status');
    const row = await reload(ctx, o.id);
    const winner = sellers[results.findIndex((r) => r.status === 'fulfilled')]!;
    assert.equal(row.seller_pubkey, winner.trade.pubkey);
    assert.equal(ctx.lightning.cancels.length, 4);
    assert.equal([...ctx.lightning.invoices.values()].filter((i) => i.state === 'open').length, 1);
  });
});
