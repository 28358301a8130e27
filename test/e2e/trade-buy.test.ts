/**
 * PROTOCOL.md §9.2 and §9.3 against the BUILT daemon: a buy order whose maker sends the invoice
 * after the escrow is paid; a buy order carrying a Lightning address (resolved through the LNURL
 * server at payout); a sell range order taken for part of its range, released with next_trade so a
 * child order is created for the rest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressable,
  blobToUuid,
  escrowOf,
  expectMsg,
  msg,
  order,
  orderEventStates,
  orderRow,
  ordersWhere,
  paymentsOf,
  payloadOrder,
  settlesOf,
  startE2E,
  tagValue,
  unconsumed,
  uuidBlob,
  waitFor,
  waitForStatus,
  type E2E,
} from './e2e-harness.js';

const dedupe = (xs: string[]): string[] => xs.filter((x, i) => i === 0 || xs[i - 1] !== x);

void describe('e2e §9.2 buy orders and §9.3 range orders (built daemon, relay, LND simulator, LNURL)', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E();
  });
  after(async () => {
    await e.close();
  });

  void test('§9.2 buy order, maker without invoice: seller takes, pays; buyer is asked for the invoice, then fiat-sent, release, payout', async () => {
    const { sb } = e;
    const buyer = await e.client();
    const seller = await e.client();
    const tb = buyer.tradeKey(1);
    const ts = seller.tradeKey(5);

    await buyer.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: 1, payload: { order: order({ kind: 'buy', amount: 50_000n, fiat_amount: 50n }) } }), { tradeKey: tb });
    const created = await expectMsg(buyer, tb, 'new-order', { requestId: 1n, tradeIndex: 1n });
    const orderId = created.message.kind.id;
    assert.ok(orderId !== undefined);
    assert.equal(payloadOrder(created).kind, 'buy');
    await waitFor('38383 pending', () => orderEventStates(sb, orderId).includes('pending'));
    assert.equal(tagValue(addressable(sb, 38383, orderId)[0]!, 'k'), 'buy');

    await seller.send(msg('take-buy', orderId, { requestId: 2n, tradeIndex: 5 }), { tradeKey: ts });
    const pay = await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: 2n, tradeIndex: 5n });
    const pr = pay.message.kind.payload;
    assert.ok(pr !== null && 'payment_request' in pr);
    assert.equal(pr.payment_request[0]?.status, 'waiting-payment');
    assert.equal(pr.payment_request[0]?.amount, 50_150n, 'amount + fee (150)');
    const escrow = escrowOf(sb, orderId);
    assert.equal(pr.payment_request[1], escrow.paymentRequest);
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { id: orderId, requestId: 2n, tradeIndex: 1n });
    await waitFor('38383 in-progress', () => orderEventStates(sb, orderId).includes('in-progress'));
    assert.equal(orderRow(sb, orderId)?.['status'], 'waiting-payment');

    sb.sim.payHoldInvoice(escrow.hash);
    const ask = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: 2n, tradeIndex: null, match: (r) => r.message.kind.payload !== null && 'order' in r.message.kind.payload });
    const askOrder = payloadOrder(ask);
    assert.equal(askOrder.status, 'waiting-buyer-invoice');
    assert.equal(askOrder.amount, 49_850n, 'amount − fee');
    assert.equal(askOrder.buyer_trade_pubkey, undefined, 'no trade pubkeys');
    assert.equal(askOrder.seller_trade_pubkey, undefined);
    await expectMsg(seller, ts, 'waiting-buyer-invoice', { id: orderId, requestId: 2n });
    const rep = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: null, match: (r) => r.message.kind.payload !== null && 'peer' in r.message.kind.payload });
    assert.deepEqual(rep.message.kind.payload, { peer: { pubkey: '', reputation: { rating: 0, reviews: 0n, operating_days: 0n } } });
    await waitForStatus(sb, orderId, 'waiting-buyer-invoice');

    const payout = sb.sim.createPayeeInvoice({ sats: 49_850, expirySeconds: 7200 });
    await buyer.send(msg('add-invoice', orderId, { requestId: 3n, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    const took = await expectMsg(seller, ts, 'buyer-took-order', { id: orderId, requestId: null });
    assert.equal(payloadOrder(took).status, 'active');
    assert.equal(payloadOrder(took).amount, 50_150n);
    assert.equal(payloadOrder(took).buyer_trade_pubkey, tb.pubkey);
    const acc = await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { id: orderId, requestId: 3n });
    assert.equal(payloadOrder(acc).amount, 49_850n);
    assert.equal(payloadOrder(acc).buyer_invoice, payout.paymentRequest);
    await waitForStatus(sb, orderId, 'active');

    await buyer.send(msg('fiat-sent', orderId, { requestId: 4n }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'fiat-sent-ok', { requestId: 4n });
    await expectMsg(seller, ts, 'fiat-sent-ok', { requestId: null });
    await seller.send(msg('release', orderId, { requestId: 5n }), { tradeKey: ts });
    await expectMsg(buyer, tb, 'released', { requestId: null });
    await expectMsg(seller, ts, 'hold-invoice-payment-settled', { requestId: 5n });
    await expectMsg(seller, ts, 'rate', { requestId: null });
    await expectMsg(buyer, tb, 'purchase-completed', { requestId: null });
    await expectMsg(buyer, tb, 'rate', { requestId: 5n });
    await waitForStatus(sb, orderId, 'success');
    await waitFor('38383 success', () => orderEventStates(sb, orderId).at(-1) === 'success');
    assert.deepEqual(dedupe(orderEventStates(sb, orderId)), ['pending', 'in-progress', 'success']);
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(paymentsOf(sb, payout.hash), 1);
    assert.equal(sb.sim.paymentsByHash.get(payout.hash)?.amountMsat, 49_850_000n);
    assert.deepEqual(unconsumed(buyer, tb), []);
    assert.deepEqual(unconsumed(seller, ts), []);
  });

  void test('§9.2 variant: the buy order carries a Lightning address; after the escrow both are told at once; the payout goes through LNURL', async () => {
    const { sb } = e;
    const buyer = await e.client();
    const seller = await e.client();
    const tb = buyer.tradeKey(1);
    const ts = seller.tradeKey(1);
    sb.lnurl.setMode('alice', 'ok');
    const address = sb.lnurl.address('alice');
    await buyer.send(msg('new-order', undefined, { requestId: 10n, tradeIndex: 1, payload: { order: order({ kind: 'buy', amount: 30_000n, fiat_amount: 30n, buyer_invoice: address }) } }), { tradeKey: tb });
    const orderId = (await expectMsg(buyer, tb, 'new-order', { requestId: 10n })).message.kind.id;
    assert.ok(orderId !== undefined);
    assert.equal(orderRow(sb, orderId)?.['buyer_invoice'], address);

    await seller.send(msg('take-buy', orderId, { requestId: 11n, tradeIndex: 1 }), { tradeKey: ts });
    await expectMsg(seller, ts, 'pay-invoice', { requestId: 11n, tradeIndex: 1n });
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { requestId: 11n });
    const escrow = escrowOf(sb, orderId);
    assert.equal(escrow.valueSat, 30_090);
    sb.sim.payHoldInvoice(escrow.hash);
    await expectMsg(seller, ts, 'buyer-took-order', { id: orderId, requestId: 11n });
    const acc = await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { id: orderId, requestId: 11n });
    assert.equal(payloadOrder(acc).buyer_invoice, undefined, 'PROTOCOL §6.1: no buyer_invoice in the escrow-accepted order');
    await waitForStatus(sb, orderId, 'active');
    assert.deepEqual(unconsumed(buyer, tb), [], 'no add-invoice step');

    const lnurlBefore = sb.lnurl.requests.filter((r) => r.includes('alice')).length;
    await buyer.send(msg('fiat-sent', orderId, { requestId: 12n }), { tradeKey: tb });
    await expectMsg(seller, ts, 'fiat-sent-ok');
    await seller.send(msg('release', orderId, { requestId: 13n }), { tradeKey: ts });
    await expectMsg(buyer, tb, 'purchase-completed', { id: orderId }, 20_000);
    await waitForStatus(sb, orderId, 'success');
    assert.ok(sb.lnurl.requests.filter((r) => r.includes('alice')).length > lnurlBefore, 'the address was resolved at payout');
    const paid = [...sb.sim.paymentsByHash.values()].filter((p) => p.amountMsat === 29_910_000n);
    assert.equal(paid.length, 1, 'one payment of amount − fee (29 910 sats) through the address');
    assert.equal(paid[0]?.status, 'SUCCEEDED');
    assert.equal(paymentsOf(sb, paid[0]!.hash), 1);
    assert.equal(settlesOf(sb, escrow.hash), 1);
  });

  void test('§9.3 sell range 1000–5000 ARS: taken for 1500, released with next_trade → child order 1000–3500 for the maker\'s next key', async () => {
    const { sb } = e;
    const seller = await e.client();
    const buyer = await e.client();
    const ts = seller.tradeKey(1);
    const tb = buyer.tradeKey(3);
    await seller.send(
      msg('new-order', undefined, { requestId: 21n, tradeIndex: 1, payload: { order: order({ kind: 'sell', fiat_code: 'ARS', amount: 0n, min_amount: 1000n, max_amount: 5000n, fiat_amount: 0n, premium: 0n }) } }),
      { tradeKey: ts },
    );
    const created = await expectMsg(seller, ts, 'new-order', { requestId: 21n, tradeIndex: 1n });
    const orderId = created.message.kind.id;
    assert.ok(orderId !== undefined);
    assert.equal(payloadOrder(created).min_amount, 1000n);
    assert.equal(payloadOrder(created).max_amount, 5000n);
    await waitFor('38383 pending', () => orderEventStates(sb, orderId).includes('pending'));
    assert.deepEqual(addressable(sb, 38383, orderId)[0]!.tags.find((t) => t[0] === 'fa'), ['fa', '1000', '5000']);

    // (the sandbox's VES price makes the spec's 10–50 VES dust; ARS at 100 000 000/BTC is 1 sat each)
    // 1500 ARS = 1500 sats; fee round(0.006 × 1500 / 2) = round(4.5) = 5 (half away from zero)
    await buyer.send(msg('take-sell', orderId, { requestId: 22n, tradeIndex: 3, payload: { amount: 1500n } }), { tradeKey: tb });
    const ask = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: 22n, tradeIndex: 3n });
    const o4 = payloadOrder(ask);
    assert.equal(o4.fiat_amount, 1500n);
    assert.equal(o4.min_amount, 1000n);
    assert.equal(o4.max_amount, 5000n);
    assert.equal(o4.amount, 1495n);
    await expectMsg(seller, ts, 'waiting-buyer-invoice', { requestId: 22n, tradeIndex: 1n });
    await waitFor('38383 in-progress', () => orderEventStates(sb, orderId).includes('in-progress'));
    const inprog = addressable(sb, 38383, orderId).find((ev) => tagValue(ev, 's') === 'in-progress')!;
    assert.deepEqual(inprog.tags.find((t) => t[0] === 'fa'), ['fa', '1500']);
    assert.equal(tagValue(inprog, 'amt'), '1500');

    const payout = sb.sim.createPayeeInvoice({ sats: 1495, expirySeconds: 7200 });
    await buyer.send(msg('add-invoice', orderId, { requestId: 23n, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { requestId: 23n });
    const escrow = escrowOf(sb, orderId);
    assert.equal(escrow.valueSat, 1505);
    sb.sim.payHoldInvoice(escrow.hash);
    await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { requestId: 23n });
    await expectMsg(seller, ts, 'buyer-took-order', { requestId: 23n });
    await buyer.send(msg('fiat-sent', orderId, { requestId: 24n }), { tradeKey: tb });
    await expectMsg(seller, ts, 'fiat-sent-ok');

    const ts2 = seller.tradeKey(2);
    await seller.send(msg('release', orderId, { requestId: 25n, payload: { next_trade: [ts2.pubkey, 2] } }), { tradeKey: ts });
    await expectMsg(buyer, tb, 'released', { requestId: null });
    const child = await expectMsg(seller, ts2, 'new-order', { requestId: 25n, tradeIndex: 2n });
    const childId = child.message.kind.id;
    assert.ok(childId !== undefined && childId !== orderId);
    const co = payloadOrder(child);
    assert.equal(co.id, childId);
    assert.equal(co.status, 'pending');
    assert.equal(co.min_amount, 1000n);
    assert.equal(co.max_amount, 3500n);
    assert.equal(co.fiat_amount, 0n);
    assert.equal(co.amount, 0n);
    assert.equal(co.buyer_trade_pubkey, undefined);
    await expectMsg(seller, ts, 'hold-invoice-payment-settled', { requestId: 25n });
    await expectMsg(buyer, tb, 'purchase-completed');
    await waitForStatus(sb, orderId, 'success');

    const childRow = orderRow(sb, childId);
    assert.equal(childRow?.['status'], 'pending');
    assert.equal(childRow?.['seller_pubkey'], ts2.pubkey);
    assert.equal(childRow?.['master_seller_pubkey'], seller.identity.pubkey);
    assert.equal(childRow?.['buyer_pubkey'], null);
    assert.equal(blobToUuid(childRow?.['range_parent_id']), orderId);
    assert.equal(childRow?.['trade_index_seller'], 2);
    assert.equal(ordersWhere(sb, 'range_parent_id = ?', uuidBlob(orderId)).length, 1, 'exactly one child');
    await waitFor('child 38383 pending', () => addressable(sb, 38383, childId).length > 0);
    const childEv = addressable(sb, 38383, childId)[0]!;
    assert.equal(tagValue(childEv, 's'), 'pending');
    assert.deepEqual(childEv.tags.find((t) => t[0] === 'fa'), ['fa', '1000', '3500']);
    assert.ok(tagValue(childEv, 'source')?.startsWith(`mostro:${childId}?`));
    await waitFor('parent 38383 success', () => orderEventStates(sb, orderId).at(-1) === 'success');
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(paymentsOf(sb, payout.hash), 1);
  });
});
