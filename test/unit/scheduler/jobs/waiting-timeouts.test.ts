import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cancelTimedOutWaitingOrders, lateParty } from '../../../../src/scheduler/jobs/waiting-timeouts.js';
import { makeTestContext } from '../../../support/test-context.js';
import { lastOrderEvent, onlyMessage, orderPayload, reload, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../../app/trade-b-fixture.js';

const NOW = 1_700_000_000;
const EXP = 900; // expiration_seconds (test settings default)

void describe('lateParty (PROTOCOL §6.5 table)', () => {
  void test('taker late for (WBI, sell) and (WP, buy); maker late for (WBI, buy) and (WP, sell)', () => {
    assert.equal(lateParty({ status: 'waiting-buyer-invoice', kind: 'sell' }), 'taker');
    assert.equal(lateParty({ status: 'waiting-payment', kind: 'buy' }), 'taker');
    assert.equal(lateParty({ status: 'waiting-buyer-invoice', kind: 'buy' }), 'maker');
    assert.equal(lateParty({ status: 'waiting-payment', kind: 'sell' }), 'maker');
    assert.equal(lateParty({ status: 'active', kind: 'sell' }), null);
  });
});

void describe('waiting-state timeouts (DAEMON §4.3, HANDLERS §4.7 end)', () => {
  void test('sell order, buyer (taker) never sent an invoice: back to pending, taker removed, both told', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      kind: 'sell',
      status: 'waiting-buyer-invoice',
      escrow: 'none',
      order: { taken_at: NOW - 800, invoice_held_at: 0, price_from_api: 1, dev_fee: 9, buyer_invoice: null },
    });
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'waiting-buyer-invoice', 'not late yet');
    assert.equal(ctx.outbox.sent.length, 0);

    ctx.clock.advance(101); // taken_at < now − expiration_seconds
    await cancelTimedOutWaitingOrders(ctx);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'pending');
    assert.deepEqual(
      [o.buyer_pubkey, o.master_buyer_pubkey, o.trade_index_buyer, o.taken_at, o.amount, o.fee, o.dev_fee],
      [null, null, null, 0, 0, 0, 0],
      'taker removed, market amounts reset',
    );
    assert.equal(o.seller_pubkey, t.seller.trade.pubkey, 'maker kept');
    const ev = lastOrderEvent(ctx, o.id);
    assert.ok(ev);
    assert.deepEqual(tag(ev, 's'), ['pending']);
    const toMaker = onlyMessage(ctx, t.seller.trade.pubkey);
    assert.equal(toMaker.kind.action, 'new-order');
    assert.equal(toMaker.kind.request_id, null);
    assert.equal(toMaker.kind.trade_index, null);
    assert.equal(orderPayload(toMaker).status, 'pending');
    assert.equal(orderPayload(toMaker).buyer_trade_pubkey, undefined);
    const toTaker = onlyMessage(ctx, t.buyer.trade.pubkey);
    assert.equal(toTaker.kind.action, 'canceled');
    assert.equal(toTaker.kind.request_id, null);
    assert.equal(ctx.lightning.calls.length, 0, 'no escrow, no Lightning call');
  });

  void test('buy order, seller (taker) never paid: hold invoice canceled, pending again, buyer-maker keeps its invoice', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      kind: 'buy',
      status: 'waiting-payment',
      escrow: 'open',
      order: { taken_at: NOW - EXP - 1, invoice_held_at: 0 },
    });
    await cancelTimedOutWaitingOrders(ctx);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'pending');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.deepEqual([o.hash, o.preimage, o.seller_pubkey, o.master_seller_pubkey], [null, null, null, null]);
    assert.equal(o.buyer_invoice, t.invoice, "the buyer-maker's own invoice stays");
    assert.equal(o.amount, t.order.amount, 'fixed-price order keeps its amount');
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'new-order');
    assert.equal(onlyMessage(ctx, t.seller.trade.pubkey).kind.action, 'canceled');
  });

  void test('sell order, seller (maker) never paid: canceled, escrow canceled, both told canceled', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      kind: 'sell',
      status: 'waiting-payment',
      escrow: 'open',
      order: { taken_at: NOW - EXP - 1, invoice_held_at: 0 },
    });
    await cancelTimedOutWaitingOrders(ctx);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'canceled');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    const ev = lastOrderEvent(ctx, o.id);
    assert.ok(ev);
    assert.deepEqual(tag(ev, 's'), ['canceled']);
    assert.equal(onlyMessage(ctx, t.seller.trade.pubkey).kind.action, 'canceled');
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'canceled');
  });

  void test('#879: the buyer of a buy order gets a full window from the moment the escrow was held', async () => {
    const ctx = await makeTestContext({ now: NOW });
    // Taken 1000 s ago, but the seller paid only 100 s ago: the buyer is not late.
    const t = await escrowedTrade(ctx, {
      kind: 'buy',
      status: 'waiting-buyer-invoice',
      escrow: 'accepted',
      order: { taken_at: NOW - 1000, invoice_held_at: NOW - 100, buyer_invoice: null },
    });
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'waiting-buyer-invoice');
    assert.equal(ctx.lightning.cancels.length, 0);

    ctx.clock.advance(EXP - 100 + 1);
    await cancelTimedOutWaitingOrders(ctx);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'canceled', 'maker (buyer) late');
    assert.deepEqual(ctx.lightning.cancels, [t.hash], 'paid escrow refunded');
    assert.equal(ctx.lightning.onlyInvoice().state, 'canceled');
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'canceled');
    assert.equal(onlyMessage(ctx, t.seller.trade.pubkey).kind.action, 'canceled');
  });

  void test('LND cannot cancel the escrow: the timeout is reverted, nobody is told, the next tick retries', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      kind: 'sell',
      status: 'waiting-payment',
      escrow: 'open',
      order: { taken_at: NOW - EXP - 1, invoice_held_at: 0 },
    });
    ctx.lightning.failNext('cancelHoldInvoice');
    await cancelTimedOutWaitingOrders(ctx);
    let o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'waiting-payment');
    assert.equal(o.hash, t.hash);
    assert.equal(ctx.outbox.sent.length, 0);
    assert.equal(ctx.outbox.published.length, 0);

    await cancelTimedOutWaitingOrders(ctx);
    o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'canceled');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
  });

  void test('an order with an escrow is left alone while the Lightning node is down', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      kind: 'buy',
      status: 'waiting-payment',
      escrow: 'open',
      order: { taken_at: NOW - EXP - 1, invoice_held_at: 0 },
    });
    ctx.lightning.setState('down');
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'waiting-payment');
    assert.equal(ctx.outbox.sent.length, 0);
    ctx.lightning.setState('up');
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'pending');
  });
});
