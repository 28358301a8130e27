import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dispute } from '../../../../src/app/handlers/dispute.js';
import { findDisputes, getDisputeByOrder } from '../../../../src/db/disputes.js';
import { SilentError } from '../../../../src/errors.js';
import { makeTestContext } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, reload, req, tag } from '../../../support/trade-fixtures.js';
import { disputeEvents, escrowedTrade, openDispute } from './dispute-fixture.js';

const NOW = 1_700_000_000;

void describe('dispute (HANDLERS §4.8, PROTOCOL §9.5 rows 1–3)', () => {
  void test('the buyer opens a dispute on an active order: row, flags, both parties told, 38386 initiated', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    await dispute(ctx, req('dispute', { id: t.order.id, requestId: 3876325412n }), t.buyer.inbound);

    const d = await getDisputeByOrder(ctx.db, t.order.id);
    assert.ok(d);
    assert.equal(d.status, 'initiated');
    assert.equal(d.order_previous_status, 'active');
    assert.equal(d.solver_pubkey, null);
    assert.equal(d.created_at, NOW);
    assert.equal(d.taken_at, 0);

    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'dispute');
    assert.equal(o.buyer_dispute, 1);
    assert.equal(o.seller_dispute, 0);

    const toSeller = onlyMessage(ctx, t.seller.trade.pubkey);
    assert.equal(toSeller.wrapper, 'order');
    assert.equal(toSeller.kind.action, 'dispute-initiated-by-peer');
    assert.equal(toSeller.kind.id, t.order.id);
    assert.equal(toSeller.kind.request_id, 3876325412n);
    assert.equal(toSeller.kind.trade_index, null);
    assert.deepEqual(toSeller.kind.payload, { dispute: [d.id, null] });

    const toBuyer = onlyMessage(ctx, t.buyer.trade.pubkey);
    assert.equal(toBuyer.kind.action, 'dispute-initiated-by-you');
    assert.equal(toBuyer.kind.request_id, 3876325412n);
    assert.deepEqual(toBuyer.kind.payload, { dispute: [d.id, null] });

    const [ev, ...more] = disputeEvents(ctx, d.id);
    assert.ok(ev);
    assert.equal(more.length, 0);
    assert.equal(ev.pubkey, ctx.keys.pubkey);
    assert.deepEqual(
      ev.tags.map((x) => x[0]),
      ['d', 'expiration', 's', 'initiator', 'y', 'z'],
    );
    assert.deepEqual(tag(ev, 's'), ['initiated']);
    assert.deepEqual(tag(ev, 'initiator'), ['buyer']);
    assert.deepEqual(tag(ev, 'z'), ['dispute']);
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 0, 'the order event is not republished');
  });

  void test('the seller opens one from fiat-sent: initiator seller', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'seller');
    assert.equal(d.order_previous_status, 'fiat-sent');
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'dispute');
    assert.equal(o.seller_dispute, 1);
    assert.equal(o.buyer_dispute, 0);
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'dispute-initiated-by-peer');
    assert.equal(onlyMessage(ctx, t.seller.trade.pubkey).kind.action, 'dispute-initiated-by-you');
    assert.deepEqual(tag(disputeEvents(ctx, d.id)[0]!, 'initiator'), ['seller']);
  });

  void test('an inherited flag of the other side does not block the order update (HQ-22 fixed)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { order: { buyer_dispute: 1 } });
    await openDispute(ctx, t, 'seller');
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'dispute');
    assert.equal(o.seller_dispute, 1);
    assert.equal(o.buyer_dispute, 0, 'flags name exactly the initiator');
  });

  void test('a second dispute on the same order is silent (HQ-17)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    await openDispute(ctx, t, 'buyer');
    ctx.outbox.clear();
    await assert.rejects(dispute(ctx, req('dispute', { id: t.order.id }), t.seller.inbound), SilentError);
    assert.equal(ctx.outbox.sent.length, 0);
    assert.equal(ctx.outbox.published.length, 0);
    assert.equal((await findDisputes(ctx.db, {})).length, 1);
  });

  void test('a stranger gets invalid_pubkey and nothing changes', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    const stranger = await escrowedTrade(ctx); // reuse its buyer as an outsider
    await assertCantDo(dispute(ctx, req('dispute', { id: t.order.id }), stranger.buyer.inbound), 'invalid_pubkey');
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.equal(await getDisputeByOrder(ctx.db, t.order.id), undefined);
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('statuses other than active / fiat-sent are refused', async () => {
    for (const status of ['pending', 'waiting-payment', 'settled-hold-invoice', 'success', 'canceled'] as const) {
      const ctx = await makeTestContext({ now: NOW });
      const t = await escrowedTrade(ctx, { status });
      await assertCantDo(dispute(ctx, req('dispute', { id: t.order.id }), t.buyer.inbound), 'not_allowed_by_status');
      assert.equal(await getDisputeByOrder(ctx.db, t.order.id), undefined);
    }
  });

  void test('an unknown order id gets not_found (upstream #752)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    await assertCantDo(
      dispute(ctx, req('dispute', { id: '00000000-0000-4000-8000-000000000000' }), t.buyer.inbound),
      'not_found',
    );
  });
});
