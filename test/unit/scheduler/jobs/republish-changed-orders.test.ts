import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { publishOrder } from '../../../../src/app/flows/publish.js';
import { countOrderChanges, getOrderChange } from '../../../../src/db/order-changes.js';
import { casUpdateOrder, insertOrder } from '../../../../src/db/orders.js';
import { OrderChangeAcks } from '../../../../src/db/order-changes.js';
import type { EventTemplate, PreparedEvent, PublishOptions } from '../../../../src/nostr/outbox.js';
import {
  newBookSyncState,
  republishChangedOrders,
  type BookSyncState,
} from '../../../../src/scheduler/jobs/republish-changed-orders.js';
import { makeOrder } from '../../../support/db.js';
import { MemoryOutbox } from '../../../support/memory-outbox.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { lastOrderEvent, reload, tag } from '../../../support/trade-fixtures.js';

const NOW = 1_700_000_000;

/** A memory outbox whose next `failures` publications fail to be queued (signing/queueing error). */
class FlakyOutbox extends MemoryOutbox {
  failures = 0;
  override publish(event: EventTemplate, opts?: PublishOptions): Promise<string> {
    if (this.failures > 0) {
      this.failures -= 1;
      return Promise.reject(new Error('outbox refused the event'));
    }
    return super.publish(event, opts);
  }
  /** The same refusal for a prepared event (publishOrder prepares, records, then publishes). */
  override prepare(event: EventTemplate): PreparedEvent {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('outbox refused the event');
    }
    return super.prepare(event);
  }
}

/** A memory outbox whose publications get no relay answer until the test settles them (`held`). */
class SilentRelaysOutbox extends MemoryOutbox {
  readonly held: Array<(accepted: boolean) => void> = [];
  override publish(event: EventTemplate, opts?: PublishOptions): Promise<string> {
    if (opts?.onOutcome !== undefined) this.held.push(opts.onOutcome);
    return super.publish(event, {});
  }
  override publishPrepared(event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>): void {
    if (opts?.onOutcome !== undefined) this.held.push(opts.onOutcome);
    super.publishPrepared(event, {});
  }
}

/** A book of `n` pending orders, each inserted and published the way new-order does it. */
async function publishedBook(ctx: TestContext, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = makeOrder({ status: 'pending', expires_at: NOW + 86_400, created_at: NOW });
    await insertOrder(ctx.db, o);
    await publishOrder(ctx, o);
    ids.push(o.id);
  }
  await ctx.orderChangeAcks.flush(); // the relays accepted them: their change-log rows go
  return ids;
}

/** One pass, then the change-log deletes of the events the relays accepted during it. */
async function pass(ctx: TestContext, state: BookSyncState): Promise<{ republished: number; cleared: number; skipped: number }> {
  const summary = await republishChangedOrders(ctx, state);
  await ctx.orderChangeAcks.flush();
  return summary;
}

/** Two passes: the first moves the watermark past what exists now, the second handles it. */
async function twoPasses(ctx: TestContext, state: BookSyncState): Promise<{ republished: number; cleared: number; skipped: number }> {
  await pass(ctx, state);
  return pass(ctx, state);
}

