import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { cancel } from '../../../../src/app/handlers/cancel.js';
import { release } from '../../../../src/app/handlers/release.js';
import { getDispute, insertDispute } from '../../../../src/db/disputes.js';
import { findOrders, insertOrder } from '../../../../src/db/orders.js';
import { watchEscrow } from '../../../../src/app/flows/hold-invoice.js';
import { reconcilePayouts } from '../../../../src/app/flows/payout.js';
import { planRangeChild } from '../../../../src/app/flows/range-child.js';
import { getUser } from '../../../../src/db/users.js';
import { CantDoError } from '../../../../src/errors.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { assertCantDo, lastOrderEvent, orderPayload, reload, req, tag } from '../../../support/trade-fixtures.js';
import type { Payload } from '../../../../src/protocol/types.js';
import { escrowedTrade, type Trade } from '../trade-b-fixture.js';
import { openDispute, solver, take } from './dispute-fixture.js';
import { adminSettle } from '../../../../src/app/handlers/admin-settle.js';
import { getRangeRelease } from '../../../../src/db/range-releases.js';
import { nip19 } from 'nostr-tools';
import { getKeyTransport } from '../../../../src/db/transports.js';
import { TransportRegistry } from '../../../../src/nostr/transport-registry.js';

const NOW = 1_700_000_000;
const TS2 = 'c3'.repeat(32);

function rel(t: Trade, requestId: bigint | null = 5n, payload: Payload | null = null) {
  return req('release', { id: t.order.id, requestId, payload });
}

async function fiatSentTrade(ctx: TestContext, opts: Parameters<typeof escrowedTrade>[1] = {}) {
  return escrowedTrade(ctx, { status: 'fiat-sent', ...opts });
}

