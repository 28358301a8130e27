/**
 * PROTOCOL.md §9.4 against the BUILT daemon: the maker cancels a pending order (and a stranger
 * cannot), the taker cancels in waiting-payment (hold invoice canceled, order back to pending and
 * republished), the maker cancels in waiting-buyer-invoice, and a cooperative cancel from active
 * (escrow canceled exactly once, never settled).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestClient, ClientKey } from '../support/client.js';
import {
  cancelsOf,
  cantDoReason,
  escrowOf,
  expectMsg,
  msg,
  order,
  orderEventStates,
  orderRow,
  payloadOrder,
  settlesOf,
  startE2E,
  unconsumed,
  waitFor,
  waitForStatus,
  type E2E,
} from './e2e-harness.js';

void describe('e2e §9.4 cancellation (built daemon, relay, LND simulator)', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E();
  });
  after(async () => {
    await e.close();
  });

  /** A fixed 20 000-sat sell order by a new seller. */
  async function sellOrder(): Promise<{ orderId: string; seller: TestClient; ts: ClientKey }> {
    const seller = await e.client();
    const ts = seller.tradeKey();
    await seller.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: ts.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), { tradeKey: ts });
    const r = await expectMsg(seller, ts, 'new-order', { requestId: 1n });
    const orderId = r.message.kind.id;
    assert.ok(orderId !== undefined);
    await waitFor('38383 pending', () => orderEventStates(e.sb, orderId).includes('pending'));
    return { orderId, seller, ts };
  }

  void test('maker cancels a pending order; a stranger cannot; a second cancel is refused', async () => {
    const { sb } = e;
    const { orderId, seller, ts } = await sellOrder();

    const stranger = await e.client();
    const sk = stranger.tradeKey();
    await stranger.send(msg('cancel', orderId, { requestId: 5n }), { tradeKey: sk });
    const refused = await expectMsg(stranger, sk, 'cant-do', { requestId: 5n, tradeIndex: null, wrapper: 'cant-do' });
    assert.equal(cantDoReason(refused), 'is_not_your_order');
    assert.equal(orderRow(sb, orderId)?.['status'], 'pending');

    await seller.send(msg('cancel', orderId, { requestId: 6n }), { tradeKey: ts });
    await expectMsg(seller, ts, 'canceled', { id: orderId, requestId: 6n });
    await waitForStatus(sb, orderId, 'canceled');
    await waitFor('38383 canceled', () => orderEventStates(sb, orderId).at(-1) === 'canceled');
    assert.deepEqual(orderEventStates(sb, orderId), ['pending', 'canceled']);

    await seller.send(msg('cancel', orderId, { requestId: 7n }), { tradeKey: ts });
    const again = await expectMsg(seller, ts, 'cant-do', { requestId: 7n });
    assert.equal(cantDoReason(again), 'order_already_canceled');
    assert.deepEqual(unconsumed(seller, ts), []);
    assert.equal(sb.sim.invoices.size === 0 || ![...sb.sim.invoices.values()].some((i) => i.memo.includes(orderId)), true, 'no hold invoice for a pending cancel');
  });

  void test('taker cancels in waiting-payment: hold invoice canceled, order back to pending, maker told with the refreshed order', async () => {
    const { sb } = e;
    const { orderId, seller, ts } = await sellOrder();
    const buyer = await e.client();
    const tb = buyer.tradeKey();
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', orderId, { requestId: 10n, tradeIndex: tb.index, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: 10n, tradeIndex: BigInt(ts.index) });
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { id: orderId, requestId: 10n, tradeIndex: BigInt(tb.index) });
    const escrow = escrowOf(sb, orderId);
    assert.equal(orderRow(sb, orderId)?.['status'], 'waiting-payment');

    await buyer.send(msg('cancel', orderId, { requestId: 11n }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'canceled', { id: orderId, requestId: 11n });
    const refreshed = await expectMsg(seller, ts, 'new-order', { id: orderId, requestId: 11n });
    assert.equal(payloadOrder(refreshed).status, 'pending');
    const row = await waitForStatus(sb, orderId, 'pending');
    assert.equal(row['buyer_pubkey'], null);
    assert.equal(row['hash'], null);
    assert.equal(row['seller_pubkey'], ts.pubkey, 'the maker keeps the order');
    await waitFor('hold invoice canceled', () => cancelsOf(sb, escrow.hash) === 1);
    assert.equal(settlesOf(sb, escrow.hash), 0);
    await waitFor('38383 republished pending', () => orderEventStates(sb, orderId).length >= 3);
    // in-progress while taken: a deliberate fix of HQ-12 (0.17.1 left a sell order taken with an invoice `pending`)
    assert.deepEqual(orderEventStates(sb, orderId), ['pending', 'in-progress', 'pending']);

    // the order can be taken again by someone else
    const buyer2 = await e.client();
    const tb2 = buyer2.tradeKey();
    await buyer2.send(msg('take-sell', orderId, { requestId: 12n, tradeIndex: tb2.index }), { tradeKey: tb2 });
    await expectMsg(buyer2, tb2, 'add-invoice', { id: orderId, requestId: 12n });
    await waitForStatus(sb, orderId, 'waiting-buyer-invoice');
    assert.equal(cancelsOf(sb, escrow.hash), 1, 'canceled exactly once');
  });

  void test('maker cancels in waiting-buyer-invoice: both parties told, order canceled', async () => {
    const { sb } = e;
    const { orderId, seller, ts } = await sellOrder();
    const buyer = await e.client();
    const tb = buyer.tradeKey();
    await buyer.send(msg('take-sell', orderId, { requestId: 20n, tradeIndex: tb.index }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: 20n });
    await expectMsg(seller, ts, 'waiting-buyer-invoice', { id: orderId, requestId: 20n });

    await seller.send(msg('cancel', orderId, { requestId: 21n }), { tradeKey: ts });
    await expectMsg(seller, ts, 'canceled', { id: orderId, requestId: 21n });
    await expectMsg(buyer, tb, 'canceled', { id: orderId, requestId: null });
    await waitForStatus(sb, orderId, 'canceled');
    await waitFor('38383 canceled', () => orderEventStates(sb, orderId).at(-1) === 'canceled');
    assert.deepEqual(orderEventStates(sb, orderId), ['pending', 'in-progress', 'canceled']);
  });

  void test('cooperative cancel from active: initiated, repeat refused, accepted; escrow canceled exactly once, never settled', async () => {
    const { sb } = e;
    const { orderId, seller, ts } = await sellOrder();
    const buyer = await e.client();
    const tb = buyer.tradeKey();
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', orderId, { requestId: 30n, tradeIndex: tb.index, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: 30n });
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { id: orderId, requestId: 30n });
    const escrow = escrowOf(sb, orderId);
    sb.sim.payHoldInvoice(escrow.hash);
    await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { id: orderId, requestId: 30n });
    await expectMsg(seller, ts, 'buyer-took-order', { id: orderId, requestId: 30n });
    await waitForStatus(sb, orderId, 'active');

    await buyer.send(msg('cancel', orderId, { requestId: 31n }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'cooperative-cancel-initiated-by-you', { id: orderId, requestId: 31n });
    await expectMsg(seller, ts, 'cooperative-cancel-initiated-by-peer', { id: orderId, requestId: null });
    assert.equal(orderRow(sb, orderId)?.['status'], 'active');
    assert.equal(orderRow(sb, orderId)?.['cancel_initiator_pubkey'], tb.pubkey);

    await buyer.send(msg('cancel', orderId, { requestId: 32n }), { tradeKey: tb });
    const repeat = await expectMsg(buyer, tb, 'cant-do', { requestId: 32n });
    assert.equal(cantDoReason(repeat), 'invalid_pubkey');

    await seller.send(msg('cancel', orderId, { requestId: 33n }), { tradeKey: ts });
    await expectMsg(seller, ts, 'cooperative-cancel-accepted', { id: orderId, requestId: 33n });
    await expectMsg(buyer, tb, 'cooperative-cancel-accepted', { id: orderId, requestId: null });
    await waitForStatus(sb, orderId, 'cooperatively-canceled');
    await waitFor('escrow canceled', () => cancelsOf(sb, escrow.hash) === 1);
    await waitFor('38383 canceled', () => orderEventStates(sb, orderId).at(-1) === 'canceled');

    await seller.send(msg('cancel', orderId, { requestId: 34n }), { tradeKey: ts });
    const late = await expectMsg(seller, ts, 'cant-do', { requestId: 34n });
    assert.ok(['order_already_canceled', 'not_allowed_by_status'].includes(cantDoReason(late) ?? ''), String(cantDoReason(late)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(cancelsOf(sb, escrow.hash), 1, 'escrow canceled exactly once');
    assert.equal(settlesOf(sb, escrow.hash), 0, 'never settled');
    assert.equal(sb.sim.payments.filter((p) => p.hash === payout.hash).length, 0, 'buyer never paid');
    assert.deepEqual(unconsumed(buyer, tb), []);
    assert.deepEqual(unconsumed(seller, ts), []);
  });
});
