import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { orders } from '../../../../src/app/handlers/orders.js';
import { makeTestContext } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, req } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../trade-b-fixture.js';

void describe('orders (HANDLERS §4.15, PROTOCOL §5.11, §9.9)', () => {
  void test('own orders only, in request order, full SmallOrders without buyer_invoice; no id, echo, ti null', async () => {
    const ctx = await makeTestContext();
    const a = await escrowedTrade(ctx, { status: 'active' });
    const b = await escrowedTrade(ctx, { status: 'fiat-sent' });
    // b's seller is a's seller too.
    await ctx.db.updateTable('orders').set({ master_seller_pubkey: a.seller.identity.pubkey }).execute();
    const other = await escrowedTrade(ctx);
    await orders(ctx, req('orders', { requestId: 3876325412n, tradeIndex: 1n, payload: { ids: [b.order.id, other.order.id, a.order.id] } }), a.seller.inbound);
    const m = onlyMessage(ctx, a.seller.trade.pubkey);
    assert.equal(m.kind.action, 'orders');
    assert.equal(m.kind.id, undefined);
    assert.equal(m.kind.request_id, 3876325412n);
    assert.equal(m.kind.trade_index, null);
    const p = m.kind.payload;
    assert.ok(p !== null && 'orders' in p);
    assert.deepEqual(p.orders.map((o) => o.id), [b.order.id, a.order.id]);
    assert.equal(p.orders[0]!.status, 'fiat-sent');
    assert.equal(p.orders[0]!.amount, BigInt(b.order.amount));
    assert.equal(p.orders[0]!.buyer_trade_pubkey, b.buyer.trade.pubkey);
    assert.equal(p.orders[0]!.buyer_invoice, undefined);
    assert.equal(p.orders[0]!.created_at, BigInt(b.order.created_at));
  });

  void test('empty / wrong payload → invalid_parameters; too many → too_many_requests; none mine → not_found', async () => {
    const ctx = await makeTestContext({ settings: { mostro: { max_orders_per_response: 2 } } });
    const a = await escrowedTrade(ctx);
    await assertCantDo(orders(ctx, req('orders', { payload: { ids: [] } }), a.seller.inbound), 'invalid_parameters');
    await assertCantDo(orders(ctx, req('orders', { payload: { orders: [] } }), a.seller.inbound), 'invalid_parameters');
    const ids = [a.order.id, a.order.id, a.order.id];
    await assertCantDo(orders(ctx, req('orders', { payload: { ids } }), a.seller.inbound), 'too_many_requests');
    const stranger = await escrowedTrade(ctx);
    await assertCantDo(orders(ctx, req('orders', { payload: { ids: [a.order.id] } }), stranger.seller.inbound), 'not_found');
  });
});
