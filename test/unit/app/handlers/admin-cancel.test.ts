import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminCancel } from '../../../../src/app/handlers/admin-cancel.js';
import { adminSettle } from '../../../../src/app/handlers/admin-settle.js';
import { getDispute } from '../../../../src/db/disputes.js';
import { casUpdateOrder } from '../../../../src/db/orders.js';
import { CantDoError, LightningError } from '../../../../src/errors.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { assertCantDo, lastOrderEvent, onlyMessage, reload, req, tag } from '../../../support/trade-fixtures.js';
import { admin, disputeEvents, escrowedTrade, openDispute, solver, take, type Solver, type Trade } from './dispute-fixture.js';

const NOW = 1_700_000_000;

async function disputedAndTaken(ctx: TestContext): Promise<{ t: Trade; s: Solver; disputeId: string }> {
  const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
  const d = await openDispute(ctx, t, 'buyer');
  const s = await solver(ctx);
  await take(ctx, s, d);
  ctx.outbox.clear();
  return { t, s, disputeId: d.id };
}

function cancelReq(orderId: string, requestId: bigint | null = 31n, tradeIndex: bigint | null = 4n) {
  return req('admin-cancel', { id: orderId, requestId, tradeIndex });
}

void describe('admin-cancel (HANDLERS §4.10, PROTOCOL §9.5 rows 7b–8b)', () => {
  void test('the assigned solver refunds the seller: LND cancel, order canceled-by-admin, dispute seller-refunded, events, three messages', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s, disputeId } = await disputedAndTaken(ctx);

    await adminCancel(ctx, cancelReq(t.order.id), s.inbound);

    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.equal(ctx.lightning.settles.length, 0);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled-by-admin');
    assert.equal((await getDispute(ctx.db, disputeId))?.status, 'seller-refunded');

    const evs = disputeEvents(ctx, disputeId);
    assert.equal(evs.length, 1);
    assert.deepEqual(tag(evs[0]!, 's'), ['seller-refunded']);
    assert.deepEqual(tag(evs[0]!, 'initiator'), ['buyer']);
    assert.deepEqual(tag(lastOrderEvent(ctx, t.order.id)!, 's'), ['canceled']);

    for (const key of [s.trade.pubkey, t.seller.trade.pubkey, t.buyer.trade.pubkey]) {
      const m = onlyMessage(ctx, key);
      assert.equal(m.wrapper, 'order');
      assert.equal(m.kind.action, 'admin-canceled');
      assert.equal(m.kind.id, t.order.id);
      assert.equal(m.kind.request_id, 31n, 'request id echoed to all three (§9.5 8b)');
      assert.equal(m.kind.trade_index, 4n);
      assert.equal(m.kind.payload, null);
    }
  });

  void test('a bond_resolution payload (mostro-core ≥ 0.13 solvers) is accepted and ignored: same refund, same messages', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s } = await disputedAndTaken(ctx);
    const m = req('admin-cancel', { id: t.order.id, requestId: 31n, tradeIndex: 4n, payload: { bond_resolution: { slash_seller: true, slash_buyer: true } } });
    await adminCancel(ctx, m, s.inbound);
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled-by-admin');
    for (const key of [s.trade.pubkey, t.seller.trade.pubkey, t.buyer.trade.pubkey]) {
      const out = onlyMessage(ctx, key);
      assert.equal(out.kind.action, 'admin-canceled');
      assert.equal(out.kind.payload, null);
    }
  });

  void test('a solver on a dispute nobody took → is_not_your_dispute, escrow untouched', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    await openDispute(ctx, t, 'seller');
    const s = await solver(ctx);
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), s.inbound), 'is_not_your_dispute');
    assert.equal(ctx.lightning.cancels.length, 0);
    assert.equal((await reload(ctx, t.order.id)).status, 'dispute');
  });

  void test("a solver on another solver's dispute → is_not_your_dispute; a party → is_not_your_dispute", async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t } = await disputedAndTaken(ctx);
    const other = await solver(ctx);
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), other.inbound), 'is_not_your_dispute');
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), t.seller.inbound), 'is_not_your_dispute');
    assert.equal(ctx.lightning.cancels.length, 0);
  });

  void test('after an admin takeover the former solver gets dispute_taken_by_admin, the admin may act', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s, disputeId } = await disputedAndTaken(ctx);
    const boss = admin(ctx);
    const d = await getDispute(ctx.db, disputeId);
    await take(ctx, boss, d!);
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), s.inbound), 'dispute_taken_by_admin');
    assert.equal(ctx.lightning.cancels.length, 0);
    await adminCancel(ctx, cancelReq(t.order.id), boss.inbound);
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
  });

  void test('cooperatively canceled order → cooperative-cancel-accepted to the identity key, nothing else', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s } = await disputedAndTaken(ctx);
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, { status: 'dispute' }, { status: 'cooperatively-canceled' }));
    await adminCancel(ctx, cancelReq(t.order.id, 8n, 2n), s.inbound);
    const m = onlyMessage(ctx, s.identity.pubkey);
    assert.equal(m.kind.action, 'cooperative-cancel-accepted');
    assert.equal(m.kind.request_id, 8n);
    assert.equal(m.kind.trade_index, 2n);
    assert.equal(ctx.outbox.sent.length, 1);
    assert.equal(ctx.lightning.calls.filter((c) => c.method === 'cancelHoldInvoice').length, 0);
  });

  void test('an order no longer in dispute → not_allowed_by_status', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s } = await disputedAndTaken(ctx);
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, { status: 'dispute' }, { status: 'success' }));
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), s.inbound), 'not_allowed_by_status');
    assert.equal(ctx.lightning.cancels.length, 0);
  });

  void test('inconsistent dispute flags are refused BEFORE the escrow is touched (#825, HQ-15)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s } = await disputedAndTaken(ctx);
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, {}, { seller_dispute: 1 }));
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), s.inbound), 'invalid_dispute_status');
    assert.equal(ctx.lightning.calls.filter((c) => c.method === 'cancelHoldInvoice').length, 0);
    assert.equal((await reload(ctx, t.order.id)).status, 'dispute');
  });

  void test('Lightning down → refused before any state change', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s, disputeId } = await disputedAndTaken(ctx);
    ctx.lightning.setState('down');
    await assertCantDo(adminCancel(ctx, cancelReq(t.order.id), s.inbound), 'not_allowed_by_status');
    assert.equal((await reload(ctx, t.order.id)).status, 'dispute');
    assert.equal((await getDispute(ctx.db, disputeId))?.status, 'in-progress');
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('LND refusing the cancel reverts the claim so the admin can retry', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s, disputeId } = await disputedAndTaken(ctx);
    ctx.lightning.failNext('cancelHoldInvoice', new LightningError('transport is closing', 'unavailable'));
    await assert.rejects(adminCancel(ctx, cancelReq(t.order.id), s.inbound));
    assert.equal((await reload(ctx, t.order.id)).status, 'dispute');
    assert.equal((await getDispute(ctx.db, disputeId))?.status, 'in-progress');
    assert.equal(ctx.outbox.sent.length, 0);
    await adminCancel(ctx, cancelReq(t.order.id), s.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled-by-admin');
  });

  void test('an escrow LND already canceled or never knew is tolerated (upstream #941)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const { t, s } = await disputedAndTaken(ctx);
    ctx.lightning.cancelByNode(t.hash);
    await adminCancel(ctx, cancelReq(t.order.id), s.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled-by-admin');

    const second = await disputedAndTaken(ctx);
    ctx.lightning.invoices.delete(second.t.hash);
    await adminCancel(ctx, cancelReq(second.t.order.id), second.s.inbound);
    assert.equal((await reload(ctx, second.t.order.id)).status, 'canceled-by-admin');
  });

  void test('a settle racing a cancel: exactly one outcome (#810/#963)', async () => {
    for (let round = 0; round < 4; round++) {
      const ctx = await makeTestContext({ now: NOW });
      const { t, s } = await disputedAndTaken(ctx);
      const cancel = () => adminCancel(ctx, cancelReq(t.order.id), s.inbound);
      const settle = () => adminSettle(ctx, req('admin-settle', { id: t.order.id, requestId: 1n }), s.inbound);
      const results = await Promise.allSettled(round % 2 === 0 ? [cancel(), settle()] : [settle(), cancel()]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: exactly one wins`);
      assert.ok(lost[0]!.reason instanceof CantDoError, `round ${round}: the loser is refused`);
      assert.equal(ctx.lightning.settles.length + ctx.lightning.cancels.length, 1, 'the escrow moved once');
      const status = (await reload(ctx, t.order.id)).status;
      if (ctx.lightning.cancels.length === 1) assert.equal(status, 'canceled-by-admin');
      else assert.notEqual(status, 'canceled-by-admin');
      await ctx.tasks.idle();
    }
  });
});
