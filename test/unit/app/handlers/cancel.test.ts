import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cancel } from '../../../../src/app/handlers/cancel.js';
import { getDispute, insertDispute } from '../../../../src/db/disputes.js';
import { makeTestContext, newKeys, inboundFor, type TestContext } from '../../../support/test-context.js';
import { assertCantDo, lastOrderEvent, onlyMessage, orderPayload, reload, req, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade, type Trade } from '../trade-b-fixture.js';

const NOW = 1_700_000_000;

function cancelReq(t: Trade, requestId: bigint | null = 1n) {
  return req('cancel', { id: t.order.id, requestId });
}

function stranger(ctx: TestContext) {
  const k = newKeys();
  return inboundFor(k, newKeys(), ctx.clock.now());
}

void describe('cancel a pending order (PROTOCOL §9.4 rows 1–2)', () => {
  void test('the maker cancels: canceled, 38383 canceled, canceled → maker (echo)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'pending', escrow: 'none', order: { buyer_pubkey: null, master_buyer_pubkey: null } });
    await cancel(ctx, cancelReq(t, 11n), t.maker.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
    const m = onlyMessage(ctx, t.maker.trade.pubkey);
    assert.equal(m.kind.action, 'canceled');
    assert.equal(m.kind.request_id, 11n);
    assert.deepEqual(tag(lastOrderEvent(ctx, t.order.id)!, 's'), ['canceled']);
    await assertCantDo(cancel(ctx, cancelReq(t), t.maker.inbound), 'order_already_canceled');
  });

  void test('anyone else → is_not_your_order; unknown id → not_found', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'pending', escrow: 'none' });
    await assertCantDo(cancel(ctx, cancelReq(t), stranger(ctx)), 'is_not_your_order');
    await assertCantDo(cancel(ctx, req('cancel', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), t.maker.inbound), 'not_found');
    assert.equal((await reload(ctx, t.order.id)).status, 'pending');
  });
});

void describe('cancel in waiting-payment / waiting-buyer-invoice (PROTOCOL §9.4 rows 3–4)', () => {
  void test('the maker cancels: escrow canceled, canceled → maker (echo) and taker (null), 38383 canceled', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
    await cancel(ctx, cancelReq(t, 4n), t.maker.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.equal(onlyMessage(ctx, t.maker.trade.pubkey).kind.request_id, 4n);
    const toTaker = onlyMessage(ctx, t.taker.trade.pubkey);
    assert.equal(toTaker.kind.action, 'canceled');
    assert.equal(toTaker.kind.request_id, null);
    assert.deepEqual(tag(lastOrderEvent(ctx, t.order.id)!, 's'), ['canceled']);
  });

  void test('the taker cancels: escrow canceled, order back to pending for the maker, new-order (taker’s request id) + 38383 pending', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      status: 'waiting-payment',
      escrow: 'open',
      order: { price_from_api: 1, min_amount: 10, max_amount: 50, fiat_amount: 15, dev_fee: 9 },
    });
    await cancel(ctx, cancelReq(t, 6n), t.taker.inbound);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'pending');
    assert.deepEqual(
      [o.hash, o.preimage, o.buyer_invoice, o.buyer_pubkey, o.master_buyer_pubkey, o.trade_index_buyer],
      [null, null, null, null, null, null],
    );
    assert.deepEqual([o.amount, o.fee, o.dev_fee, o.fiat_amount, o.taken_at, o.invoice_held_at], [0, 0, 0, 0, 0, 0]);
    assert.equal(o.seller_pubkey, t.seller.trade.pubkey, 'maker side kept');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    const toTaker = onlyMessage(ctx, t.taker.trade.pubkey);
    assert.equal(toTaker.kind.action, 'canceled');
    assert.equal(toTaker.kind.request_id, 6n);
    const toMaker = onlyMessage(ctx, t.maker.trade.pubkey);
    assert.equal(toMaker.kind.action, 'new-order');
    assert.equal(toMaker.kind.request_id, 6n);
    assert.equal(orderPayload(toMaker).status, 'pending');
    const ev = lastOrderEvent(ctx, t.order.id)!;
    assert.deepEqual(tag(ev, 's'), ['pending']);
    assert.deepEqual(tag(ev, 'fa'), ['10', '50']);
    assert.equal((await reload(ctx, t.order.id)).event_id, ev.id, 'new event id saved');
  });

  void test('a taker cancel of a buy order keeps the buyer-maker’s own invoice', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { kind: 'buy', status: 'waiting-payment', escrow: 'open' });
    await cancel(ctx, cancelReq(t), t.taker.inbound);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'pending');
    assert.equal(o.buyer_invoice, t.invoice);
    assert.equal(o.seller_pubkey, null);
  });

  void test('a stranger → invalid_pubkey; LND cannot cancel → state restored and cant-do', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-buyer-invoice' });
    await assertCantDo(cancel(ctx, cancelReq(t), stranger(ctx)), 'invalid_pubkey');
    ctx.lightning.failNext('cancelHoldInvoice');
    await assertCantDo(cancel(ctx, cancelReq(t), t.taker.inbound), 'not_allowed_by_status');
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'waiting-buyer-invoice');
    assert.equal(o.buyer_pubkey, t.buyer.trade.pubkey);
    assert.equal(o.hash, t.hash);
    assert.equal(o.amount, t.order.amount);
    assert.equal(ctx.outbox.sent.length, 0);
  });
});

