import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { takeSell } from '../../../../src/app/handlers/take-sell.js';
import { findOrders } from '../../../../src/db/orders.js';
import { getUser } from '../../../../src/db/users.js';
import { CantDoError, SilentError } from '../../../../src/errors.js';
import { sha256, bytesToHex, hexToBytes } from '../../../../src/crypto/secp.js';
import { marketQuoteSats } from '../../../../src/price/quote.js';
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
  const seller = await party(ctx);
  const buyer = await party(ctx);
  return { ctx, seller, buyer };
}

function take(ctx: TestContext, who: Party, id: string, opts: { payload?: Payload | null; tradeIndex?: bigint | null; requestId?: bigint } = {}) {
  return takeSell(
    ctx,
    req('take-sell', { id, requestId: opts.requestId ?? 2n, tradeIndex: opts.tradeIndex === undefined ? 3n : opts.tradeIndex, payload: opts.payload ?? null }),
    who.inbound,
  );
}

void describe('take-sell without invoice (PROTOCOL §9.1 steps 3–5)', () => {
  void test('market order: waiting-buyer-invoice, add-invoice to buyer, waiting-buyer-invoice to seller, in-progress event', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 0n, fiat_amount: 100n, premium: 1n }, { tradeIndex: 1n });
    ctx.outbox.clear();
    await take(ctx, buyer, o.id, { requestId: 22n });

    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-buyer-invoice');
    assert.equal(row.amount, 198_000, '100 USD at 50 000 USD/BTC minus 1% premium');
    assert.equal(row.fee, 594);
    assert.equal(row.dev_fee, 356, 'round(2 × 594 × 0.30)');
    assert.equal(row.buyer_pubkey, buyer.trade.pubkey);
    assert.equal(row.master_buyer_pubkey, buyer.identity.pubkey);
    assert.equal(row.trade_index_buyer, 3);
    assert.equal(row.taken_at, NOW);
    assert.equal(row.hash, null, 'no escrow yet');
    assert.equal(ctx.lightning.invoices.size, 0);

    const toBuyer = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(toBuyer.kind.action, 'add-invoice');
    assert.equal(toBuyer.kind.request_id, 22n);
    assert.equal(toBuyer.kind.trade_index, 3n);
    assert.equal(toBuyer.kind.id, o.id);
    const so = orderPayload(toBuyer);
    assert.deepEqual(so, {
      id: o.id,
      kind: 'sell',
      status: 'waiting-buyer-invoice',
      amount: 197_406n,
      fiat_code: 'USD',
      min_amount: null,
      max_amount: null,
      fiat_amount: 100n,
      payment_method: 'face to face,bank transfer',
      premium: 1n,
      created_at: null,
      expires_at: null,
    });
    const toSeller = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(toSeller.kind.action, 'waiting-buyer-invoice');
    assert.equal(toSeller.kind.request_id, 22n, "the taker's request id");
    assert.equal(toSeller.kind.trade_index, 1n, 'trade_index_seller');
    assert.equal(toSeller.kind.payload, null);

    const ev = lastOrderEvent(ctx, o.id)!;
    assert.deepEqual(tag(ev, 's'), ['in-progress']);
    assert.deepEqual(tag(ev, 'amt'), ['198000']);
    assert.equal(tag(ev, 'rating'), undefined);
    assert.equal(tag(ev, 'source'), undefined);
    assert.equal((await getUser(ctx.db, buyer.identity.pubkey))?.last_trade_index, 3);
  });

  void test('range order: requested amount chosen, fa = [x]; out of range / missing → out_of_range_sats_amount', async () => {
    const { ctx, seller, buyer } = await setup(0);
    const o = await createOrder(ctx, seller, { amount: 0n, min_amount: 10n, max_amount: 50n, fiat_amount: 0n });
    await assertCantDo(take(ctx, buyer, o.id, { payload: { amount: 9n } }), 'out_of_range_sats_amount');
    await assertCantDo(take(ctx, buyer, o.id, { payload: { amount: 51n } }), 'out_of_range_sats_amount');
    await assertCantDo(take(ctx, buyer, o.id, { payload: null }), 'out_of_range_sats_amount');
    assert.equal((await reload(ctx, o.id)).status, 'pending');
    await take(ctx, buyer, o.id, { payload: { amount: 15n } });
    const row = await reload(ctx, o.id);
    assert.equal(row.fiat_amount, 15);
    assert.equal(row.amount, marketQuoteSats(15, 50_000, 0));
    assert.equal(row.min_amount, 10);
    assert.equal(row.max_amount, 50);
    const so = orderPayload(onlyMessage(ctx, buyer.trade.pubkey));
    assert.equal(so.min_amount, 10n);
    assert.equal(so.fiat_amount, 15n);
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 'fa'), ['15']);
  });

  void test('fixed order: amount and fee unchanged, dev fee computed; a requested amount is ignored', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    await take(ctx, buyer, o.id, { payload: { amount: 0n } });
    const row = await reload(ctx, o.id);
    assert.equal(row.amount, 100_000);
    assert.equal(row.fee, 300);
    assert.equal(row.dev_fee, 180);
    assert.equal(row.fiat_amount, 50);
    assert.equal(orderPayload(onlyMessage(ctx, buyer.trade.pubkey)).amount, 99_700n);
  });

  void test('works while Lightning is down (no escrow needed yet)', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    ctx.lightning.setState('down');
    await take(ctx, buyer, o.id);
    assert.equal((await reload(ctx, o.id)).status, 'waiting-buyer-invoice');
  });

  void test('full-privacy taker without trade index → index 0', async () => {
    const { ctx, seller } = await setup();
    const buyer = await party(ctx, { fullPrivacy: true });
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    await take(ctx, buyer, o.id, { tradeIndex: null });
    const row = await reload(ctx, o.id);
    assert.equal(row.trade_index_buyer, 0);
    assert.equal(row.master_buyer_pubkey, buyer.identity.pubkey);
  });
});

