/**
 * Lightning faults against the BUILT daemon: LND down at start, LND dropping mid-trade and while
 * a payout is in flight, a payout that hangs while other users trade. Each scenario checks the
 * simulator's settle/payment log, the daemon's DB and the messages the parties get.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSandbox } from '../../support/sandbox.js';
import { smallOrder } from '../../support/trade-fixtures.js';
import { cantDoReason, harness, logsSince, msg, orderStatus, startDaemon, waitFor, type Harness } from './faults-support.js';

void describe('faults: Lightning node (built daemon, relay, LND simulator)', () => {
  let h: Harness;
  before(async () => {
    const sb = await startSandbox({ startDaemon: false, echoLogs: process.env['E2E_ECHO'] === '1' });
    h = harness(sb);
  });
  after(async () => {
    await h.close();
  });

  void test('LND down at start: the daemon serves what it can, refuses escrow work, and trades once LND is back', async () => {
    const { sb } = h;
    await sb.sim.stop();
    const seen = sb.logs().length;
    await startDaemon(sb, { lightning: false });
    await waitFor('LND unreachable logged', () =>
      logsSince(sb, seen).some((l) => l['msg'] === 'lightning node unreachable: trades that need Lightning are refused until it is back'),
    );

    // new-order needs no Lightning
    const sell = await h.sellOrder();
    assert.equal(orderStatus(sb, sell.orderId), 'pending');
    // take-sell with an invoice is refused with not_allowed_by_status, the order untouched
    const buyer = await h.client();
    const bk1 = buyer.tradeKey();
    const inv = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', sell.orderId, { tradeIndex: BigInt(bk1.index), requestId: 3n, payload: { payment_request: [null, inv.paymentRequest, null] } }), { tradeKey: bk1 });
    const refused = await buyer.waitFor((r) => r.to === bk1.pubkey && r.message.kind.action === 'cant-do', 10_000);
    assert.equal(cantDoReason(refused), 'not_allowed_by_status');
    assert.equal(refused.message.kind.request_id, 3n);
    // take-buy: the seller's escrow would be a hold invoice → refused too
    const maker = await h.client();
    const mk = maker.tradeKey();
    await maker.send(msg('new-order', undefined, { tradeIndex: BigInt(mk.index), payload: { order: smallOrder({ kind: 'buy', amount: 20_000n, fiat_amount: 100n }) } }), { tradeKey: mk });
    const buyOrderId = (await maker.waitForAction(mk, 'new-order', 10_000)).message.kind.id;
    assert.ok(buyOrderId !== undefined);
    const taker = await h.client();
    const tk = taker.tradeKey();
    await taker.send(msg('take-buy', buyOrderId, { tradeIndex: BigInt(tk.index), requestId: 4n }), { tradeKey: tk });
    const refused2 = await taker.waitFor((r) => r.to === tk.pubkey && r.message.kind.action === 'cant-do', 10_000);
    assert.equal(cantDoReason(refused2), 'not_allowed_by_status');
    assert.equal(orderStatus(sb, sell.orderId), 'pending');
    assert.equal(orderStatus(sb, buyOrderId), 'pending');
    assert.equal(sb.sim.invoices.size, 0, 'no hold invoice was created');

    // LND comes back: the daemon reconnects and the trade goes through
    const before = sb.logs().length;
    await sb.sim.restart();
    await waitFor('LND reconnect', () => logsSince(sb, before).some((l) => l['msg'] === 'reconciliation with the lightning node done'), 20_000);
    const bk = buyer.tradeKey();
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', sell.orderId, { tradeIndex: BigInt(bk.index), payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: bk });
    await sell.seller.waitForAction(sell.sk, 'pay-invoice', 10_000);
    const escrow = [...sb.sim.invoices.values()].find((i) => i.memo.includes(sell.orderId));
    assert.ok(escrow !== undefined);
    const t = { orderId: sell.orderId, escrowHash: escrow.hash, payoutHash: payout.hash, seller: sell.seller, buyer, sk: sell.sk, bk };
    await h.payEscrow(t);
    await h.finish(t);
    assert.equal(h.settlesOf(t.escrowHash), 1);
    assert.equal(h.paymentsOf(t.payoutHash), 1);
    await waitFor('order success in DB', () => orderStatus(sb, t.orderId) === 'success');
  });

  void test('LND drops after the escrow was created; the seller pays meanwhile; on reconnect the trade becomes active and completes', async () => {
    const { sb } = h;
    const t = await h.takenOrder();
    const seen = sb.logs().length;
    await sb.sim.stop();
    await waitFor('daemon notices LND is gone', () => logsSince(sb, seen).some((l) => l['msg'] === 'LND link down'), 20_000);
    sb.sim.payHoldInvoice(t.escrowHash); // the HTLC arrives at the node while the daemon cannot see it
    assert.equal(orderStatus(sb, t.orderId), 'waiting-payment');
    await sb.sim.restart();
    await t.buyer.waitForAction(t.bk, 'hold-invoice-payment-accepted', 20_000);
    await t.seller.waitForAction(t.sk, 'buyer-took-order', 10_000);
    assert.equal(orderStatus(sb, t.orderId), 'active');
    await h.finish(t);
    assert.equal(h.settlesOf(t.escrowHash), 1, 'one settle');
    assert.equal(h.paymentsOf(t.payoutHash), 1, 'one payout');
    assert.equal(t.buyer.actions(t.bk).filter((a) => a === 'hold-invoice-payment-accepted').length, 1, 'buyer told once');
    await waitFor('order success in DB', () => orderStatus(sb, t.orderId) === 'success');
  });

  void test('a payout hangs: other users still trade; then LND drops, the payout completes meanwhile, and the daemon reconciles it once', async () => {
    const { sb } = h;
    const t1 = await h.takenOrder();
    sb.sim.setPaymentOutcome(t1.payoutHash, { kind: 'hang' });
    await h.payEscrow(t1);
    await t1.buyer.send(msg('fiat-sent', t1.orderId, { requestId: 7n }), { tradeKey: t1.bk });
    await t1.seller.waitForAction(t1.sk, 'fiat-sent-ok', 10_000);
    await t1.seller.send(msg('release', t1.orderId, { requestId: 8n }), { tradeKey: t1.sk });
    await waitFor('payout in flight', () => sb.sim.paymentsByHash.get(t1.payoutHash)?.status === 'IN_FLIGHT');
    assert.equal(h.settlesOf(t1.escrowHash), 1);

    // a second trade from new order to payout while the first payout hangs
    const t2 = await h.takenOrder();
    await h.payEscrow(t2);
    await h.finish(t2);
    assert.equal(h.settlesOf(t2.escrowHash), 1);
    assert.equal(h.paymentsOf(t2.payoutHash), 1);
    assert.equal(sb.sim.paymentsByHash.get(t1.payoutHash)?.status, 'IN_FLIGHT', 'the first payout still hangs');
    assert.equal(orderStatus(sb, t1.orderId), 'settled-hold-invoice');
    assert.ok(!t1.buyer.actions(t1.bk).includes('purchase-completed'));

    // LND goes away, the payment succeeds at the node meanwhile, LND comes back
    const seen = sb.logs().length;
    await sb.sim.stop();
    sb.sim.releasePayment(t1.payoutHash, 'succeed');
    await waitFor('daemon notices LND is gone', () => logsSince(sb, seen).some((l) => l['msg'] === 'LND link down'), 20_000);
    await sb.sim.restart();
    await t1.buyer.waitForAction(t1.bk, 'purchase-completed', 20_000);
    await waitFor('order success in DB', () => orderStatus(sb, t1.orderId) === 'success');
    assert.equal(h.paymentsOf(t1.payoutHash), 1, 'never sent twice');
    assert.equal(h.settlesOf(t1.escrowHash), 1, 'never settled twice');
    assert.equal(t1.buyer.actions(t1.bk).filter((a) => a === 'purchase-completed').length, 1);
  });
});