void describe('cooperative cancel (PROTOCOL §9.4 rows 5–8)', () => {
  void test('step 1 then step 2: initiated-by-you/peer, then escrow refunded, accepted to both, 38383 canceled', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    await cancel(ctx, cancelReq(t, 1n), t.buyer.inbound);
    let o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'fiat-sent');
    assert.equal(o.cancel_initiator_pubkey, t.buyer.trade.pubkey);
    assert.equal(o.buyer_cooperativecancel, 1);
    const you = onlyMessage(ctx, t.buyer.trade.pubkey);
    assert.deepEqual([you.kind.action, you.kind.request_id], ['cooperative-cancel-initiated-by-you', 1n]);
    const peer = onlyMessage(ctx, t.seller.trade.pubkey);
    assert.deepEqual([peer.kind.action, peer.kind.request_id], ['cooperative-cancel-initiated-by-peer', null]);
    assert.equal(ctx.lightning.cancels.length, 0);

    await assertCantDo(cancel(ctx, cancelReq(t), t.buyer.inbound), 'invalid_pubkey');
    ctx.outbox.clear();
    await cancel(ctx, cancelReq(t, 2n), t.seller.inbound);
    o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'cooperatively-canceled');
    assert.equal(o.seller_cooperativecancel, 1);
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    const toSeller = onlyMessage(ctx, t.seller.trade.pubkey);
    assert.deepEqual([toSeller.kind.action, toSeller.kind.request_id], ['cooperative-cancel-accepted', 2n]);
    const toBuyer = onlyMessage(ctx, t.buyer.trade.pubkey);
    assert.deepEqual([toBuyer.kind.action, toBuyer.kind.request_id], ['cooperative-cancel-accepted', null]);
    assert.deepEqual(tag(lastOrderEvent(ctx, t.order.id)!, 's'), ['canceled']);
    await assertCantDo(cancel(ctx, cancelReq(t), t.buyer.inbound), 'order_already_canceled');
  });

  void test('strangers get is_not_your_order and cannot start or complete it (#851, HQ-5)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    await assertCantDo(cancel(ctx, cancelReq(t), stranger(ctx)), 'is_not_your_order');
    await cancel(ctx, cancelReq(t), t.seller.inbound);
    await assertCantDo(cancel(ctx, cancelReq(t), stranger(ctx)), 'is_not_your_order');
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.equal(ctx.lightning.cancels.length, 0);
  });

  void test('while disputed: completing it closes the dispute as seller-refunded (#577)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'dispute', order: { seller_dispute: 1 } });
    const disputeId = 'efc75871-2568-40b9-a6ee-c382d4d6de01';
    await insertDispute(ctx.db, { id: disputeId, order_id: t.order.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: NOW, taken_at: 0 });
    await cancel(ctx, cancelReq(t), t.seller.inbound);
    await cancel(ctx, cancelReq(t), t.buyer.inbound);
    assert.equal((await getDispute(ctx.db, disputeId))?.status, 'seller-refunded');
    const ev = ctx.outbox.eventsOfKind(38386).at(-1)!;
    assert.deepEqual(tag(ev, 's'), ['seller-refunded']);
    assert.deepEqual(tag(ev, 'initiator'), ['seller']);
  });

  void test('LND cannot cancel at step 2 → the order stays as it was and the sender gets cant-do', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    await cancel(ctx, cancelReq(t), t.buyer.inbound);
    ctx.outbox.clear();
    ctx.lightning.failNext('cancelHoldInvoice');
    await assertCantDo(cancel(ctx, cancelReq(t), t.seller.inbound), 'not_allowed_by_status');
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'active');
    assert.equal(o.seller_cooperativecancel, 0);
    assert.equal(ctx.outbox.sent.length, 0);
    await cancel(ctx, cancelReq(t), t.seller.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'cooperatively-canceled');
  });
});

void describe('cancel: other statuses', () => {
  void test('settled-hold-invoice / success / expired → not_allowed_by_status; canceled-by-admin → order_already_canceled', async () => {
    const ctx = await makeTestContext({ now: NOW });
    for (const status of ['settled-hold-invoice', 'success', 'expired'] as const) {
      const t = await escrowedTrade(ctx, { status });
      await assertCantDo(cancel(ctx, cancelReq(t), t.seller.inbound), 'not_allowed_by_status');
    }
    const t = await escrowedTrade(ctx, { status: 'canceled-by-admin' });
    await assertCantDo(cancel(ctx, cancelReq(t), t.seller.inbound), 'order_already_canceled');
  });
});
