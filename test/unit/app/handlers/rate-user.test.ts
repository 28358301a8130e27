import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRating, rateUser } from '../../../../src/app/handlers/rate-user.js';
import { getUser } from '../../../../src/db/users.js';
import { SilentError } from '../../../../src/errors.js';
import { inboundFor, makeTestContext, newKeys, type TestContext } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, reload, req, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade, type Trade } from '../trade-b-fixture.js';

const NOW = 1_700_000_000;

function rate(ctx: TestContext, t: Trade, who: 'buyer' | 'seller', rating: number, requestId: bigint | null = 8n) {
  return rateUser(ctx, req('rate-user', { id: t.order.id, requestId, payload: { rating_user: rating } }), t[who].inbound);
}

void describe('applyRating (mostro-core 0.8.0 User::update_rating, HQ-13a kept)', () => {
  const zero = { total_reviews: 0, total_rating: 0, last_rating: 0, max_rating: 0, min_rating: 0 };
  void test('first vote halves; later votes fold in the PREVIOUS last rating', () => {
    const a = applyRating(zero, 5);
    assert.deepEqual(a, { total_reviews: 1, total_rating: 2.5, last_rating: 5, max_rating: 5, min_rating: 5 });
    const b = applyRating(a, 3);
    assert.deepEqual(b, { total_reviews: 2, total_rating: 3.75, last_rating: 3, max_rating: 5, min_rating: 3 });
    // PROTOCOL §8.3 example: 4 then 5 → total 3.
    assert.equal(applyRating(applyRating(zero, 4), 5).total_rating, 3);
  });
});

void describe('rate-user (HANDLERS §4.13, PROTOCOL §5.9, §9.6)', () => {
  void test('the buyer rates the seller: users row updated, flag set, 38384 (d = rater trade key), rate-received echo', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'success' });
    await ctx.db.updateTable('users').set({ created_at: NOW - 21 * 86_400 }).where('pubkey', '=', t.seller.identity.pubkey).execute();
    await rate(ctx, t, 'buyer', 5, 3876325412n);

    const u = await getUser(ctx.db, t.seller.identity.pubkey);
    assert.deepEqual(
      [u?.total_reviews, u?.total_rating, u?.last_rating, u?.max_rating, u?.min_rating],
      [1, 2.5, 5, 5, 5],
    );
    assert.equal((await reload(ctx, t.order.id)).buyer_sent_rate, 1);
    const m = onlyMessage(ctx, t.buyer.trade.pubkey);
    assert.equal(m.kind.action, 'rate-received');
    assert.equal(m.kind.request_id, 3876325412n);
    assert.deepEqual(m.kind.payload, { rating_user: 5 });
    const ev = ctx.outbox.eventsOfKind(38384);
    assert.equal(ev.length, 1);
    assert.deepEqual(tag(ev[0]!, 'd'), [t.buyer.trade.pubkey]);
    assert.deepEqual(tag(ev[0]!, 'total_rating'), ['2.5']);
    assert.deepEqual(tag(ev[0]!, 'total_reviews'), ['1']);
    assert.deepEqual(tag(ev[0]!, 'days'), ['21']);

    // Second rating by the same side: silent, nothing changes.
    await assert.rejects(rate(ctx, t, 'buyer', 1), SilentError);
    assert.equal((await getUser(ctx.db, t.seller.identity.pubkey))?.total_reviews, 1);
    // The seller rates the buyer too.
    await rate(ctx, t, 'seller', 4);
    assert.equal((await getUser(ctx.db, t.buyer.identity.pubkey))?.total_rating, 2);
  });

  void test('status rules: seller may rate in settled-hold-invoice, buyer may not; other statuses refused', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice' });
    await assertCantDo(rate(ctx, t, 'buyer', 5), 'invalid_order_status');
    await rate(ctx, t, 'seller', 5);
    assert.equal((await reload(ctx, t.order.id)).seller_sent_rate, 1);
    const active = await escrowedTrade(ctx, { status: 'active' });
    await assertCantDo(rate(ctx, active, 'seller', 5), 'invalid_order_status');
  });

  void test('rating outside 1..5 → invalid_rating (fix of HQ-13c); unknown order → not_found', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'success' });
    await assertCantDo(rate(ctx, t, 'buyer', 0), 'invalid_rating');
    await assertCantDo(rate(ctx, t, 'buyer', 6), 'invalid_rating');
    assert.equal((await reload(ctx, t.order.id)).buyer_sent_rate, 0);
    await assertCantDo(
      rateUser(ctx, req('rate-user', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', payload: { rating_user: 5 } }), t.buyer.inbound),
      'not_found',
    );
  });

  void test('silent: a full-privacy counterpart (nothing stored, flag not set) and a stranger', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'success', sellerFullPrivacy: true });
    await assert.rejects(rate(ctx, t, 'buyer', 5), SilentError);
    assert.equal((await reload(ctx, t.order.id)).buyer_sent_rate, 0);
    const k = newKeys();
    await assert.rejects(
      rateUser(ctx, req('rate-user', { id: t.order.id, payload: { rating_user: 5 } }), inboundFor(k, k)),
      SilentError,
    );
    assert.equal(ctx.outbox.sent.length, 0);
    assert.equal(ctx.outbox.eventsOfKind(38384).length, 0);
  });

  void test('concurrent ratings of the same user from two orders are both applied (#865)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t1 = await escrowedTrade(ctx, { status: 'success' });
    const t2 = await escrowedTrade(ctx, { status: 'success' });
    // Same seller identity on both orders.
    await ctx.db.updateTable('orders').set({ master_seller_pubkey: t1.seller.identity.pubkey }).execute();
    await Promise.all([rate(ctx, t1, 'buyer', 5), rate(ctx, t2, 'buyer', 3)]);
    const u = await getUser(ctx.db, t1.seller.identity.pubkey);
    assert.equal(u?.total_reviews, 2);
    assert.equal(u?.min_rating, 3);
    assert.equal(u?.max_rating, 5);
  });
});
