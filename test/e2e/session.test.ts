/**
 * PROTOCOL.md §9.7–§9.9 against the BUILT daemon: restore-session, last-trade-index and orders,
 * asked from a fresh trade key as a client restoring on a new device does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestClient, ClientKey } from '../support/client.js';
import { cantDoReason, expectMsg, msg, order, startE2E, waitForStatus, type E2E } from './e2e-harness.js';

void describe('e2e §9.7–9.9 restore-session, last-trade-index, orders (built daemon)', () => {
  let e: E2E;
  let seller: TestClient;
  let buyer: TestClient;
  let pendingId: string;
  let takenId: string;
  let canceledId: string;

  before(async () => {
    e = await startE2E();
    seller = await e.client();
    buyer = await e.client();
    const ids: string[] = [];
    const keys: ClientKey[] = [];
    for (const i of [1, 2, 3]) {
      const k = seller.tradeKey(i);
      keys.push(k);
      await seller.send(msg('new-order', undefined, { requestId: BigInt(i), tradeIndex: i, payload: { order: order({ amount: 10_000n * BigInt(i), fiat_amount: 10n * BigInt(i) }) } }), { tradeKey: k });
      const id = (await expectMsg(seller, k, 'new-order', { requestId: BigInt(i) })).message.kind.id;
      assert.ok(id !== undefined);
      ids.push(id);
    }
    [pendingId, takenId, canceledId] = ids as [string, string, string];
    const tb = buyer.tradeKey(4);
    await buyer.send(msg('take-sell', takenId, { requestId: 9n, tradeIndex: 4 }), { tradeKey: tb });
    await expectMsg(buyer, tb, 'add-invoice', { requestId: 9n });
    const k3 = keys[2]!;
    await seller.send(msg('cancel', canceledId, { requestId: 10n }), { tradeKey: k3 });
    await expectMsg(seller, k3, 'canceled', { requestId: 10n });
    await waitForStatus(e.sb, canceledId, 'canceled');
  });
  after(async () => {
    await e.close();
  });

  void test('restore-session from a new trade key: open orders with their trade index (canceled excluded), request_id null', async () => {
    const k = seller.tradeKey(50);
    await seller.send(msg('restore-session', undefined, { wrapper: 'restore', requestId: 77n }), { tradeKey: k });
    const r = await expectMsg(seller, k, 'restore-session', { requestId: null, tradeIndex: null, wrapper: 'restore' });
    const p = r.message.kind.payload;
    assert.ok(p !== null && 'restore_data' in p);
    const orders = [...p.restore_data.orders].sort((a, b) => Number(a.trade_index - b.trade_index));
    assert.deepEqual(orders, [
      { order_id: pendingId, trade_index: 1n, status: 'pending' },
      { order_id: takenId, trade_index: 2n, status: 'waiting-buyer-invoice' },
    ]);
    assert.deepEqual(p.restore_data.disputes, []);

    const kb = buyer.tradeKey(51);
    await buyer.send(msg('restore-session', undefined, { wrapper: 'restore' }), { tradeKey: kb });
    const rb = await expectMsg(buyer, kb, 'restore-session', { wrapper: 'restore' });
    const pb = rb.message.kind.payload;
    assert.ok(pb !== null && 'restore_data' in pb);
    assert.deepEqual(pb.restore_data.orders, [{ order_id: takenId, trade_index: 4n, status: 'waiting-buyer-invoice' }]);
  });

  void test('last-trade-index: the stored index echoes the request; an unknown identity gets cant-do not_found', async () => {
    const k = seller.tradeKey(60);
    await seller.send(msg('last-trade-index', undefined, { wrapper: 'restore', requestId: 5n }), { tradeKey: k });
    await expectMsg(seller, k, 'last-trade-index', { requestId: 5n, tradeIndex: 3n, wrapper: 'restore' });
    const kb = buyer.tradeKey(61);
    await buyer.send(msg('last-trade-index', undefined, { wrapper: 'restore', requestId: 6n }), { tradeKey: kb });
    await expectMsg(buyer, kb, 'last-trade-index', { requestId: 6n, tradeIndex: 4n });

    const stranger = await e.client();
    const ks = stranger.tradeKey();
    await stranger.send(msg('last-trade-index', undefined, { wrapper: 'restore', requestId: 7n }), { tradeKey: ks });
    const r = await expectMsg(stranger, ks, 'cant-do', { requestId: 7n, tradeIndex: null, wrapper: 'cant-do' });
    assert.equal(cantDoReason(r), 'not_found');
  });

  void test('orders: only the sender\'s orders, in request order, buyer_invoice removed; refusals for none/empty/too many', async () => {
    const k = seller.tradeKey(70);
    await seller.send(msg('orders', undefined, { requestId: 8n, payload: { ids: [canceledId, randomUUID(), pendingId, takenId] } }), { tradeKey: k });
    const r = await expectMsg(seller, k, 'orders', { requestId: 8n, tradeIndex: null });
    assert.equal(r.message.kind.id, undefined);
    const p = r.message.kind.payload;
    assert.ok(p !== null && 'orders' in p);
    assert.deepEqual(p.orders.map((o) => [o.id, o.status]), [[canceledId, 'canceled'], [pendingId, 'pending'], [takenId, 'waiting-buyer-invoice']]);
    const taken = p.orders[2]!;
    assert.equal(taken.amount, 20_000n, 'raw amount');
    assert.ok(taken.buyer_trade_pubkey !== undefined && taken.seller_trade_pubkey !== undefined, 'both trade pubkeys');
    assert.equal(taken.buyer_invoice, undefined);

    const stranger = await e.client();
    const ks = stranger.tradeKey();
    await stranger.send(msg('orders', undefined, { requestId: 9n, payload: { ids: [pendingId] } }), { tradeKey: ks });
    assert.equal(cantDoReason(await expectMsg(stranger, ks, 'cant-do', { requestId: 9n })), 'not_found');
    await stranger.send(msg('orders', undefined, { requestId: 10n, payload: { ids: [] } }), { tradeKey: ks });
    assert.equal(cantDoReason(await expectMsg(stranger, ks, 'cant-do', { requestId: 10n })), 'invalid_parameters');
    await stranger.send(msg('orders', undefined, { requestId: 11n, payload: { ids: Array.from({ length: 11 }, () => randomUUID()) } }), { tradeKey: ks });
    assert.equal(cantDoReason(await expectMsg(stranger, ks, 'cant-do', { requestId: 11n })), 'too_many_requests');
  });
});
