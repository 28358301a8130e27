/**
 * PROTOCOL.md §9.1 against the BUILT daemon: a market-price sell order (seller maker, fee 0.006),
 * a buyer who takes it without an invoice, add-invoice, the seller paying the escrow in the LND
 * simulator, fiat-sent, release, the payout and both ratings. Every message (recipient, action,
 * request_id, trade_index), the order's 38383 events, the DB rows and the simulator's log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressable,
  escrowOf,
  expectMsg,
  msg,
  order,
  orderEventStates,
  orderRow,
  paymentsOf,
  payloadOrder,
  settlesOf,
  startE2E,
  tagValue,
  unconsumed,
  userRow,
  waitFor,
  waitForEvent,
  waitForStatus,
  type E2E,
} from './e2e-harness.js';

void describe('e2e §9.1 sell order, happy path (built daemon, relay, LND simulator)', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E({ settings: { mostro: { user_rates_sent_interval_seconds: 1 } } });
  });
  after(async () => {
    await e.close();
  });

  void test('new-order → take-sell → add-invoice → escrow paid → fiat-sent → release → payout → ratings', async () => {
    const { sb } = e;
    const seller = await e.client();
    const buyer = await e.client();
    const ts = seller.tradeKey(1);
    const tb = buyer.tradeKey(3);

    // 1–2 new-order (market price: amount 0, 100 USD at 100 000 USD/BTC → 100 000 sats at take)
    await seller.send(msg('new-order', undefined, { requestId: 11n, tradeIndex: 1, payload: { order: order({ kind: 'sell', amount: 0n, fiat_amount: 100n }) } }), { tradeKey: ts });
    const created = await expectMsg(seller, ts, 'new-order', { requestId: 11n, tradeIndex: 1n });
    const orderId = created.message.kind.id;
    assert.ok(orderId !== undefined);
    const o1 = payloadOrder(created);
    assert.equal(o1.id, orderId);
    assert.equal(o1.status, 'pending');
    assert.equal(o1.amount, 0n);
    assert.ok(o1.created_at !== null && o1.created_at > 0n);
    assert.ok(o1.expires_at !== null && o1.expires_at > o1.created_at);
    const pendingEv = await waitForEvent(sb, '38383 pending', (ev) => ev.kind === 38383 && tagValue(ev, 'd') === orderId);
    assert.equal(tagValue(pendingEv, 's'), 'pending');
    assert.equal(tagValue(pendingEv, 'k'), 'sell');
    assert.equal(tagValue(pendingEv, 'f'), 'USD');
    assert.equal(tagValue(pendingEv, 'amt'), '0');
    assert.deepEqual(pendingEv.tags.find((t) => t[0] === 'pm'), ['pm', 'face to face', 'bank transfer']);
    assert.equal(tagValue(pendingEv, 'rating'), '["rating",{"days":0,"total_rating":0.0,"total_reviews":0}]');
    assert.equal(tagValue(pendingEv, 'source'), `mostro:${orderId}?relays=${sb.relay.url}&mostro=${sb.nodePubkey}`);
    assert.equal(tagValue(pendingEv, 'layer'), 'lightning');
    assert.equal(tagValue(pendingEv, 'z'), 'order');
    assert.deepEqual(pendingEv.tags.find((t) => t[0] === 'y'), ['y', 'mostro', 'Mostro sandbox']);
    assert.deepEqual(pendingEv.tags.map((t) => t[0]), ['d', 'k', 'f', 's', 'amt', 'fa', 'pm', 'premium', 'rating', 'source', 'network', 'layer', 'expires_at', 'expiration', 'y', 'z']);
    let row = orderRow(sb, orderId);
    assert.equal(row?.['status'], 'pending');
    assert.equal(row?.['seller_pubkey'], ts.pubkey);
    assert.equal(row?.['master_seller_pubkey'], seller.identity.pubkey);
    assert.equal(row?.['creator_pubkey'], ts.pubkey);
    assert.equal(row?.['trade_index_seller'], 1);

    // 3–5 take-sell without an invoice
    await buyer.send(msg('take-sell', orderId, { requestId: 22n, tradeIndex: 3 }), { tradeKey: tb });
    const addInv = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: 22n, tradeIndex: 3n });
    const o4 = payloadOrder(addInv);
    assert.equal(o4.status, 'waiting-buyer-invoice');
    assert.equal(o4.amount, 100_000n - 300n, 'amount − fee (fee = 0.006 × 100 000 / 2)');
    await expectMsg(seller, ts, 'waiting-buyer-invoice', { id: orderId, requestId: 22n, tradeIndex: 1n });
    await waitFor('38383 in-progress', () => orderEventStates(sb, orderId).includes('in-progress'));
    const inProgress = addressable(sb, 38383, orderId).find((ev) => tagValue(ev, 's') === 'in-progress');
    assert.equal(tagValue(inProgress!, 'amt'), '100000');
    assert.equal(tag0(inProgress!, 'rating'), undefined, 'non-pending updates carry no rating');
    assert.equal(tag0(inProgress!, 'source'), undefined);
    row = orderRow(sb, orderId);
    assert.equal(row?.['status'], 'waiting-buyer-invoice');
    assert.equal(row?.['amount'], 100_000);
    assert.equal(row?.['fee'], 300);
    assert.equal(row?.['buyer_pubkey'], tb.pubkey);
    assert.equal(row?.['master_buyer_pubkey'], buyer.identity.pubkey);
    assert.equal(row?.['trade_index_buyer'], 3);

    // 6–9 add-invoice
    const payout = sb.sim.createPayeeInvoice({ sats: 99_700, expirySeconds: 7200 });
    await buyer.send(msg('add-invoice', orderId, { requestId: 33n, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    const notice = await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: null, tradeIndex: null, match: (r) => r.message.kind.payload !== null && 'peer' in r.message.kind.payload });
    const peerPayload = notice.message.kind.payload;
    assert.ok(peerPayload !== null && 'peer' in peerPayload);
    assert.equal(peerPayload.peer.pubkey, '');
    assert.deepEqual(peerPayload.peer.reputation, { rating: 0, reviews: 0n, operating_days: 0n });
    const payInv = await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: 33n, tradeIndex: 1n, match: (r) => r.message.kind.payload !== null && 'payment_request' in r.message.kind.payload });
    const pr = payInv.message.kind.payload;
    assert.ok(pr !== null && 'payment_request' in pr);
    assert.equal(pr.payment_request[0]?.status, 'waiting-payment');
    assert.equal(pr.payment_request[0]?.amount, 100_300n, 'amount + fee');
    const escrow = escrowOf(sb, orderId);
    assert.equal(pr.payment_request[1], escrow.paymentRequest);
    assert.equal(escrow.valueSat, 100_300);
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { id: orderId, requestId: 33n, tradeIndex: 3n });
    row = orderRow(sb, orderId);
    assert.equal(row?.['status'], 'waiting-payment');
    assert.equal(row?.['hash'], escrow.hash);
    assert.equal(row?.['buyer_invoice'], payout.paymentRequest);

    // 10–12 the seller pays the hold invoice
    sb.sim.payHoldInvoice(escrow.hash);
    const took = await expectMsg(seller, ts, 'buyer-took-order', { id: orderId, requestId: 33n, tradeIndex: null });
    const o11 = payloadOrder(took);
    assert.equal(o11.status, 'active');
    assert.equal(o11.amount, 100_300n);
    assert.equal(o11.buyer_trade_pubkey, tb.pubkey);
    assert.equal(o11.seller_trade_pubkey, ts.pubkey);
    const accepted = await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { id: orderId, requestId: 33n, tradeIndex: null });
    const o12 = payloadOrder(accepted);
    assert.equal(o12.status, 'active');
    assert.equal(o12.amount, 99_700n);
    assert.equal(o12.buyer_trade_pubkey, tb.pubkey);
    assert.equal(o12.seller_trade_pubkey, ts.pubkey);
    await waitForStatus(sb, orderId, 'active');

    // 13–15 fiat-sent
    await buyer.send(msg('fiat-sent', orderId, { requestId: 44n }), { tradeKey: tb });
    const fsSeller = await expectMsg(seller, ts, 'fiat-sent-ok', { id: orderId, requestId: null, tradeIndex: null });
    assert.deepEqual(fsSeller.message.kind.payload, { peer: { pubkey: tb.pubkey, reputation: null } });
    const fsBuyer = await expectMsg(buyer, tb, 'fiat-sent-ok', { id: orderId, requestId: 44n, tradeIndex: null });
    assert.deepEqual(fsBuyer.message.kind.payload, { peer: { pubkey: ts.pubkey, reputation: null } });
    await waitForStatus(sb, orderId, 'fiat-sent');

    // 16–21 release → settle → payout → success
    await seller.send(msg('release', orderId, { requestId: 55n }), { tradeKey: ts });
    await expectMsg(buyer, tb, 'released', { id: orderId, requestId: null, tradeIndex: null });
    await expectMsg(seller, ts, 'hold-invoice-payment-settled', { id: orderId, requestId: 55n, tradeIndex: null });
    await expectMsg(seller, ts, 'rate', { id: orderId, requestId: null, tradeIndex: null });
    await expectMsg(buyer, tb, 'purchase-completed', { id: orderId, requestId: null, tradeIndex: null });
    await expectMsg(buyer, tb, 'rate', { id: orderId, requestId: 55n, tradeIndex: null });
    row = await waitForStatus(sb, orderId, 'success');
    assert.equal(row['preimage'] !== null && String(row['preimage']).length, 64);
    await waitFor('38383 success', () => orderEventStates(sb, orderId).at(-1) === 'success');
    assert.deepEqual(dedupe(orderEventStates(sb, orderId)), ['pending', 'in-progress', 'success']);

    // the simulator: one settle of the escrow, one payment of amount − fee to the buyer's invoice
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(sb.sim.cancels.includes(escrow.hash), false);
    assert.equal(paymentsOf(sb, payout.hash), 1);
    const paid = sb.sim.paymentsByHash.get(payout.hash);
    assert.equal(paid?.status, 'SUCCEEDED');
    assert.equal(paid?.amountMsat, 99_700_000n);

    // ratings: both rate each other; the node answers rate-received and publishes 38384
    await buyer.send(msg('rate-user', orderId, { requestId: 66n, payload: { rating_user: 5 } }), { tradeKey: tb });
    const rr = await expectMsg(buyer, tb, 'rate-received', { id: orderId, requestId: 66n });
    assert.deepEqual(rr.message.kind.payload, { rating_user: 5 });
    await seller.send(msg('rate-user', orderId, { requestId: 77n, payload: { rating_user: 4 } }), { tradeKey: ts });
    await expectMsg(seller, ts, 'rate-received', { id: orderId, requestId: 77n });
    await waitFor('seller rated in the users table', () => userRow(sb, seller.identity.pubkey)?.['total_reviews'] === 1);
    assert.equal(userRow(sb, seller.identity.pubkey)?.['last_rating'], 5);
    assert.equal(userRow(sb, buyer.identity.pubkey)?.['last_rating'], 4);
    const rating = await waitForEvent(sb, '38384 rating event', (ev) => ev.kind === 38384 && tagValue(ev, 'last_rating') === '5', 20_000);
    assert.equal(tagValue(rating, 'total_reviews'), '1');
    assert.equal(tagValue(rating, 'z'), 'rating');
    // a second rating from the same party is ignored silently
    await buyer.send(msg('rate-user', orderId, { requestId: 88n, payload: { rating_user: 1 } }), { tradeKey: tb });
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(unconsumed(buyer, tb), [], 'no reply to a repeated rating, nothing else sent to the buyer');
    assert.deepEqual(unconsumed(seller, ts), [], 'nothing else sent to the seller');
    assert.equal(userRow(sb, seller.identity.pubkey)?.['total_reviews'], 1);
    assert.equal(seller.rejected + buyer.rejected, 0, 'every reply was sealed by the node');
  });
});

function tag0(ev: { tags: string[][] }, name: string): string[] | undefined {
  return ev.tags.find((t) => t[0] === name);
}

function dedupe(xs: string[]): string[] {
  return xs.filter((x, i) => i === 0 || xs[i - 1] !== x);
}
