import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { insertOrder } from '../../../../src/db/orders.js';
import { EXPIRE_BATCH, expirePendingOrders } from '../../../../src/scheduler/jobs/expire-pending-orders.js';
import { makeOrder } from '../../../support/db.js';
import { makeTestContext } from '../../../support/test-context.js';
import { lastOrderEvent, reload, tag } from '../../../support/trade-fixtures.js';

const NOW = 1_700_000_000;

void describe('expire pending orders (DAEMON §4.1, PROTOCOL §6.6)', () => {
  void test('only pending orders past expires_at become expired, republished s=canceled, no message', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const due = makeOrder({ status: 'pending', expires_at: NOW + 100 });
    const later = makeOrder({ status: 'pending', expires_at: NOW + 10_000 });
    const taken = makeOrder({ status: 'waiting-buyer-invoice', expires_at: NOW + 100 });
    for (const o of [due, later, taken]) await insertOrder(ctx.db, o);

    await expirePendingOrders(ctx);
    assert.equal((await reload(ctx, due.id)).status, 'pending', 'not yet expired');
    assert.equal(ctx.outbox.published.length, 0);

    ctx.clock.advance(101);
    await expirePendingOrders(ctx);
    const expired = await reload(ctx, due.id);
    assert.equal(expired.status, 'expired');
    const ev = lastOrderEvent(ctx, due.id);
    assert.ok(ev);
    assert.deepEqual(tag(ev, 's'), ['canceled']);
    assert.equal(expired.event_id, ev.id, 'new event id saved');
    assert.equal((await reload(ctx, later.id)).status, 'pending');
    assert.equal((await reload(ctx, taken.id)).status, 'waiting-buyer-invoice');
    assert.equal(ctx.outbox.sent.length, 0, 'no DM to the maker');
    assert.equal(ctx.lightning.calls.length, 0, 'no Lightning call');

    // Idempotent: a second run changes nothing and publishes nothing.
    await expirePendingOrders(ctx);
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 1);
  });

  void test('a take that wins the race keeps the order (compare-and-set from pending)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = makeOrder({ status: 'pending', expires_at: NOW - 1 });
    await insertOrder(ctx.db, o);
    // The order is taken while the job waits for the order lock.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = ctx.locks.run(`order:${o.id}`, async () => {
      await gate;
      await ctx.db.updateTable('orders').set({ status: 'waiting-buyer-invoice' }).execute();
    });
    const job = expirePendingOrders(ctx);
    for (let i = 0; i < 5; i += 1) await new Promise((r) => setImmediate(r)); // job listed it, now waits for the lock
    release();
    await Promise.all([held, job]);
    assert.equal((await reload(ctx, o.id)).status, 'waiting-buyer-invoice');
    assert.equal(ctx.outbox.published.length, 0);
  });
});

void describe('expire pending orders: a backlog larger than one batch', () => {
  void test('every due order expires in one run, each published once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const n = EXPIRE_BATCH * 2 + 7;
    for (let i = 0; i < n; i++) await insertOrder(ctx.db, makeOrder({ status: 'pending', expires_at: NOW - 1 - (i % 13) }));
    await insertOrder(ctx.db, makeOrder({ status: 'pending', expires_at: NOW + 60 }));
    await expirePendingOrders(ctx);
    const rows = await ctx.db.selectFrom('orders').select(['status']).execute();
    assert.equal(rows.filter((r) => r.status === 'expired').length, n);
    assert.equal(rows.filter((r) => r.status === 'pending').length, 1);
    assert.equal(ctx.outbox.eventsOfKind(38383).length, n);
  });
});