void describe('take-sell with invoice (PROTOCOL §9.1 variant)', () => {
  void test('BOLT11 for amount − fee: escrow for amount + fee, pay-invoice to seller, waiting-seller-to-pay to buyer', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 1n });
    ctx.outbox.clear();
    const inv = signedInvoice({ sats: 99_700, now: NOW });
    await take(ctx, buyer, o.id, { requestId: 33n, payload: { payment_request: [null, inv, null] } });

    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-payment');
    assert.equal(row.buyer_invoice, inv);
    assert.ok(row.hash !== null && row.preimage !== null);
    assert.equal(bytesToHex(sha256(hexToBytes(row.preimage))), row.hash, 'hash = sha256(preimage)');

    const hold = ctx.lightning.onlyInvoice();
    assert.equal(hold.hash, row.hash);
    assert.equal(hold.amountSats, 100_300);
    assert.equal(hold.cltvExpiry, 144);
    assert.equal(hold.expirySeconds, 900, 'max(hold_invoice_expiration_window 300, expiration_seconds 900)');
    assert.equal(
      hold.memo,
      `Escrow amount Order #${o.id}: SELL BTC for USD 50 - It WILL FREEZE IN WALLET. It will release once you release. It will return if buyer does not confirm the payment`,
    );
    assert.equal(ctx.lightning.watcherCount(hold.hash), 1, 'escrow watched');

    const pay = onlyMessage(ctx, seller.trade.pubkey);
    assert.equal(pay.kind.action, 'pay-invoice');
    assert.equal(pay.kind.request_id, 33n);
    assert.equal(pay.kind.trade_index, 1n);
    const p = pay.kind.payload;
    assert.ok(p !== null && 'payment_request' in p);
    const [so, bolt11, amount] = p.payment_request;
    assert.equal(bolt11, hold.paymentRequest);
    assert.equal(amount, null);
    assert.ok(so);
    assert.equal(so.status, 'waiting-payment');
    assert.equal(so.amount, 100_300n);
    assert.equal('buyer_invoice' in so, false);
    assert.equal('buyer_trade_pubkey' in so, false);
    assert.equal(so.created_at, BigInt(NOW));

    const wait = onlyMessage(ctx, buyer.trade.pubkey);
    assert.equal(wait.kind.action, 'waiting-seller-to-pay');
    assert.equal(wait.kind.request_id, 33n);
    assert.equal(wait.kind.trade_index, 3n);
    assert.equal(wait.kind.payload, null);

    // HQ-12 fix: the sell order no longer shows `pending` on relays.
    assert.deepEqual(tag(lastOrderEvent(ctx, o.id)!, 's'), ['in-progress']);
  });

  void test('Lightning address is checked and stored', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    await take(ctx, buyer, o.id, { payload: { payment_request: [null, 'buyer@wallet.test', null] } });
    assert.deepEqual(ctx.lnurl.checks, ['buyer@wallet.test']);
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-payment');
    assert.equal(row.buyer_invoice, 'buyer@wallet.test');
  });

  void test('invalid_invoice: invoice for the full amount; nothing changes, no hold invoice', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    const inv = signedInvoice({ sats: 100_000, now: NOW });
    await assertCantDo(take(ctx, buyer, o.id, { payload: { payment_request: [null, inv, null] } }), 'invalid_invoice');
    assert.equal((await reload(ctx, o.id)).status, 'pending');
    assert.equal(ctx.lightning.invoices.size, 0);
  });

  void test('Lightning down → not_allowed_by_status before anything changes', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    ctx.lightning.setState('down');
    ctx.outbox.clear();
    await assertCantDo(take(ctx, buyer, o.id, { payload: { payment_request: [null, 'buyer@wallet.test', null] } }), 'not_allowed_by_status');
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'pending');
    assert.equal(row.buyer_pubkey, null);
    assert.equal(ctx.outbox.sent.length, 0);
    assert.equal((await getUser(ctx.db, buyer.identity.pubkey))?.last_trade_index, 0);
  });
});

