import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreSession } from '../../../../src/app/handlers/restore-session.js';
import { insertDispute } from '../../../../src/db/disputes.js';
import { makeTestContext } from '../../../support/test-context.js';
import { req } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../trade-b-fixture.js';

void describe('restore-session (HANDLERS §4.16, PROTOCOL §5.12, §9.7)', () => {
  void test('live orders and open disputes of the identity; finished statuses excluded with their real spelling (HQ-18)', async () => {
    const ctx = await makeTestContext();
    const live = await escrowedTrade(ctx, { status: 'active', order: { trade_index_seller: 3 } });
    const me = live.seller;
    const setMe = { master_seller_pubkey: me.identity.pubkey };
    const disputed = await escrowedTrade(ctx, { status: 'dispute', order: { ...setMe, trade_index_seller: null, seller_dispute: 1 } });
    await escrowedTrade(ctx, { status: 'cooperatively-canceled', order: setMe });
    await escrowedTrade(ctx, { status: 'canceled-by-admin', order: setMe });
    await escrowedTrade(ctx, { status: 'success', order: setMe });
    const pendingNullIndex = await escrowedTrade(ctx, { status: 'pending', order: { ...setMe, trade_index_seller: null } });
    const disputeId = 'efc75871-2568-40b9-a6ee-c382d4d6de01';
    await insertDispute(ctx.db, { id: disputeId, order_id: disputed.order.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: 1, taken_at: 0 });

    await restoreSession(ctx, req('restore-session', { requestId: 77n }), me.inbound);
    assert.equal(ctx.outbox.sent.length, 1);
    const sent = ctx.outbox.sent[0]!;
    assert.equal(sent.to, me.trade.pubkey);
    assert.equal(sent.queue, 'restore');
    assert.equal(sent.message.wrapper, 'restore');
    assert.equal(sent.message.kind.action, 'restore-session');
    assert.equal(sent.message.kind.request_id, null, 'request_id not echoed (as 0.17.1)');
    assert.equal(sent.message.kind.id, undefined);
    const p = sent.message.kind.payload;
    assert.ok(p !== null && 'restore_data' in p);
    const byId = new Map(p.restore_data.orders.map((o) => [o.order_id, o]));
    assert.deepEqual([...byId.keys()].sort(), [live.order.id, pendingNullIndex.order.id].sort());
    assert.deepEqual(byId.get(live.order.id), { order_id: live.order.id, trade_index: 3n, status: 'active' });
    assert.equal(byId.get(pendingNullIndex.order.id)?.trade_index, 0n, 'NULL index → 0 instead of failing');
    assert.deepEqual(p.restore_data.disputes, [
      { dispute_id: disputeId, order_id: disputed.order.id, trade_index: 0n, status: 'initiated', initiator: 'seller' },
    ]);
  });

  void test('an identity with nothing → empty lists', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await ctx.db.deleteFrom('orders').execute();
    await restoreSession(ctx, req('restore-session'), t.buyer.inbound);
    assert.deepEqual(ctx.outbox.sent[0]!.message.kind.payload, { restore_data: { orders: [], disputes: [] } });
  });
});
