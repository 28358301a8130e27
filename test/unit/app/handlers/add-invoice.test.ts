import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addInvoice } from '../../../../src/app/handlers/add-invoice.js';
import { takeSell } from '../../../../src/app/handlers/take-sell.js';
import { takeBuy } from '../../../../src/app/handlers/take-buy.js';
import { casUpdateOrder } from '../../../../src/db/orders.js';
import { makeTestContext, signedInvoice, type TestContext } from '../../../support/test-context.js';
import {
  assertCantDo,
  createOrder,
  onlyMessage,
  orderPayload,
  party,
  reload,
  req,
  type Party,
} from '../../../support/trade-fixtures.js';

const NOW = 1_700_000_000;

function send(ctx: TestContext, who: Party, id: string, invoice: string, requestId = 3n) {
  return addInvoice(ctx, req('add-invoice', { id, requestId, payload: { payment_request: [null, invoice, null] } }), who.inbound);
}

/** A sell order taken without invoice (waiting-buyer-invoice, no escrow yet). */
async function sellInWbi(fee = 0.006) {
  const ctx = await makeTestContext({ now: NOW, settings: { mostro: { fee } } });
  const seller = await party(ctx);
  const buyer = await party(ctx);
  const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 1n });
  await takeSell(ctx, req('take-sell', { id: o.id, requestId: 2n, tradeIndex: 3n }), buyer.inbound);
  ctx.outbox.clear();
  return { ctx, seller, buyer, o };
}

void describe('add-invoice on a sell order in waiting-buyer-invoice (PROTOCOL §9.1 steps 6–12)', () => {
  void test('reputation notice, escrow, then payment → active with the add-invoice request id', async () => {
    const { ctx, seller, buyer, o } = await sellInWbi();
    await ctx.db
      .updateTable('users')
      .set({ total_rating: 4.5, total_reviews: 7, created_at: NOW - 120 * 86_400 })
      .where('pubkey', '=', buyer.identity.pubkey)
      .execute();
    const inv = signedInvoice({ sats: 99_700, now: NOW });
    await send(ctx, buyer, o.id, inv, 30n);

    const toSeller = ctx.outbox.messagesTo(seller.trade.pubkey);
    assert.deepEqual(toSeller.map((m) => m.kind.action), ['pay-invoice', 'pay-invoice']);
    assert.equal(toSeller[0]!.kind.request_id, null);
    assert.equal(toSeller[0]!.kind.trade_index, null);
    assert.deepEqual(toSeller[0]!.kind.payload, {
      peer: { pubkey: '', reputation: { rating: 4.5, reviews: 7n, operating_days: 120n } },
    });
    assert.equal(toSeller[1]!.kind.request_id, 30n);
    assert.equal(toSeller[1]!.kind.trade_index, 1n);
    const p = toSeller[1]!.kind.payload;
    assert.ok(p !== null && 'payment_request' in p);
    assert.equal(p.payment_request[1], ctx.lightning.onlyInvoice().paymentRequest);
    const wait = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(wait.kind.action, 'waiting-seller-to-pay');
    assert.equal(wait.kind.request_id, 30n);
    assert.equal(wait.kind.trade_index, 3n);

    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-payment');
    assert.equal(row.buyer_invoice, inv);
    assert.equal(ctx.lightning.onlyInvoice().amountSats, 100_300);

    ctx.outbox.clear();
    ctx.lightning.pay(row.hash!);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, o.id)).status, 'active');
    const took = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(took.kind.action, 'buyer-took-order');
    assert.equal(took.kind.request_id, 30n);
    assert.equal(took.kind.trade_index, null);
    assert.equal(orderPayload(took).amount, 100_300n);
    const acc = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(acc.kind.action, 'hold-invoice-payment-accepted');
    assert.equal(acc.kind.request_id, 30n);
    assert.equal(orderPayload(acc).amount, 99_700n);
    assert.equal(orderPayload(acc).seller_trade_pubkey, seller.trade.pubkey);
  });

  void test('Lightning down → not_allowed_by_status, no reputation message, nothing changes', async () => {
    const { ctx, buyer, o } = await sellInWbi();
    ctx.lightning.setState('down');
    await assertCantDo(send(ctx, buyer, o.id, 'buyer@wallet.test'), 'not_allowed_by_status');
    assert.equal(ctx.outbox.sent.length, 0);
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-buyer-invoice');
    assert.equal(row.buyer_invoice, null);
  });
});