void describe('release (HANDLERS §4.6, PROTOCOL §5.6, §9.1 rows 16–21)', () => {
  void test('happy path: settle, released → buyer, settled + rate → seller, then the payout completes the order', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx);
    await release(ctx, rel(t, 5n), t.seller.inbound);

    assert.deepEqual(ctx.lightning.settles, [t.hash]);
    const toSeller = ctx.outbox.messagesTo(t.seller.trade.pubkey);
    assert.deepEqual(toSeller.map((m) => [m.kind.action, m.kind.request_id, m.kind.trade_index]), [
      ['hold-invoice-payment-settled', 5n, null],
      ['rate', null, null],
    ]);
    await ctx.tasks.idle();
    const toBuyer = ctx.outbox.messagesTo(t.buyer.trade.pubkey);
    assert.deepEqual(toBuyer.map((m) => [m.kind.action, m.kind.request_id, m.kind.trade_index]), [
      ['released', null, null],
      ['purchase-completed', null, null],
      ['rate', 5n, null],
    ]);
    assert.ok(toBuyer.every((m) => m.kind.id === t.order.id && m.kind.payload === null));
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.deepEqual(tag(lastOrderEvent(ctx, t.order.id)!, 's'), ['success']);
  });

  void test('settled-hold-invoice is persisted right after the settle (HQ-6) and the handler does not wait for the payout', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx);
    ctx.lightning.defaultPlan = { state: 'hang' };
    await release(ctx, rel(t), t.seller.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'settled-hold-invoice');
    for (let i = 0; i < 20 && ctx.lightning.payments.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(ctx.lightning.payments.length, 1);
    assert.ok(ctx.tasks.size > 0, 'payout still in flight after the handler returned');
    ctx.lightning.releasePayment(ctx.lightning.payments[0]!.hash, 'succeeded');
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('checks: not_found, invalid_peer, not_allowed_by_status, invalid_invoice, Lightning down', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx);
    await assertCantDo(release(ctx, req('release', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), t.seller.inbound), 'not_found');
    await assertCantDo(release(ctx, rel(t), t.buyer.inbound), 'invalid_peer');
    const active = await escrowedTrade(ctx, { status: 'active' });
    await assertCantDo(release(ctx, rel(active), active.seller.inbound), 'not_allowed_by_status');
    const noEscrow = await fiatSentTrade(ctx, { escrow: 'none' });
    await assertCantDo(release(ctx, rel(noEscrow), noEscrow.seller.inbound), 'invalid_invoice');
    ctx.lightning.setState('down');
    await assertCantDo(release(ctx, rel(t), t.seller.inbound), 'not_allowed_by_status');
    ctx.lightning.setState('up');
    assert.equal((await reload(ctx, t.order.id)).status, 'fiat-sent');
    assert.equal(ctx.lightning.settles.length, 0);
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('LND refuses the settle → claim reverted, cant-do, no messages, no payout', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx);
    ctx.lightning.failNext('settleHoldInvoice');
    await assertCantDo(release(ctx, rel(t), t.seller.inbound), 'not_allowed_by_status');
    assert.equal((await reload(ctx, t.order.id)).status, 'fiat-sent');
    assert.equal(ctx.outbox.sent.length, 0);
    await ctx.tasks.idle();
    assert.equal(ctx.lightning.payments.length, 0);
    // The seller can simply release again.
    await release(ctx, rel(t), t.seller.inbound);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('release while disputed → dispute settled, 38386 s=settled with the initiator', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'dispute', order: { buyer_dispute: 1 } });
    const disputeId = 'efc75871-2568-40b9-a6ee-c382d4d6de01';
    await insertDispute(ctx.db, { id: disputeId, order_id: t.order.id, status: 'in-progress', order_previous_status: 'fiat-sent', solver_pubkey: 'ab'.repeat(32), created_at: NOW, taken_at: NOW });
    await release(ctx, rel(t), t.seller.inbound);
    assert.equal((await getDispute(ctx.db, disputeId))?.status, 'settled');
    const ev = ctx.outbox.eventsOfKind(38386).at(-1)!;
    assert.deepEqual(tag(ev, 's'), ['settled']);
    assert.deepEqual(tag(ev, 'initiator'), ['buyer']);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('release racing a cooperative cancel → exactly one outcome', async () => {
    for (let round = 0; round < 4; round++) {
      const ctx = await makeTestContext({ now: NOW });
      const t = await fiatSentTrade(ctx, { order: { cancel_initiator_pubkey: undefined } });
      // The buyer opened a cooperative cancel; the seller both accepts it and releases, concurrently.
      await cancel(ctx, req('cancel', { id: t.order.id, requestId: 1n }), t.buyer.inbound);
      const ops: (() => Promise<void>)[] = [
        () => release(ctx, rel(t, 2n), t.seller.inbound),
        () => cancel(ctx, req('cancel', { id: t.order.id, requestId: 3n }), t.seller.inbound),
      ];
      if (round % 2 === 1) ops.reverse();
      const results = await Promise.allSettled(ops.map((op) => op()));
      const rejected = results.filter((r) => r.status === 'rejected');
      assert.equal(rejected.length, 1, `round ${round}: exactly one loses`);
      const reason: unknown = (rejected[0] as PromiseRejectedResult).reason;
      assert.ok(reason instanceof CantDoError);
      assert.equal(reason.reason, 'not_allowed_by_status', 'decided by the compare-and-set, not an earlier check');
      await ctx.tasks.idle();
      const o = await reload(ctx, t.order.id);
      const settled = ctx.lightning.settles.length;
      const canceled = ctx.lightning.cancels.length;
      assert.equal(settled + canceled, 1, `round ${round}: one LND action`);
      assert.equal(o.status, settled === 1 ? 'success' : 'cooperatively-canceled');
      assert.equal(ctx.lightning.payments.length, settled);
    }
  });
});

