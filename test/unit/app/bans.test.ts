/**
 * Operator bans (app/bans.ts, ops/ban-user.ts): a banned identity starts no trade — new-order,
 * take-sell and take-buy are refused with cant-do not_authorized through the real router — while
 * its trades in progress go on; a ban withdraws its pending orders (compare-and-set, notice with
 * the status, event republished) and only those; the list is the database's `is_banned` column.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { pino } from 'pino';
import { BanList } from '../../../src/app/bans.js';
import { cancel } from '../../../src/app/handlers/cancel.js';
import { takeSell } from '../../../src/app/handlers/take-sell.js';
import { dispatch, executeAction } from '../../../src/app/router.js';
import { casUpdateOrder } from '../../../src/db/orders.js';
import { getUser } from '../../../src/db/users.js';
import { expirePendingOrders } from '../../../src/scheduler/jobs/expire-pending-orders.js';
import { cancelTimedOutWaitingOrders } from '../../../src/scheduler/jobs/waiting-timeouts.js';
import { banUser, listBanned, unbanUser } from '../../../src/ops/ban-user.js';
import { v08Reason } from '../../../src/protocol/v1-compat.js';
import { makeTestContext, newKeys } from '../../support/test-context.js';
import { assertCantDo, createOrder, lastOrderEvent, party, reload, req, smallOrder, tag } from '../../support/trade-fixtures.js';
import { escrowedTrade } from './handlers/dispute-fixture.js';

const NOW = 1_700_000_000;

void describe('operator bans', () => {
  void test('a banned identity cannot create or take orders; cant-do not_authorized (invalid_pubkey for 0.8 clients)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const maker = await party(ctx);
    const spammer = await party(ctx);
    const offer = await createOrder(ctx, maker, { kind: 'sell', amount: 20_000n });
    const buyOffer = await createOrder(ctx, maker, { kind: 'buy', amount: 20_000n }, { tradeIndex: 2n });
    const r = await banUser(ctx, spammer.identity.pubkey);
    assert.equal(r.outcome, 'banned');

    const newOrderReq = req('new-order', { requestId: 7n, tradeIndex: 1n, payload: { order: smallOrder({ amount: 20_000n }) } });
    await assertCantDo(executeAction(ctx, newOrderReq, spammer.inbound), 'not_authorized');
    await assertCantDo(executeAction(ctx, req('take-sell', { id: offer.id, tradeIndex: 2n }), spammer.inbound), 'not_authorized');
    await assertCantDo(executeAction(ctx, req('take-buy', { id: buyOffer.id, tradeIndex: 3n }), spammer.inbound), 'not_authorized');
    assert.equal((await reload(ctx, offer.id)).status, 'pending');
    assert.equal((await reload(ctx, buyOffer.id)).status, 'pending');

    // Through dispatch: the refusal is answered to the trade key, with the request's id.
    ctx.outbox.clear();
    await dispatch(ctx, newOrderReq, spammer.inbound);
    const [reply] = ctx.outbox.messagesTo(spammer.trade.pubkey);
    assert.equal(reply?.kind.action, 'cant-do');
    assert.deepEqual(reply?.kind.payload, { cant_do: 'not_authorized' });
    assert.equal(reply?.kind.request_id, 7n);
    assert.equal(v08Reason('not_authorized'), 'invalid_pubkey');

    // Other identities are not affected, and an unban lets the key back in.
    await createOrder(ctx, await party(ctx), { amount: 20_000n });
    assert.equal(await unbanUser(ctx, spammer.identity.pubkey), true);
    assert.equal(await unbanUser(ctx, spammer.identity.pubkey), false);
    await createOrder(ctx, spammer, { amount: 20_000n }, { tradeIndex: 4n });
  });

  void test("a refused request's log line names the sender's keys at debug level only", async () => {
    for (const level of ['info', 'debug'] as const) {
      const lines: string[] = [];
      const logger = pino({ level }, { write: (l: string) => void lines.push(l) });
      const ctx = await makeTestContext({ now: NOW, logger });
      const spammer = await party(ctx);
      await banUser(ctx, spammer.identity.pubkey);
      lines.length = 0;
      await dispatch(ctx, req('new-order', { requestId: 3n, tradeIndex: 1n, payload: { order: smallOrder({ amount: 20_000n }) } }), spammer.inbound);
      const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'cant-do');
      assert.ok(refused !== undefined);
      assert.equal(refused['reason'], 'not_authorized');
      assert.equal(refused['identity'], level === 'debug' ? spammer.identity.pubkey : undefined);
      assert.equal(refused['tradeKey'], level === 'debug' ? spammer.trade.pubkey : undefined);
      if (level === 'info') {
        assert.ok(!lines.some((l) => l.includes(spammer.identity.pubkey) || l.includes(spammer.trade.pubkey)), 'no key at info');
      }
    }
  });

  void test("a full-privacy key (identity = trade key) is banned as itself", async () => {
    const ctx = await makeTestContext({ now: NOW });
    const anon = await party(ctx, { fullPrivacy: true });
    await banUser(ctx, anon.identity.pubkey);
    await assertCantDo(
      executeAction(ctx, req('new-order', { payload: { order: smallOrder({ amount: 20_000n }) } }), anon.inbound),
      'not_authorized',
    );
  });

  void test("a ban withdraws the key's pending orders only; its trades in progress go on", async () => {
    const ctx = await makeTestContext({ now: NOW });
    const spammer = await party(ctx);
    const other = await party(ctx);
    const a = await createOrder(ctx, spammer, { kind: 'sell', amount: 20_000n });
    const b = await createOrder(ctx, spammer, { kind: 'buy', amount: 30_000n }, { tradeIndex: 2n });
    const theirs = await createOrder(ctx, other, { amount: 20_000n });
    // An escrowed trade in which the banned key is the buyer.
    const t = await escrowedTrade(ctx, { status: 'active' });
    ctx.outbox.clear();

    const r = await banUser(ctx, t.buyer.identity.pubkey);
    assert.deepEqual(r, { outcome: 'banned', canceled: [], kept: [], failed: [] });
    const s = await banUser(ctx, spammer.identity.pubkey);
    assert.equal(s.outcome, 'banned');
    assert.deepEqual([...s.canceled].sort(), [a.id, b.id].sort());
    for (const o of [a, b]) {
      assert.equal((await reload(ctx, o.id)).status, 'canceled-by-admin');
      assert.equal(tag(lastOrderEvent(ctx, o.id)!, 's')?.[0], 'canceled');
      assert.ok(
        ctx.outbox.messagesTo(spammer.trade.pubkey).some((m) => m.kind.action === 'admin-canceled' && m.kind.id === o.id),
        'the maker is told',
      );
    }
    assert.equal((await reload(ctx, theirs.id)).status, 'pending');

    // The banned buyer finishes the trade it was in: fiat-sent is not refused.
    await executeAction(ctx, req('fiat-sent', { id: t.order.id }), t.buyer.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'fiat-sent');

    // Banning again changes nothing.
    const again = await banUser(ctx, spammer.identity.pubkey);
    assert.deepEqual(again, { outcome: 'already-banned', canceled: [], kept: [], failed: [] });
  });

  void test('an order taken before the ban reaches its lock is left to its trade', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const spammer = await party(ctx);
    const a = await createOrder(ctx, spammer, { amount: 20_000n });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Something holds the order's lock (a take in flight) and moves it on before it lets go.
    const holder = ctx.locks.run(`order:${a.id}`, async () => {
      await gate;
      await ctx.db.updateTable('orders').set({ status: 'waiting-buyer-invoice' }).where('status', '=', 'pending').execute();
    });
    const banning = banUser(ctx, spammer.identity.pubkey);
    await new Promise((resolve) => setTimeout(resolve, 20));
    open();
    await holder;
    const r = await banning;
    assert.deepEqual(r, { outcome: 'banned', canceled: [], kept: [a.id], failed: [] });
    assert.equal((await reload(ctx, a.id)).status, 'waiting-buyer-invoice');
  });

  void test('an order of a banned maker that comes back to pending is withdrawn by the expire job', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const maker = await party(ctx);
    const other = await party(ctx);
    const a = await createOrder(ctx, maker, { amount: 20_000n });
    const theirs = await createOrder(ctx, other, { amount: 20_000n });
    // Taken when the ban comes: the ban leaves it to its trade.
    assert.equal(await casUpdateOrder(ctx.db, a.id, { status: 'pending' }, { status: 'waiting-buyer-invoice' }), true);
    assert.deepEqual((await banUser(ctx, maker.identity.pubkey)).canceled, []);
    // The taker walks away: the order is pending again (what cancel / waiting-timeouts do).
    assert.equal(await casUpdateOrder(ctx.db, a.id, { status: 'waiting-buyer-invoice' }, { status: 'pending' }), true);
    ctx.outbox.clear();
    await expirePendingOrders(ctx);
    assert.equal((await reload(ctx, a.id)).status, 'canceled-by-admin');
    assert.equal(tag(lastOrderEvent(ctx, a.id)!, 's')?.[0], 'canceled');
    assert.deepEqual(ctx.outbox.actions(maker.trade.pubkey), ['admin-canceled']);
    assert.equal((await reload(ctx, theirs.id)).status, 'pending');
    // Nothing left to do on the next run.
    ctx.outbox.clear();
    await expirePendingOrders(ctx);
    assert.equal(ctx.outbox.sent.length + ctx.outbox.published.length, 0);
  });

  void test("a banned maker's taken order is withdrawn at once when its taker backs out or runs out of time", async () => {
    const ctx = await makeTestContext({ now: NOW });
    const maker = await party(ctx);
    const taker = await party(ctx);
    const late = await party(ctx);
    const a = await createOrder(ctx, maker, { amount: 20_000n, fiat_amount: 10n });
    const b = await createOrder(ctx, maker, { amount: 20_000n, fiat_amount: 10n }, { tradeIndex: 2n });
    await takeSell(ctx, req('take-sell', { id: a.id, tradeIndex: 5n }), taker.inbound);
    await takeSell(ctx, req('take-sell', { id: b.id, tradeIndex: 6n }), late.inbound);
    // Both taken at the ban: left to their trades.
    assert.deepEqual(await banUser(ctx, maker.identity.pubkey), { outcome: 'banned', canceled: [], kept: [], failed: [] });

    // The taker of `a` cancels: the order would go back to pending; it leaves the book instead.
    ctx.outbox.clear();
    await cancel(ctx, req('cancel', { id: a.id }), taker.inbound);
    assert.equal((await reload(ctx, a.id)).status, 'canceled-by-admin');
    assert.deepEqual(ctx.outbox.actions(maker.trade.pubkey), ['new-order', 'admin-canceled']);
    assert.equal(tag(lastOrderEvent(ctx, a.id)!, 's')?.[0], 'canceled');

    // The taker of `b` never sends its invoice: the same from the waiting-timeouts job.
    ctx.outbox.clear();
    ctx.clock.advance(ctx.settings.mostro.expiration_seconds + 1);
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, b.id)).status, 'canceled-by-admin');
    assert.deepEqual(ctx.outbox.actions(maker.trade.pubkey), ['new-order', 'admin-canceled']);
    assert.equal(tag(lastOrderEvent(ctx, b.id)!, 's')?.[0], 'canceled');

    // An unbanned maker's order goes back to pending as before.
    const c = await createOrder(ctx, taker, { amount: 20_000n, fiat_amount: 10n }, { tradeIndex: 7n });
    const other = await party(ctx);
    await takeSell(ctx, req('take-sell', { id: c.id, tradeIndex: 1n }), other.inbound);
    await cancel(ctx, req('cancel', { id: c.id }), other.inbound);
    assert.equal((await reload(ctx, c.id)).status, 'pending');
  });

  void test('a ban or unban written into the database is read by the expire job within its next run', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const maker = await party(ctx);
    const a = await createOrder(ctx, maker, { amount: 20_000n });
    await ctx.db.updateTable('users').set({ is_banned: 1 }).where('pubkey', '=', maker.identity.pubkey).execute();
    assert.equal(ctx.bans.has(maker.identity.pubkey), false, 'not yet read');
    await expirePendingOrders(ctx);
    assert.equal(ctx.bans.has(maker.identity.pubkey), true);
    assert.equal((await reload(ctx, a.id)).status, 'canceled-by-admin', 'its pending order withdrawn in the same run');
    await assertCantDo(
      executeAction(ctx, req('new-order', { tradeIndex: 3n, payload: { order: smallOrder({ amount: 20_000n }) } }), maker.inbound),
      'not_authorized',
    );
    await ctx.db.updateTable('users').set({ is_banned: 0 }).where('pubkey', '=', maker.identity.pubkey).execute();
    await expirePendingOrders(ctx);
    assert.equal(ctx.bans.size, 0);
    await createOrder(ctx, maker, { amount: 20_000n }, { tradeIndex: 4n });
  });

  void test('the banned keys are read through the partial index (not a scan of every user)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT pubkey FROM users WHERE is_banned != 0`.execute(ctx.db);
    assert.match(plan.rows.map((r) => r.detail).join('; '), /idx_users_banned/);
  });

  void test('the list is the database column: a key banned behind the daemon is loaded; an unseen key gets a row', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const seen = await party(ctx);
    await ctx.db.updateTable('users').set({ is_banned: 1 }).where('pubkey', '=', seen.identity.pubkey).execute();
    const list = new BanList();
    assert.equal(await list.load(ctx.db), 1);
    assert.equal(list.has(seen.identity.pubkey), true);

    const unseen = newKeys().pubkey;
    await banUser(ctx, unseen);
    const row = await getUser(ctx.db, unseen);
    assert.equal(row?.is_banned, 1);
    assert.equal(row?.last_trade_index, 0);
    assert.equal(ctx.bans.has(unseen), true);
    assert.deepEqual(ctx.bans.list(), [seen.identity.pubkey, unseen].sort());
    assert.deepEqual(
      (await listBanned(ctx)).map((u) => u.pubkey),
      [seen.identity.pubkey, unseen].sort(),
    );
  });
});
