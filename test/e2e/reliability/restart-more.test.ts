/**
 * kill -9 and restart of the BUILT daemon in the statuses restart.test.ts does not cover: pending,
 * waiting-buyer-invoice, dispute (the solver settles after restarts), and an interrupted settle
 * (the release claim persisted, the escrow still held in LND). Each trade ends with exactly one
 * settle and one payout, every party told, nothing stuck.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSandbox } from '../../support/sandbox.js';
import { smallOrder } from '../../support/trade-fixtures.js';
import {
  disputeStatus,
  harness,
  msg,
  orderStatus,
  restartDaemon,
  setOrderStatus,
  startDaemon,
  waitFor,
  type Harness,
  type Trade,
} from './faults-support.js';

void describe('kill -9 and restart, more statuses (built daemon, relay, LND simulator)', () => {
  let h: Harness;
  before(async () => {
    const sb = await startSandbox({ startDaemon: false, echoLogs: process.env['E2E_ECHO'] === '1' });
    h = harness(sb);
    await startDaemon(sb);
  });
  after(async () => {
    await h.close();
  });

  async function assertDone(t: Trade): Promise<void> {
    await waitFor('payout succeeded', () => h.sb.sim.paymentsByHash.get(t.payoutHash)?.status === 'SUCCEEDED');
    await waitFor('order success in DB', () => orderStatus(h.sb, t.orderId) === 'success');
    assert.equal(h.settlesOf(t.escrowHash), 1, 'one settle');
    assert.equal(h.paymentsOf(t.payoutHash), 1, 'one payout');
    assert.equal(h.sb.sim.cancels.filter((x) => x === t.escrowHash).length, 0, 'escrow never canceled');
  }

  void test('killed in pending: the order survives and is taken and traded after the restart', async () => {
    const { sb } = h;
    const { orderId, seller, sk } = await h.sellOrder();
    await restartDaemon(sb);
    assert.equal(orderStatus(sb, orderId), 'pending');
    const buyer = await h.client();
    const bk = buyer.tradeKey();
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', orderId, { tradeIndex: BigInt(bk.index), payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: bk });
    await seller.waitForAction(sk, 'pay-invoice', 10_000);
    const escrow = [...sb.sim.invoices.values()].find((i) => i.memo.includes(orderId));
    assert.ok(escrow !== undefined);
    const t: Trade = { orderId, escrowHash: escrow.hash, payoutHash: payout.hash, seller, buyer, sk, bk };
    await h.payEscrow(t);
    await h.finish(t);
    await assertDone(t);
  });

  void test('killed in waiting-buyer-invoice with the escrow held: the buyer adds the invoice after the restart', async () => {
    const { sb } = h;
    // a buy order taken by a seller: escrow first, then the buyer's invoice
    const buyer = await h.client();
    const bk = buyer.tradeKey();
    await buyer.send(msg('new-order', undefined, { tradeIndex: BigInt(bk.index), payload: { order: smallOrder({ kind: 'buy', amount: 20_000n, fiat_amount: 100n }) } }), { tradeKey: bk });
    const orderId = (await buyer.waitForAction(bk, 'new-order', 10_000)).message.kind.id;
    assert.ok(orderId !== undefined);
    const seller = await h.client();
    const sk = seller.tradeKey();
    await seller.send(msg('take-buy', orderId, { tradeIndex: BigInt(sk.index) }), { tradeKey: sk });
    await seller.waitForAction(sk, 'pay-invoice', 10_000);
    const escrow = [...sb.sim.invoices.values()].find((i) => i.memo.includes(orderId));
    assert.ok(escrow !== undefined);
    sb.sim.payHoldInvoice(escrow.hash);
    await buyer.waitForAction(bk, 'add-invoice', 15_000);
    await seller.waitForAction(sk, 'waiting-buyer-invoice', 15_000);
    assert.equal(orderStatus(sb, orderId), 'waiting-buyer-invoice');
    await restartDaemon(sb);
    assert.equal(orderStatus(sb, orderId), 'waiting-buyer-invoice');
    assert.equal(sb.sim.invoices.get(escrow.hash)?.state, 'ACCEPTED', 'escrow still held');
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('add-invoice', orderId, { requestId: 5n, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: bk });
    await waitFor('order active', () => orderStatus(sb, orderId) === 'active');
    await seller.waitForAction(sk, 'buyer-took-order', 15_000);
    const t: Trade = { orderId, escrowHash: escrow.hash, payoutHash: payout.hash, seller, buyer, sk, bk };
    await h.finish(t);
    await assertDone(t);
  });

  void test('killed in dispute, and again after the solver took it: the solver settles after the restart', async () => {
    const { sb } = h;
    const t = await h.takenOrder();
    await h.payEscrow(t);
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok', 10_000);
    await t.buyer.send(msg('dispute', t.orderId, { requestId: 9n }), { tradeKey: t.bk });
    const opened = await t.buyer.waitForAction(t.bk, 'dispute-initiated-by-you', 10_000);
    await t.seller.waitForAction(t.sk, 'dispute-initiated-by-peer', 10_000);
    const p = opened.message.kind.payload;
    assert.ok(p !== null && 'dispute' in p);
    const disputeId = p.dispute[0];
    assert.equal(orderStatus(sb, t.orderId), 'dispute');

    await restartDaemon(sb);
    // the node's own key is the admin
    const admin = await h.client({ identitySk: sb.nodeSecretKey });
    const ak = admin.tradeKey();
    await admin.send(msg('admin-take-dispute', disputeId, { requestId: 21n }), { tradeKey: ak });
    await admin.waitFor((r) => r.message.kind.action === 'admin-took-dispute', 10_000);
    await t.buyer.waitForAction(t.bk, 'admin-took-dispute', 10_000);
    await t.seller.waitForAction(t.sk, 'admin-took-dispute', 10_000);
    assert.equal(disputeStatus(sb, t.orderId), 'in-progress');

    await restartDaemon(sb);
    await admin.send(msg('admin-settle', t.orderId, { requestId: 22n }), { tradeKey: ak });
    await t.buyer.waitForAction(t.bk, 'admin-settled', 15_000);
    await t.seller.waitForAction(t.sk, 'admin-settled', 15_000);
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 15_000);
    await assertDone(t);
    assert.equal(disputeStatus(sb, t.orderId), 'settled');
  });

  void test('interrupted settle: the release claim is persisted but the escrow is still held → settled and paid once at boot', async () => {
    const { sb } = h;
    const t = await h.takenOrder();
    await h.payEscrow(t);
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok', 10_000);
    // The daemon dies between its compare-and-set to settled-hold-invoice and SettleInvoice. That
    // window is microseconds wide, so it is reproduced exactly: kill, then write the claim.
    assert.equal(await sb.stopDaemon('SIGKILL'), null);
    setOrderStatus(sb, t.orderId, 'settled-hold-invoice');
    assert.equal(sb.sim.invoices.get(t.escrowHash)?.state, 'ACCEPTED');
    await startDaemon(sb);
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 20_000);
    await assertDone(t);
    // the release's notifications, lost with the crash, are sent by the boot reconciliation
    await t.seller.waitForAction(t.sk, 'hold-invoice-payment-settled', 10_000);
    await t.buyer.waitForAction(t.bk, 'released', 10_000);
  });

  void test('SIGKILL right after the release was sent: whatever point it reached, the trade ends with one settle and one payout', async () => {
    const { sb } = h;
    const t = await h.takenOrder();
    await h.payEscrow(t);
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok', 10_000);
    await t.seller.send(msg('release', t.orderId, { requestId: 8n }), { tradeKey: t.sk });
    assert.equal(await sb.stopDaemon('SIGKILL'), null);
    await startDaemon(sb);
    // requests that arrived while the daemon was dead are not replayed: if it died before seeing
    // the release, the seller sends it again (as a client does when no answer comes)
    if (orderStatus(sb, t.orderId) === 'fiat-sent') {
      await t.seller.send(msg('release', t.orderId, { requestId: 9n }), { tradeKey: t.sk });
    }
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 20_000);
    await assertDone(t);
  });
});
