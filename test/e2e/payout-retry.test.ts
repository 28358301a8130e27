/**
 * HANDLERS.md §5.2–§5.3 / PROTOCOL.md §6.3 against the BUILT daemon: the buyer's invoice cannot be
 * paid; the buyer is told (payment-failed with the retry policy), the retry job tries again every
 * payment_retries_interval seconds until payment_attempts, then asks for a new invoice (add-invoice
 * with the order); the buyer sends one (invoice-updated) and the next retry pays it — exactly one
 * successful payment for the trade and one settle of the escrow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { escrowOf, expectMsg, msg, order, orderRow, payloadOrder, settlesOf, startE2E, waitForStatus, type E2E } from './e2e-harness.js';

const ATTEMPTS = 2;
const INTERVAL = 1;

void describe('e2e failed payout: retried, then paid to a new invoice', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E({ settings: { lightning: { payment_attempts: ATTEMPTS, payment_retries_interval: INTERVAL } } });
  });
  after(async () => {
    await e.close();
  });

  void test('payment-failed → retries → add-invoice → invoice-updated → paid once', async () => {
    const { sb } = e;
    const seller = await e.client();
    const buyer = await e.client();
    const ts = seller.tradeKey(1);
    const tb = buyer.tradeKey(1);

    await seller.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: 1, payload: { order: order({ kind: 'sell', amount: 20_000n, fiat_amount: 20n }) } }), { tradeKey: ts });
    const orderId = (await expectMsg(seller, ts, 'new-order', { requestId: 1n })).message.kind.id!;
    await buyer.send(msg('take-sell', orderId, { requestId: 2n, tradeIndex: 1 }), { tradeKey: tb });
    const ask = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: 2n });
    const buyerSats = Number(payloadOrder(ask).amount);

    // The first invoice always fails to route.
    const bad = sb.sim.createPayeeInvoice({ sats: buyerSats });
    sb.sim.setPaymentOutcome(bad.hash, { kind: 'fail', reason: 'FAILURE_REASON_NO_ROUTE' });
    await buyer.send(msg('add-invoice', orderId, { requestId: 3n, payload: { payment_request: [null, bad.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: 3n, match: (r) => r.message.kind.payload !== null && 'payment_request' in r.message.kind.payload });
    const escrow = escrowOf(sb, orderId);
    sb.sim.payHoldInvoice(escrow.hash);
    await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { id: orderId });
    await buyer.send(msg('fiat-sent', orderId, { requestId: 4n }), { tradeKey: tb });
    await expectMsg(seller, ts, 'fiat-sent-ok', { id: orderId });
    await seller.send(msg('release', orderId, { requestId: 5n }), { tradeKey: ts });
    await expectMsg(buyer, tb, 'released', { id: orderId, requestId: null });

    // First failure: payment-failed echoing the release request, with the retry policy.
    const failed = await expectMsg(buyer, tb, 'payment-failed', { id: orderId, requestId: 5n }, 20_000);
    assert.deepEqual(failed.message.kind.payload, { payment_failed: { payment_attempts: ATTEMPTS - 1, payment_retries_interval: INTERVAL } });
    // The escrow was settled exactly once and the order is persisted as settled-hold-invoice.
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(orderRow(sb, orderId)?.['status'], 'settled-hold-invoice');

    // After payment_attempts failures the buyer is asked for a new invoice (the order in the payload).
    const again = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, match: (r) => r.message.kind.payload !== null && 'order' in r.message.kind.payload }, 30_000);
    const asked = payloadOrder(again);
    assert.equal(asked.status, 'settled-hold-invoice');
    assert.equal(Number(asked.amount), buyerSats);
    const badAttempts = sb.sim.payments.filter((p) => p.hash === bad.hash).length;
    assert.equal(badAttempts, ATTEMPTS, 'one attempt at release plus retries up to payment_attempts');
    assert.equal(orderRow(sb, orderId)?.['payment_attempts'], ATTEMPTS);

    // The buyer sends a new invoice; the next retry pays it.
    const good = sb.sim.createPayeeInvoice({ sats: buyerSats });
    await buyer.send(msg('add-invoice', orderId, { requestId: 6n, payload: { payment_request: [null, good.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'invoice-updated', { id: orderId, requestId: 6n });
    await expectMsg(buyer, tb, 'purchase-completed', { id: orderId, requestId: null }, 30_000);
    await waitForStatus(sb, orderId, 'success');

    const paidGood = sb.sim.paymentsByHash.get(good.hash);
    assert.equal(paidGood?.status, 'SUCCEEDED');
    assert.equal(sb.sim.payments.filter((p) => p.hash === good.hash).length, 1, 'the new invoice is paid exactly once');
    assert.equal(sb.sim.payments.filter((p) => p.hash === bad.hash).length, ATTEMPTS, 'no further attempt on the old invoice');
    assert.equal(settlesOf(sb, escrow.hash), 1);
  });
});