void describe('release of a range order (PROTOCOL §6.4, §9.3 rows 16–20; HQ-7, HQ-8, #873)', () => {
  const range = { min_amount: 10, max_amount: 50, fiat_amount: 15, fiat_code: 'VES', amount: 10_000, price_from_api: 1 };

  void test('sell range: child created with the release, new-order to the next key (echo, ti = next index), child 38383', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    await release(ctx, rel(t, 5n, { next_trade: [TS2, 2] }), t.seller.inbound);

    const children = await findOrders(ctx.db, { range_parent_id: t.order.id });
    assert.equal(children.length, 1);
    const child = children[0]!;
    assert.equal(child.status, 'pending');
    assert.equal(child.seller_pubkey, TS2);
    assert.equal(child.master_seller_pubkey, t.seller.identity.pubkey);

    const toNext = ctx.outbox.messagesTo(TS2);
    assert.equal(toNext.length, 1);
    assert.equal(toNext[0]!.kind.action, 'new-order');
    assert.equal(toNext[0]!.kind.id, child.id);
    assert.equal(toNext[0]!.kind.request_id, 5n);
    assert.equal(toNext[0]!.kind.trade_index, 2n);
    const so = orderPayload(toNext[0]!);
    assert.equal(so.status, 'pending');
    assert.equal(so.min_amount, 10n);
    assert.equal(so.max_amount, 35n);
    assert.equal(so.fiat_amount, 0n);
    assert.equal(so.amount, 0n);
    assert.equal(so.seller_trade_pubkey, undefined, 'as-new-order: no trade keys');
    const ev = lastOrderEvent(ctx, child.id)!;
    assert.deepEqual(tag(ev, 's'), ['pending']);
    assert.deepEqual(tag(ev, 'fa'), ['10', '35']);
    assert.equal((await getUser(ctx.db, t.seller.identity.pubkey))?.last_trade_index, 2, 'child index recorded');

    // Message order: released (buyer), child new-order, settled + rate (seller).
    const order = ctx.outbox.sent.map((s) => s.message.kind.action);
    assert.deepEqual(order, ['released', 'new-order', 'hold-invoice-payment-settled', 'rate']);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('protocol v2 maker: the next trade key (hex or npub) is answered on kind 14 like the key that named it', async () => {
    for (const next of [TS2, nip19.npubEncode(TS2)]) {
      const ctx = await makeTestContext({ now: NOW, settings: { mostro: { transport: 'both' } } });
      const registry = new TransportRegistry(ctx.db, ctx.settings, ctx.logger);
      ctx.transports = registry;
      const t = await fiatSentTrade(ctx, { order: range });
      await registry.record(t.seller.trade.pubkey, 'nip44', NOW);
      assert.equal(registry.transportOf(TS2), 'gift-wrap', 'never heard from');
      await release(ctx, rel(t, 5n, { next_trade: [next, 2] }), t.seller.inbound);
      assert.equal(ctx.outbox.actions(TS2)[0], 'new-order');
      assert.equal(registry.transportOf(TS2), 'nip44');
      assert.equal(await getKeyTransport(ctx.db, TS2), 'nip44');
    }
  });

  void test('seller-maker without next_trade: no child, and the buyer is still paid (HQ-7)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    await release(ctx, rel(t), t.seller.inbound);
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0);
    assert.deepEqual(ctx.outbox.actions(t.seller.trade.pubkey), ['hold-invoice-payment-settled', 'rate']);
    await ctx.tasks.idle();
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.outbox.eventsOfKind(38383).filter((e) => tag(e, 's')?.[0] === 'pending').length, 0, 'no orphan child event');
  });

  void test('the child INSERT fails → child dropped, release and payout still happen (#873)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    await sql`CREATE TRIGGER no_children BEFORE INSERT ON orders WHEN NEW.range_parent_id IS NOT NULL
      BEGIN SELECT RAISE(ABORT, 'injected child failure'); END`.execute(ctx.db);
    await release(ctx, rel(t, 5n, { next_trade: [TS2, 2] }), t.seller.inbound);
    assert.equal(ctx.outbox.messagesTo(TS2).length, 0);
    assert.deepEqual(ctx.lightning.settles, [t.hash]);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('no child before the escrow is settled: a failed settle leaves none, nor does a settle that never returns', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    ctx.lightning.failNext('settleHoldInvoice');
    await assertCantDo(release(ctx, rel(t, 5n, { next_trade: [TS2, 2] }), t.seller.inbound), 'not_allowed_by_status');
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0);
    assert.equal((await reload(ctx, t.order.id)).status, 'fiat-sent');

    // The process dies while LND holds the settle (simulation: the HTLC then expired): the claim is
    // there, the child is not — no orphan order for a trade whose escrow may go back to the seller.
    ctx.lightning.hangNext('settleHoldInvoice');
    void release(ctx, rel(t, 6n, { next_trade: [TS2, 2] }), t.seller.inbound);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal((await reload(ctx, t.order.id)).status, 'settled-hold-invoice');
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0);
    assert.equal(ctx.outbox.messagesTo(TS2).length, 0);
  });

  void test('admin-settle after a seller’s release whose settle failed: no child (admin-settle creates none, as upstream)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    ctx.lightning.failNext('settleHoldInvoice');
    await assertCantDo(release(ctx, rel(t, 5n, { next_trade: [TS2, 2] }), t.seller.inbound), 'not_allowed_by_status');
    assert.notEqual(await getRangeRelease(ctx.db, t.order.id), undefined, 'the release is recorded');
    const d = await openDispute(ctx, t, 'seller');
    const s = await solver(ctx);
    await take(ctx, s, d);
    await adminSettle(ctx, req('admin-settle', { id: t.order.id, requestId: 7n }), s.inbound);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(await getRangeRelease(ctx.db, t.order.id), undefined);
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0);
    assert.equal(ctx.outbox.messagesTo(TS2).length, 0);
  });

  void test('a crash after the settle, before the notices: the reconciliation tells the child’s maker and publishes it, once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    // The process "dies" at the payout-started mark: the claim, the child row and the settle are done.
    await sql`CREATE TRIGGER cut BEFORE INSERT ON mostrod_ts_notices BEGIN SELECT RAISE(ABORT, 'power cut'); END`.execute(ctx.db);
    await assert.rejects(release(ctx, rel(t, 5n, { next_trade: [TS2, 2] }), t.seller.inbound), /power cut/);
    await sql`DROP TRIGGER cut`.execute(ctx.db);
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0, 'the child goes with the mark');
    assert.equal(ctx.outbox.messagesTo(TS2).length, 0);

    assert.equal((await reconcilePayouts(ctx)).resumed, 1);
    const [child] = await findOrders(ctx.db, { range_parent_id: t.order.id });
    assert.ok(child !== undefined, 'created by the resumed release');
    assert.deepEqual([child.seller_pubkey, child.trade_index_seller], [TS2, 2]);
    const toNext = ctx.outbox.messagesTo(TS2);
    assert.deepEqual(toNext.map((m) => [m.kind.action, m.kind.id, m.kind.request_id, m.kind.trade_index]), [['new-order', child.id, null, 2n]]);
    assert.equal(orderPayload(toNext[0]!).max_amount, 35n);
    assert.deepEqual(tag(lastOrderEvent(ctx, child.id)!, 's'), ['pending']);
    assert.deepEqual(ctx.outbox.actions(t.seller.trade.pubkey), ['hold-invoice-payment-settled', 'rate']);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    await reconcilePayouts(ctx);
    assert.equal(ctx.outbox.messagesTo(TS2).length, 1, 'told once');
  });

  void test('LND settles after the claim was reverted: the SETTLED update creates the child from the next_trade the claim recorded', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { order: range });
    watchEscrow(ctx, t.order, null);
    ctx.lightning.failNext('settleHoldInvoice');
    await assertCantDo(release(ctx, rel(t, 5n, { next_trade: [TS2, 2] }), t.seller.inbound), 'not_allowed_by_status');
    assert.equal((await reload(ctx, t.order.id)).status, 'fiat-sent');
    assert.deepEqual(await getRangeRelease(ctx.db, t.order.id), { nextTrade: { pubkey: TS2, index: 2 }, releasedAt: NOW });
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0);

    await ctx.lightning.settleHoldInvoice(t.preimage); // the settle went through after all
    await ctx.tasks.idle();
    const children = await findOrders(ctx.db, { range_parent_id: t.order.id });
    assert.equal(children.length, 1);
    const child = children[0]!;
    assert.deepEqual([child.status, child.seller_pubkey, child.master_seller_pubkey, child.trade_index_seller], ['pending', TS2, t.seller.identity.pubkey, 2]);
    assert.deepEqual([child.min_amount, child.max_amount, child.next_trade_pubkey], [10, 35, null]);
    const toNext = ctx.outbox.messagesTo(TS2);
    assert.deepEqual(toNext.map((m) => [m.kind.action, m.kind.id, m.kind.request_id, m.kind.trade_index]), [['new-order', child.id, null, 2n]]);
    assert.deepEqual(tag(lastOrderEvent(ctx, child.id)!, 's'), ['pending']);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal(await getRangeRelease(ctx.db, t.order.id), undefined, 'the record goes with the mark');
  });

  void test('a buy range order: a late SETTLED update after the release’s failed settle creates the child for the buyer’s next key from fiat-sent', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { kind: 'buy', order: { ...range, next_trade_pubkey: TS2, next_trade_index: 7 } });
    watchEscrow(ctx, t.order, null);
    ctx.lightning.failNext('settleHoldInvoice');
    await assertCantDo(release(ctx, rel(t, 9n), t.seller.inbound), 'not_allowed_by_status');
    await ctx.lightning.settleHoldInvoice(t.preimage);
    await ctx.tasks.idle();
    const [child] = await findOrders(ctx.db, { range_parent_id: t.order.id });
    assert.deepEqual([child?.kind, child?.buyer_pubkey, child?.trade_index_buyer], ['buy', TS2, 7]);
    assert.deepEqual(ctx.outbox.actions(TS2), ['new-order']);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('a SETTLED escrow behind an order no seller released (a 0.17.1 row) gets no child; a child that already exists is announced, not duplicated', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { kind: 'buy', order: { ...range, next_trade_pubkey: TS2, next_trade_index: 7 } });
    watchEscrow(ctx, t.order, null);
    await ctx.lightning.settleHoldInvoice(t.preimage);
    await ctx.tasks.idle();
    assert.equal((await findOrders(ctx.db, { range_parent_id: t.order.id })).length, 0);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');

    // A child inserted with the claim by an earlier version of the daemon, never announced.
    const ctx2 = await makeTestContext({ now: NOW });
    const t2 = await fiatSentTrade(ctx2, { kind: 'buy', order: { ...range, next_trade_pubkey: TS2, next_trade_index: 7 } });
    const planned = planRangeChild(t2.order, null, { now: NOW, expirationHours: 24 }).child!;
    await insertOrder(ctx2.db, { ...planned, status: 'active' });
    watchEscrow(ctx2, t2.order, null);
    await ctx2.lightning.settleHoldInvoice(t2.preimage);
    await ctx2.tasks.idle();
    assert.equal((await findOrders(ctx2.db, { range_parent_id: t2.order.id })).length, 1);
    assert.deepEqual(ctx2.outbox.messagesTo(TS2).map((m) => [m.kind.action, m.kind.id]), [['new-order', planned.id]]);
    assert.equal((await reload(ctx2, t2.order.id)).status, 'success');
  });

  void test('buy range: the child goes to the buyer’s next key stored at fiat-sent, with the seller’s release request id', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await fiatSentTrade(ctx, { kind: 'buy', order: { ...range, next_trade_pubkey: TS2, next_trade_index: 7 } });
    await release(ctx, rel(t, 9n), t.seller.inbound);
    const toNext = ctx.outbox.messagesTo(TS2);
    assert.equal(toNext.length, 1);
    assert.equal(toNext[0]!.kind.request_id, 9n);
    assert.equal(toNext[0]!.kind.trade_index, 7n);
    const [child] = await findOrders(ctx.db, { range_parent_id: t.order.id });
    assert.equal(child?.buyer_pubkey, TS2);
    assert.equal(child?.kind, 'buy');
  });
});