void describe('add-invoice on a buy order whose seller already paid (PROTOCOL §9.2 steps 10–12)', () => {
  void test('→ active; buyer-took-order (request_id null, no invoice) and hold-invoice-payment-accepted (echo, with invoice)', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { mostro: { fee: 0.006 } } });
    const buyer = await party(ctx);
    const seller = await party(ctx);
    const o = await createOrder(ctx, buyer, { kind: 'buy', amount: 100_000n, fiat_amount: 50n });
    await takeBuy(ctx, req('take-buy', { id: o.id, requestId: 2n, tradeIndex: 5n }), seller.inbound);
    ctx.lightning.pay((await reload(ctx, o.id)).hash!);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, o.id)).status, 'waiting-buyer-invoice');
    ctx.outbox.clear();

    const inv = signedInvoice({ sats: 99_700, now: NOW });
    await send(ctx, buyer, o.id, inv, 40n);
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'active');
    assert.equal(row.buyer_invoice, inv);
    assert.equal(ctx.lightning.invoices.size, 1, 'no second escrow');

    const took = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(took.kind.action, 'buyer-took-order');
    assert.equal(took.kind.request_id, null);
    const ts = orderPayload(took);
    assert.equal(ts.status, 'active');
    assert.equal(ts.amount, 100_300n);
    assert.equal('buyer_invoice' in ts, false);
    assert.equal(ts.buyer_trade_pubkey, buyer.trade.pubkey);
    const acc = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(acc.kind.action, 'hold-invoice-payment-accepted');
    assert.equal(acc.kind.request_id, 40n);
    const ab = orderPayload(acc);
    assert.equal(ab.amount, 99_700n);
    assert.equal(ab.buyer_invoice, inv);
  });
});

void describe('add-invoice after a failed payout (settled-hold-invoice)', () => {
  void test('stores the new invoice, resets attempts, replies invoice-updated; refused while a payout is claimed', async () => {
    const { ctx, buyer, o } = await sellInWbi();
    assert.ok(
      await casUpdateOrder(ctx.db, o.id, {}, { status: 'settled-hold-invoice', failed_payment: 1, payment_attempts: 3, buyer_invoice: 'old@wallet.test', hash: 'ab'.repeat(32) }),
    );
    await send(ctx, buyer, o.id, 'new@wallet.test', 50n);
    const row = await reload(ctx, o.id);
    assert.equal(row.buyer_invoice, 'new@wallet.test');
    assert.equal(row.payment_attempts, 0);
    assert.equal(row.failed_payment, 1);
    assert.equal(row.status, 'settled-hold-invoice');
    const upd = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(upd.kind.action, 'invoice-updated');
    assert.equal(upd.kind.request_id, 50n);
    assert.equal(upd.kind.payload, null);

    await casUpdateOrder(ctx.db, o.id, {}, { payout_payment_hash: 'cd'.repeat(32), payout_claimed_at: NOW });
    await assertCantDo(send(ctx, buyer, o.id, 'third@wallet.test'), 'not_allowed_by_status');
    assert.equal((await reload(ctx, o.id)).buyer_invoice, 'new@wallet.test');
  });
});

void describe('add-invoice refusals in the spec order', () => {
  void test('not_found; invalid_peer; invalid_invoice before the status check; not_allowed_by_status', async () => {
    const { ctx, seller, buyer, o } = await sellInWbi();
    await assertCantDo(send(ctx, buyer, '00000000-0000-4000-8000-000000000000', 'x@wallet.test'), 'not_found');
    await assertCantDo(send(ctx, seller, o.id, 'x@wallet.test'), 'invalid_peer');
    await casUpdateOrder(ctx.db, o.id, {}, { status: 'active' });
    await assertCantDo(send(ctx, buyer, o.id, signedInvoice({ sats: 100_000, now: NOW })), 'invalid_invoice');
    await assertCantDo(send(ctx, buyer, o.id, signedInvoice({ sats: 99_700, now: NOW })), 'not_allowed_by_status');
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('expired or soon-expiring BOLT11 → invalid_invoice', async () => {
    const { ctx, buyer, o } = await sellInWbi();
    await assertCantDo(send(ctx, buyer, o.id, signedInvoice({ sats: 99_700, now: NOW, expirySeconds: 600 })), 'invalid_invoice');
  });
});
