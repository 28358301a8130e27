import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminTakeDispute } from '../../../../src/app/handlers/admin-take-dispute.js';
import { getDispute } from '../../../../src/db/disputes.js';
import { casUpdateUserRating } from '../../../../src/db/users.js';
import { newKeys, inboundFor, makeTestContext } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, req, tag } from '../../../support/trade-fixtures.js';
import { admin, disputeEvents, escrowedTrade, openDispute, solver, take } from './dispute-fixture.js';

const NOW = 1_700_000_000;
const DAY = 86_400;

void describe('admin-take-dispute (HANDLERS §4.9, PROTOCOL §5.14, §9.5 rows 4–6)', () => {
  void test('a solver takes an initiated dispute: row, SolverDisputeInfo to its identity key, peer to both parties, 38386 in-progress', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    // the seller has a reputation (one 4-star review) and a 10-day-old account
    await casUpdateUserRating(ctx.db, t.seller.identity.pubkey, { total_reviews: 0 }, {
      total_reviews: 1,
      total_rating: 4,
      last_rating: 4,
      max_rating: 4,
      min_rating: 4,
    });
    const d = await openDispute(ctx, t, 'seller');
    const s = await solver(ctx);
    ctx.clock.advance(10 * DAY);
    ctx.outbox.clear();

    await take(ctx, s, d, 3876325412n);

    const row = await getDispute(ctx.db, d.id);
    assert.ok(row);
    assert.equal(row.status, 'in-progress');
    assert.equal(row.solver_pubkey, s.identity.pubkey);
    assert.equal(row.taken_at, NOW + 10 * DAY);

    const toSolver = onlyMessage(ctx, s.identity.pubkey);
    assert.equal(ctx.outbox.messagesTo(s.trade.pubkey).length, 0, 'HQ-16: the solver is answered on its identity key');
    assert.equal(toSolver.wrapper, 'dispute');
    assert.equal(toSolver.kind.action, 'admin-took-dispute');
    assert.equal(toSolver.kind.id, d.id);
    assert.equal(toSolver.kind.request_id, 3876325412n);
    const p = toSolver.kind.payload;
    assert.ok(p !== null && 'dispute' in p);
    const [did, info] = p.dispute;
    assert.equal(did, d.id);
    assert.ok(info);
    assert.equal(info.id, t.order.id);
    assert.equal(info.kind, 'sell');
    assert.equal(info.status, 'dispute');
    assert.equal(info.hash, t.hash);
    assert.equal(info.preimage, t.preimage);
    assert.equal(info.order_previous_status, 'fiat-sent');
    assert.equal(info.initiator_pubkey, t.seller.trade.pubkey);
    assert.equal(info.buyer_pubkey, t.buyer.trade.pubkey);
    assert.equal(info.seller_pubkey, t.seller.trade.pubkey);
    assert.equal(info.initiator_full_privacy, false);
    assert.equal(info.counterpart_full_privacy, false);
    assert.deepEqual(info.initiator_info, { rating: 4, reviews: 1n, operating_days: 10n });
    assert.deepEqual(info.counterpart_info, { rating: 0, reviews: 0n, operating_days: 10n });
    assert.equal(info.amount, 10_000n);
    assert.equal(info.fee, 30n);
    assert.equal(info.premium, 1n);
    assert.equal(info.fiat_amount, 10n);
    assert.equal(info.buyer_invoice, t.order.buyer_invoice);
    assert.equal(info.taken_at, BigInt(t.order.taken_at));
    assert.equal(info.created_at, BigInt(t.order.created_at));

    for (const key of [t.buyer.trade.pubkey, t.seller.trade.pubkey]) {
      const m = onlyMessage(ctx, key);
      assert.equal(m.wrapper, 'order');
      assert.equal(m.kind.action, 'admin-took-dispute');
      assert.equal(m.kind.id, t.order.id);
      assert.equal(m.kind.request_id, 3876325412n);
      assert.deepEqual(m.kind.payload, { peer: { pubkey: s.identity.pubkey, reputation: null } });
    }

    const evs = disputeEvents(ctx, d.id);
    assert.equal(evs.length, 1);
    assert.deepEqual(tag(evs[0]!, 's'), ['in-progress']);
    assert.deepEqual(tag(evs[0]!, 'initiator'), ['seller']);
  });

  void test('a full-privacy side is reported as such, without reputation', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { buyerFullPrivacy: true });
    const d = await openDispute(ctx, t, 'buyer');
    const s = await solver(ctx);
    ctx.outbox.clear();
    await take(ctx, s, d);
    const p = onlyMessage(ctx, s.identity.pubkey).kind.payload;
    assert.ok(p !== null && 'dispute' in p && p.dispute[1] !== null);
    const info = p.dispute[1];
    assert.equal(info.initiator_pubkey, t.buyer.trade.pubkey);
    assert.equal(info.initiator_full_privacy, true);
    assert.equal(info.initiator_info, null);
    assert.equal(info.counterpart_full_privacy, false);
    assert.notEqual(info.counterpart_info, null);
  });

  void test('a key that is not a solver gets invalid_pubkey; the dispute is untouched', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    const d = await openDispute(ctx, t, 'buyer');
    const stranger = newKeys();
    ctx.outbox.clear();
    await assertCantDo(
      adminTakeDispute(ctx, req('admin-take-dispute', { id: d.id }), inboundFor(stranger, stranger)),
      'invalid_pubkey',
    );
    // a party of the trade cannot take its own dispute either
    await assertCantDo(adminTakeDispute(ctx, req('admin-take-dispute', { id: d.id }), t.buyer.inbound), 'invalid_pubkey');
    const row = await getDispute(ctx.db, d.id);
    assert.equal(row?.status, 'initiated');
    assert.equal(row?.solver_pubkey, null);
    assert.equal(ctx.outbox.sent.length + ctx.outbox.published.length, 0);
  });

  void test("a solver cannot take another solver's dispute", async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    const d = await openDispute(ctx, t, 'buyer');
    const a = await solver(ctx);
    const b = await solver(ctx);
    await take(ctx, a, d);
    await assertCantDo(take(ctx, b, d), 'invalid_pubkey');
    assert.equal((await getDispute(ctx.db, d.id))?.solver_pubkey, a.identity.pubkey);
  });

  void test('the admin takes over a solver\'s dispute and the solver is told (upstream #302)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    const d = await openDispute(ctx, t, 'buyer');
    const s = await solver(ctx);
    await take(ctx, s, d);
    ctx.outbox.clear();
    const boss = admin(ctx);
    await take(ctx, boss, d, 77n);

    const row = await getDispute(ctx.db, d.id);
    assert.equal(row?.status, 'in-progress');
    assert.equal(row?.solver_pubkey, ctx.keys.pubkey);

    const notice = onlyMessage(ctx, s.identity.pubkey);
    assert.equal(notice.kind.action, 'cant-do');
    assert.equal(notice.kind.id, d.id);
    assert.deepEqual(notice.kind.payload, { cant_do: 'dispute_taken_by_admin' });

    assert.equal(onlyMessage(ctx, ctx.keys.pubkey).kind.action, 'admin-took-dispute');
    assert.deepEqual(onlyMessage(ctx, t.buyer.trade.pubkey).kind.payload, {
      peer: { pubkey: ctx.keys.pubkey, reputation: null },
    });
    assert.deepEqual(tag(disputeEvents(ctx, d.id)[0]!, 's'), ['in-progress']);
  });

  void test('the admin may take an initiated dispute without a users row; a closed one is refused', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx);
    const d = await openDispute(ctx, t, 'buyer');
    await take(ctx, admin(ctx), d);
    assert.equal((await getDispute(ctx.db, d.id))?.solver_pubkey, ctx.keys.pubkey);

    const t2 = await escrowedTrade(ctx);
    const d2 = await openDispute(ctx, t2, 'buyer');
    const { casUpdateDispute } = await import('../../../../src/db/disputes.js');
    assert.ok(await casUpdateDispute(ctx.db, d2.id, { status: 'initiated' }, { status: 'settled' }));
    await assertCantDo(take(ctx, admin(ctx), d2), 'invalid_pubkey');
  });

  void test('unknown dispute id → not_found; inconsistent flags → refused before any write (HQ-15)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const s = await solver(ctx);
    await assertCantDo(
      adminTakeDispute(ctx, req('admin-take-dispute', { id: '00000000-0000-4000-8000-000000000000' }), s.inbound),
      'not_found',
    );
    const t = await escrowedTrade(ctx);
    const d = await openDispute(ctx, t, 'buyer');
    const { casUpdateOrder } = await import('../../../../src/db/orders.js');
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, {}, { seller_dispute: 1 }));
    ctx.outbox.clear();
    await assertCantDo(take(ctx, s, d), 'invalid_dispute_status');
    assert.equal((await getDispute(ctx.db, d.id))?.status, 'initiated');
    assert.equal(ctx.outbox.sent.length, 0);
  });
});