void describe('order book republish job: only orders whose public event lags', () => {
  void test('a published book of 40 orders costs nothing; a crash between a status change and its publication is repaired for that order alone', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const ids = await publishedBook(ctx, 40);
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 40);
    assert.equal(await countOrderChanges(ctx.db), 0, 'every published order left the change log');

    assert.deepEqual(await twoPasses(ctx, state), { republished: 0, cleared: 0, skipped: 0 });
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 40, 'nothing republished');

    // Two orders canceled by a process that stopped before publishing (DB only).
    const lagging = [ids[3]!, ids[17]!];
    for (const id of lagging) assert.ok(await casUpdateOrder(ctx.db, id, { status: 'pending' }, { status: 'canceled' }));
    assert.equal(await countOrderChanges(ctx.db), 2);

    ctx.outbox.clear();
    // The first pass after the change leaves it to the path that made it.
    assert.deepEqual(await pass(ctx, state), { republished: 0, cleared: 0, skipped: 0 });
    assert.equal(ctx.outbox.published.length, 0);
    assert.deepEqual(await pass(ctx, state), { republished: 2, cleared: 0, skipped: 0 });
    const events = ctx.outbox.eventsOfKind(38383);
    assert.deepEqual(events.map((e) => tag(e, 'd')?.[0]).sort(), [...lagging].sort(), 'exactly the two lagging orders');
    for (const id of lagging) {
      const ev = lastOrderEvent(ctx, id);
      assert.ok(ev);
      assert.deepEqual(tag(ev, 's'), ['canceled']);
      assert.equal((await reload(ctx, id)).event_id, ev.id, 'event id recorded');
    }
    assert.equal(await countOrderChanges(ctx.db), 0);

    ctx.outbox.clear();
    assert.deepEqual(await twoPasses(ctx, state), { republished: 0, cleared: 0, skipped: 0 });
    assert.equal(ctx.outbox.published.length, 0, 'converged: the next passes publish nothing');
  });

  void test('a failed publication stays in the log and is published by a later pass, once', async () => {
    const base = await makeTestContext({ now: NOW });
    const outbox = new FlakyOutbox(base.keys.secretKey, base.clock);
    const ctx: TestContext = { ...base, outbox };
    const state = newBookSyncState();
    const o = makeOrder({ status: 'pending', expires_at: NOW + 86_400 });
    await insertOrder(ctx.db, o);
    outbox.failures = 2;
    await publishOrder(ctx, o); // the handler's publication fails
    assert.equal(outbox.published.length, 0);
    assert.ok(await getOrderChange(ctx.db, o.id), 'the order lags');

    await pass(ctx, state);
    assert.deepEqual(await pass(ctx, state), { republished: 0, cleared: 0, skipped: 0 }, 'second failure: still lagging');
    assert.ok(await getOrderChange(ctx.db, o.id));
    assert.deepEqual(await pass(ctx, state), { republished: 1, cleared: 0, skipped: 0 });
    assert.equal(outbox.eventsOfKind(38383).length, 1);
    assert.deepEqual(tag(outbox.eventsOfKind(38383)[0]!, 's'), ['pending']);
    assert.deepEqual(await pass(ctx, state), { republished: 0, cleared: 0, skipped: 0 });
    assert.equal(outbox.eventsOfKind(38383).length, 1);
  });

  void test('a change to a status that is never public is cleared without an event', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const [id] = await publishedBook(ctx, 1);
    ctx.outbox.clear();
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'pending' }, { status: 'active' }));
    assert.deepEqual(await twoPasses(ctx, state), { republished: 0, cleared: 1, skipped: 0 });
    assert.equal(ctx.outbox.published.length, 0);
    assert.equal(await countOrderChanges(ctx.db), 0);
  });

  void test('a trade whose take event reached no relay shows in-progress once the job runs, even after it moved to statuses with no event (F15)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const [id] = await publishedBook(ctx, 1);
    ctx.outbox.clear();
    // The take's in-progress event: every relay refuses it (or the process stops before an OK).
    ctx.outbox.refuse = true;
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'pending' }, { status: 'waiting-payment' }));
    assert.equal(await publishOrder(ctx, await reload(ctx, id!)), 'queued');
    const lagging = await getOrderChange(ctx.db, id!);
    assert.equal(lagging?.status, 'waiting-payment');
    ctx.outbox.refuse = false;
    // The seller pays: active publishes nothing, and must not hide the lagging change.
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'waiting-payment' }, { status: 'active' }));
    assert.equal(await publishOrder(ctx, await reload(ctx, id!)), 'not-public');
    assert.deepEqual(await getOrderChange(ctx.db, id!), lagging, 'the lagging public change stays in the log');
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'active' }, { status: 'fiat-sent' }));
    assert.deepEqual(await getOrderChange(ctx.db, id!), lagging);
    ctx.outbox.clear();
    assert.deepEqual(await twoPasses(ctx, state), { republished: 1, cleared: 0, skipped: 0 });
    const events = ctx.outbox.eventsOfKind(38383);
    assert.deepEqual(events.map((e) => tag(e, 's')), [['in-progress']], 'the book shows the trade under way');
    assert.equal(await getOrderChange(ctx.db, id!), undefined, 'accepted: the row is gone');
    // With nothing lagging, a status with no event of its own logs a row that its path clears.
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'fiat-sent' }, { status: 'settled-hold-invoice' }));
    assert.equal((await getOrderChange(ctx.db, id!))?.status, 'settled-hold-invoice');
    assert.equal(await publishOrder(ctx, await reload(ctx, id!)), 'not-public');
    assert.equal(await getOrderChange(ctx.db, id!), undefined);
    assert.deepEqual(await twoPasses(ctx, state), { republished: 0, cleared: 0, skipped: 0 });
  });

  void test('a public change replaces a lagging one; a lagging change with no event of its own is only cleared', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const [id] = await publishedBook(ctx, 1);
    ctx.outbox.clear();
    // Crash-like: status changes written, nothing published.
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'pending' }, { status: 'waiting-buyer-invoice' }));
    const take = await getOrderChange(ctx.db, id!);
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'waiting-buyer-invoice' }, { status: 'active' }));
    assert.deepEqual(await getOrderChange(ctx.db, id!), take);
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'active' }, { status: 'success' }));
    const done = await getOrderChange(ctx.db, id!);
    assert.ok(done !== undefined && done.status === 'success' && done.seq > take!.seq, 'a public change replaces the row');
    assert.deepEqual(await twoPasses(ctx, state), { republished: 1, cleared: 0, skipped: 0 });
    assert.deepEqual(ctx.outbox.eventsOfKind(38383).map((e) => tag(e, 's')), [['success']]);

    // A row for a status with no event (its path stopped before clearing it) while the order is in
    // another such status: nothing to publish, the row goes.
    const other = makeOrder({ status: 'active', expires_at: NOW + 86_400, created_at: NOW });
    await insertOrder(ctx.db, other);
    assert.equal((await getOrderChange(ctx.db, other.id))?.status, 'active');
    assert.ok(await casUpdateOrder(ctx.db, other.id, { status: 'active' }, { status: 'dispute' }));
    assert.equal((await getOrderChange(ctx.db, other.id))?.status, 'active', 'kept: the order had a row');
    ctx.outbox.clear();
    assert.deepEqual(await twoPasses(ctx, state), { republished: 0, cleared: 1, skipped: 0 });
    assert.equal(ctx.outbox.published.length, 0);
    assert.equal(await getOrderChange(ctx.db, other.id), undefined);
  });

  void test('an order its own path publishes while the job waits for the lock is not published twice', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const [id] = await publishedBook(ctx, 1);
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'pending' }, { status: 'canceled' }));
    await republishChangedOrders(ctx, state); // watermark now covers the change
    ctx.outbox.clear();
    // The handler holds the order lock and publishes; the job's pass waits for the lock.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handler = ctx.locks.run(`order:${id!}`, async () => {
      await gate;
      await publishOrder(ctx, await reload(ctx, id!));
    });
    const pass = republishChangedOrders(ctx, state);
    release();
    await handler;
    assert.deepEqual(await pass, { republished: 0, cleared: 0, skipped: 1 });
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 1, 'one event: the handler’s');
  });

  void test('an event every relay refused keeps its order in the log: the job publishes it again until one accepts it', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    ctx.outbox.refuse = true;
    const [id] = await publishedBook(ctx, 1);
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 1, 'queued and refused');
    assert.equal((await getOrderChange(ctx.db, id!))?.status, 'pending', 'not on any relay: the order lags');
    assert.deepEqual(await twoPasses(ctx, state), { republished: 1, cleared: 0, skipped: 0 }, 'refused again');
    assert.ok(await getOrderChange(ctx.db, id!));
    ctx.outbox.refuse = false;
    assert.deepEqual(await pass(ctx, state), { republished: 1, cleared: 0, skipped: 0 });
    assert.equal(await getOrderChange(ctx.db, id!), undefined, 'accepted: the row is gone');
    assert.deepEqual(await pass(ctx, state), { republished: 0, cleared: 0, skipped: 0 });
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 3);
  });

  void test('a publication still waiting for the relays is not stacked; a process that stopped before their OK is repaired after the restart', async () => {
    const base = await makeTestContext({ now: NOW });
    const outbox = new SilentRelaysOutbox(base.keys.secretKey, base.clock);
    const ctx: TestContext = { ...base, outbox };
    const state = newBookSyncState();
    const [id] = await publishedBook(ctx, 1);
    assert.equal(outbox.held.length, 1);
    assert.ok(ctx.orderChangeAcks.pending(id!, (await getOrderChange(ctx.db, id!))!.seq));
    assert.deepEqual(await twoPasses(ctx, state), { republished: 0, cleared: 0, skipped: 1 }, 'in flight: left to the outbox');
    assert.equal(outbox.eventsOfKind(38383).length, 1);

    // The outbox gives up (no relay accepted it): the next pass publishes again.
    outbox.held.shift()!(false);
    assert.deepEqual(await pass(ctx, state), { republished: 1, cleared: 0, skipped: 0 });
    assert.equal(outbox.eventsOfKind(38383).length, 2);

    // The process stops before any relay answered; a new one (same database) repairs the order.
    const restarted: TestContext = { ...ctx, outbox: new MemoryOutbox(ctx.keys.secretKey, ctx.clock), orderChangeAcks: new OrderChangeAcks(ctx.db, ctx.logger) };
    const fresh = newBookSyncState();
    assert.deepEqual(await pass(restarted, fresh), { republished: 0, cleared: 0, skipped: 0 }, 'the first pass after a start only takes the watermark');
    assert.deepEqual(await pass(restarted, fresh), { republished: 1, cleared: 0, skipped: 0 });
    assert.deepEqual(tag(restarted.outbox.eventsOfKind(38383)[0]!, 's'), ['pending']);
    assert.equal(await getOrderChange(ctx.db, id!), undefined);
  });

  void test('an accepted publication whose delete is not written yet is not published again', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const [id] = await publishedBook(ctx, 1);
    assert.ok(await casUpdateOrder(ctx.db, id!, { status: 'pending' }, { status: 'canceled' }));
    await pass(ctx, state); // watermark covers the change
    await publishOrder(ctx, await reload(ctx, id!)); // its own path: accepted, delete batched
    ctx.outbox.clear();
    assert.deepEqual(await republishChangedOrders(ctx, state), { republished: 0, cleared: 0, skipped: 1 });
    assert.equal(ctx.outbox.published.length, 0);
    await ctx.orderChangeAcks.flush();
    assert.equal(await getOrderChange(ctx.db, id!), undefined);
  });

  void test('the triggers log inserts and status changes only (other columns do not make an order lag)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = makeOrder({ status: 'pending' });
    await insertOrder(ctx.db, o);
    assert.equal((await getOrderChange(ctx.db, o.id))?.status, 'pending');
    await publishOrder(ctx, o);
    await ctx.orderChangeAcks.flush();
    assert.equal(await getOrderChange(ctx.db, o.id), undefined);
    assert.ok(await casUpdateOrder(ctx.db, o.id, { status: 'pending' }, { premium: 5, fiat_amount: 20 }));
    assert.equal(await getOrderChange(ctx.db, o.id), undefined, 'same status: not a change');
    assert.ok(await casUpdateOrder(ctx.db, o.id, { status: 'pending' }, { status: 'waiting-payment' }));
    const first = await getOrderChange(ctx.db, o.id);
    assert.ok(await casUpdateOrder(ctx.db, o.id, { status: 'waiting-payment' }, { status: 'pending' }));
    const second = await getOrderChange(ctx.db, o.id);
    assert.ok(first && second && second.seq > first.seq && second.status === 'pending', 'a newer change replaces the row');
    await ctx.db.deleteFrom('orders').execute();
    assert.equal(await countOrderChanges(ctx.db), 0, 'deleted orders leave the log');
  });
});
