/**
 * Interop end to end: both traders are @rust-nostr/nostr-sdk clients (test/e2e/rust-trader.ts —
 * its own gift wraps, hand-written message JSON, its own unwrap) trading against the BUILT daemon
 * over the relay: seller in reputation mode, buyer in full privacy. new-order → take-sell →
 * add-invoice → escrow paid → fiat-sent → release → payout, plus the public order event as the
 * rust client fetches it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { escrowOf, orderRow, paymentsOf, settlesOf, startE2E, waitForStatus, type E2E } from './e2e-harness.js';
import { mostroJson, type Json, type RustReply } from './rust-trader.js';
import { RustTrader } from './rust-trader-proxy.js';

function payloadOrder(r: RustReply): Record<string, Json> {
  const p = r.kind.payload as Record<string, Json> | null;
  if (p !== null && typeof p['order'] === 'object' && p['order'] !== null) return p['order'] as Record<string, Json>;
  const pr = p?.['payment_request'];
  if (Array.isArray(pr) && typeof pr[0] === 'object' && pr[0] !== null) return pr[0] as Record<string, Json>;
  throw new Error(`no order in ${r.raw}`);
}

void describe('e2e interop: rust-nostr traders against the built daemon', () => {
  let e: E2E;
  const traders: RustTrader[] = [];
  before(async () => {
    e = await startE2E();
  });
  after(async () => {
    await Promise.allSettled(traders.map((t) => t.close()));
    await e.close();
  });

  void test('a whole sell trade between a reputation-mode seller and a full-privacy buyer, both rust-nostr', async () => {
    const { sb } = e;
    const seller = await RustTrader.connect(sb.relay.url, sb.nodePubkey);
    const buyer = await RustTrader.connect(sb.relay.url, sb.nodePubkey, { fullPrivacy: true });
    traders.push(seller, buyer);
    const ts = await seller.tradeKey();
    const tb = await buyer.tradeKey();

    const newOrder = {
      order: {
        kind: 'sell', status: 'pending', amount: 0, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 50,
        payment_method: 'bank transfer', premium: 0, created_at: 0, expires_at: null,
      },
    };
    await seller.send(mostroJson('order', { requestId: 101, tradeIndex: 1, action: 'new-order', payload: newOrder }), ts);
    const created = await seller.waitFor(ts, 'new-order');
    assert.equal(created.wrapper, 'order');
    assert.equal(created.kind.request_id, 101);
    assert.equal(created.kind.trade_index, 1);
    const orderId = created.kind.id;
    assert.ok(orderId !== undefined);
    assert.equal(payloadOrder(created)['status'], 'pending');
    // the reputation-mode seller's identity got a user row with its trade index
    assert.equal(orderRow(sb, orderId)?.['master_seller_pubkey'], seller.identity);
    assert.equal(orderRow(sb, orderId)?.['seller_pubkey'], ts);

    // the public order, as a rust-nostr client fetches it from the relay
    const events = await buyer.fetchNodeEvents(38383);
    const pub = events.find((ev) => ev.tags.some((t) => t[0] === 'd' && t[1] === orderId));
    assert.ok(pub !== undefined, 'the rust client sees the 38383 order event');
    assert.deepEqual(pub.tags.find((t) => t[0] === 's'), ['s', 'pending']);

    await buyer.send(mostroJson('order', { requestId: 102, tradeIndex: null, id: orderId, action: 'take-sell', payload: null }), tb);
    const addInvoice = await buyer.waitFor(tb, 'add-invoice');
    assert.equal(addInvoice.kind.request_id, 102);
    // 50 USD at 100 000 USD/BTC = 50 000 sats; fee 0.006 × 50 000 / 2 = 150
    assert.equal(payloadOrder(addInvoice)['amount'], 49_850);
    const waiting = await seller.waitFor(ts, 'waiting-buyer-invoice');
    assert.equal(waiting.kind.request_id, 102);
    const row = orderRow(sb, orderId);
    assert.equal(row?.['buyer_pubkey'], tb);
    assert.equal(row?.['master_buyer_pubkey'], tb, 'full privacy: master key = trade key');

    const payout = sb.sim.createPayeeInvoice({ sats: 49_850, expirySeconds: 7200 });
    await buyer.send(mostroJson('order', { requestId: 103, tradeIndex: null, id: orderId, action: 'add-invoice', payload: { payment_request: [null, payout.paymentRequest, null] } }), tb);
    const pay = await seller.waitFor(ts, 'pay-invoice');
    const pays = [pay, await seller.waitFor(ts, 'pay-invoice')];
    const withInvoice = pays.find((r) => r.kind.payload !== null && typeof r.kind.payload === 'object' && 'payment_request' in r.kind.payload);
    assert.ok(withInvoice !== undefined);
    const escrow = escrowOf(sb, orderId);
    assert.equal((withInvoice.kind.payload as { payment_request: Json[] }).payment_request[1], escrow.paymentRequest);
    assert.equal(payloadOrder(withInvoice)['amount'], 50_150);
    await buyer.waitFor(tb, 'waiting-seller-to-pay');

    sb.sim.payHoldInvoice(escrow.hash);
    const took = await seller.waitFor(ts, 'buyer-took-order');
    assert.equal(payloadOrder(took)['buyer_trade_pubkey'], tb);
    const accepted = await buyer.waitFor(tb, 'hold-invoice-payment-accepted');
    assert.equal(payloadOrder(accepted)['seller_trade_pubkey'], ts);
    await waitForStatus(sb, orderId, 'active');

    await buyer.send(mostroJson('order', { requestId: 104, tradeIndex: null, id: orderId, action: 'fiat-sent', payload: null }), tb);
    const fso = await buyer.waitFor(tb, 'fiat-sent-ok');
    assert.equal(fso.kind.request_id, 104);
    await seller.waitFor(ts, 'fiat-sent-ok');

    await seller.send(mostroJson('order', { requestId: 105, tradeIndex: null, id: orderId, action: 'release', payload: null }), ts);
    const settled = await seller.waitFor(ts, 'hold-invoice-payment-settled');
    assert.equal(settled.kind.request_id, 105);
    await buyer.waitFor(tb, 'released');
    await buyer.waitFor(tb, 'purchase-completed');
    await waitForStatus(sb, orderId, 'success');
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(paymentsOf(sb, payout.hash), 1);
    assert.equal(sb.sim.paymentsByHash.get(payout.hash)?.amountMsat, 49_850_000n);
    assert.equal((await seller.rejected()) + (await buyer.rejected()), 0, 'every reply opened by rust-nostr and sealed by the node');
  });
});