void describe('take-sell refusals in the spec order', () => {
  void test('unknown order → not_found (upstream #752)', async () => {
    const { ctx, buyer } = await setup();
    await assertCantDo(take(ctx, buyer, '00000000-0000-4000-8000-000000000000'), 'not_found');
  });

  void test('pending_order_exists before invalid_order_kind', async () => {
    const { ctx, seller, buyer } = await setup();
    const first = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    await take(ctx, buyer, first.id); // buyer now has an order in waiting-buyer-invoice
    const buyOrder = await createOrder(ctx, seller, { kind: 'buy', amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 2n });
    await assertCantDo(take(ctx, buyer, buyOrder.id, { tradeIndex: 4n }), 'pending_order_exists');
  });

  void test('invalid_order_kind, invalid_order_status, invalid_pubkey (maker takes own order)', async () => {
    const { ctx, seller, buyer } = await setup();
    const buyOrder = await createOrder(ctx, seller, { kind: 'buy', amount: 100_000n, fiat_amount: 50n });
    await assertCantDo(take(ctx, buyer, buyOrder.id), 'invalid_order_kind');
    const sell = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 2n });
    await assertCantDo(take(ctx, seller, sell.id), 'invalid_pubkey');
    const other = await party(ctx);
    await take(ctx, other, sell.id);
    await assertCantDo(take(ctx, buyer, sell.id), 'invalid_order_status');
  });

  void test('market take without a fresh price → invalid_amount; HQ-26: take-time amount outside limits → out_of_range_sats_amount', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 0n, fiat_amount: 100n });
    ctx.prices.markStale('USD');
    await assertCantDo(take(ctx, buyer, o.id), 'invalid_amount');
    ctx.prices.set('USD', 5_000); // 100 USD is now 2 000 000 sats > max_order_amount
    await assertCantDo(take(ctx, buyer, o.id), 'out_of_range_sats_amount');
    assert.equal((await reload(ctx, o.id)).status, 'pending');
  });

  void test('reputation-mode taker without trade index → silence', async () => {
    const { ctx, seller, buyer } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    await assert.rejects(take(ctx, buyer, o.id, { tradeIndex: null }), SilentError);
    assert.equal((await reload(ctx, o.id)).status, 'pending');
  });
});

void describe('take-sell races', () => {
  void test('5 concurrent takers without invoice → exactly one winner, the others invalid_order_status', async () => {
    const { ctx, seller } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    const takers = await Promise.all([0, 1, 2, 3, 4].map(() => party(ctx)));
    const results = await Promise.allSettled(takers.map((t) => take(ctx, t, o.id)));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 4);
    for (const l of lost) {
      assert.ok(l.reason instanceof CantDoError);
      assert.equal(l.reason.reason, 'invalid_order_status');
    }
    const winner = takers[results.findIndex((r) => r.status === 'fulfilled')]!;
    const row = await reload(ctx, o.id);
    assert.equal(row.buyer_pubkey, winner.trade.pubkey);
    const addInvoices = ctx.outbox.sent.filter((s) => s.message.kind.action === 'add-invoice');
    assert.equal(addInvoices.length, 1);
    assert.equal(addInvoices[0]!.to, winner.trade.pubkey);
  });

  void test('5 concurrent takers with invoices → one escrow; the losers’ hold invoices are canceled', async () => {
    const { ctx, seller } = await setup();
    const o = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n });
    const takers = await Promise.all([0, 1, 2, 3, 4].map(() => party(ctx)));
    const results = await Promise.allSettled(
      takers.map((t) => take(ctx, t, o.id, { payload: { payment_request: [null, `${t.trade.pubkey.slice(0, 8)}@wallet.test`, null] } })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'waiting-payment');
    const live = [...ctx.lightning.invoices.values()].filter((i) => i.state === 'open');
    assert.equal(live.length, 1);
    assert.equal(live[0]!.hash, row.hash);
    assert.equal(ctx.lightning.cancels.length, 4);
    assert.equal(ctx.outbox.sent.filter((s) => s.message.kind.action === 'pay-invoice').length, 1);
    assert.equal((await findOrders(ctx.db, {})).length, 1);
  });
});
