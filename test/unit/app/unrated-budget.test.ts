/**
 * The unrated users' budgets (app/unrated-budget.ts): a token bucket of N, refilled at N a
 * minute in whole seconds of the daemon's clock; 0 is no limit; takes by unrated takers through the
 * real handlers (new orders: new-order.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { takeBuy } from '../../../src/app/handlers/take-buy.js';
import { takeSell } from '../../../src/app/handlers/take-sell.js';
import { UnratedBudget } from '../../../src/app/unrated-budget.js';
import { CantDoError } from '../../../src/errors.js';
import { makeTestContext } from '../../support/test-context.js';
import { assertCantDo, createOrder, party, reload, req } from '../../support/trade-fixtures.js';

const T = 1_700_000_000;

void test('a burst of N, then N a minute; a clock that goes back adds nothing; a lowered setting caps what is left', () => {
  const b = new UnratedBudget();
  const takes = (now: number, n: number, perMinute: number): boolean[] => Array.from({ length: n }, () => b.take(now, perMinute));
  assert.deepEqual(takes(T, 7, 6), [true, true, true, true, true, true, false]);
  assert.deepEqual(takes(T + 9, 2, 6), [false, false], '9 s at 6 a minute: 0.9 of an order');
  assert.deepEqual(takes(T + 10, 2, 6), [true, false]);
  assert.deepEqual(takes(T + 5, 1, 6), [false], 'the clock went back: nothing added');
  assert.deepEqual(takes(T + 20, 1, 6), [true], 'counted from the latest time seen');
  // An hour later the bucket is full again (6), but the operator lowered the setting to 2.
  assert.deepEqual(takes(T + 3600, 3, 2), [true, true, false]);
  assert.equal(b.refused, 6);
});

void test('0 is no limit and counts nothing', () => {
  const b = new UnratedBudget();
  for (let i = 0; i < 1000; i++) assert.equal(b.take(T, 0), true);
  assert.equal(b.refused, 0);
});

void describe('[mostro] unrated_takes_per_minute (take-sell, take-buy)', () => {
  void test('unrated takers share a budget; a rated taker is never limited; a take refused for another reason spends nothing', async () => {
    const ctx = await makeTestContext({ now: T, settings: { mostro: { unrated_takes_per_minute: 1 } } });
    const maker = await party(ctx);
    const sell = await createOrder(ctx, maker, { kind: 'sell', amount: 20_000n, fiat_amount: 10n });
    const buy = await createOrder(ctx, maker, { kind: 'buy', amount: 20_000n, fiat_amount: 10n }, { tradeIndex: 2n });
    const other = await createOrder(ctx, await party(ctx), { kind: 'sell', amount: 20_000n, fiat_amount: 10n });

    // Refused for another reason first (its own order): the budget is untouched.
    await assertCantDo(takeSell(ctx, req('take-sell', { id: sell.id, tradeIndex: 3n }), maker.inbound), 'invalid_pubkey');
    // The one unrated take of this minute (a full-privacy taker).
    await takeSell(ctx, req('take-sell', { id: sell.id }), (await party(ctx, { fullPrivacy: true })).inbound);
    assert.equal((await reload(ctx, sell.id)).status, 'waiting-buyer-invoice');
    // The next unrated taker (reputation mode, no rating) is refused, on either kind; nothing changes.
    const fresh = await party(ctx);
    await assertCantDo(takeBuy(ctx, req('take-buy', { id: buy.id, tradeIndex: 1n }), fresh.inbound), 'too_many_requests');
    await assertCantDo(takeSell(ctx, req('take-sell', { id: other.id, tradeIndex: 1n }), fresh.inbound), 'too_many_requests');
    assert.equal((await reload(ctx, buy.id)).status, 'pending');
    assert.equal((await reload(ctx, other.id)).status, 'pending');
    // A taker with a rating goes on.
    const rated = await party(ctx);
    await ctx.db.updateTable('users').set({ total_reviews: 1, total_rating: 5 }).where('pubkey', '=', rated.identity.pubkey).execute();
    await takeBuy(ctx, req('take-buy', { id: buy.id, tradeIndex: 1n }), rated.inbound);
    assert.notEqual((await reload(ctx, buy.id)).status, 'pending');
    // A minute later the unrated taker gets its turn.
    ctx.clock.advance(60);
    await takeSell(ctx, req('take-sell', { id: other.id, tradeIndex: 1n }), fresh.inbound);
    assert.equal((await reload(ctx, other.id)).status, 'waiting-buyer-invoice');
    assert.deepEqual([ctx.unrated.takes.refused, ctx.unrated.orders.refused], [2, 0]);
  });

  void test('only a take that was written spends: the loser of a race and a take whose escrow LND refused get their token back', async () => {
    const ctx = await makeTestContext({ now: T, settings: { mostro: { unrated_takes_per_minute: 2 } } });
    const sell = await createOrder(ctx, await party(ctx), { kind: 'sell', amount: 20_000n, fiat_amount: 10n });
    const buy = await createOrder(ctx, await party(ctx), { kind: 'buy', amount: 20_000n, fiat_amount: 10n });
    const later = await createOrder(ctx, await party(ctx), { kind: 'sell', amount: 20_000n, fiat_amount: 10n });

    // Two unrated takers race for one sell order: both pass every check (two tokens spent), one wins.
    const [a, b] = [await party(ctx), await party(ctx)];
    const raced = await Promise.allSettled([
      takeSell(ctx, req('take-sell', { id: sell.id, tradeIndex: 1n }), a.inbound),
      takeSell(ctx, req('take-sell', { id: sell.id, tradeIndex: 1n }), b.inbound),
    ]);
    assert.deepEqual(raced.map((r) => r.status).sort(), ['fulfilled', 'rejected'], 'one winner, one loser');
    const lost = raced.find((r) => r.status === 'rejected');
    assert.ok(lost?.reason instanceof CantDoError && lost.reason.reason === 'invalid_order_status', String(lost?.reason));
    // LND refuses the escrow of an unrated take-buy: nothing written, the token comes back too.
    ctx.lightning.failNext('addHoldInvoice');
    await assert.rejects(takeBuy(ctx, req('take-buy', { id: buy.id, tradeIndex: 1n }), (await party(ctx)).inbound));
    assert.equal((await reload(ctx, buy.id)).status, 'pending');
    // One take was written this minute: one token is left for the next unrated taker, then none.
    await takeSell(ctx, req('take-sell', { id: later.id, tradeIndex: 1n }), (await party(ctx)).inbound);
    assert.equal((await reload(ctx, later.id)).status, 'waiting-buyer-invoice');
    await assertCantDo(takeBuy(ctx, req('take-buy', { id: buy.id, tradeIndex: 1n }), (await party(ctx)).inbound), 'too_many_requests');
    assert.equal(ctx.unrated.takes.refused, 1);
  });
});
