/**
 * The dispute change log (migration 20261211000000, db/dispute-changes.ts) and the book-sync job's
 * dispute half (republishChangedDisputes): a dispute's 38386 event that no relay accepted is
 * published again, with the current status and the initiator from the order (simulation finding F17).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { publishDispute } from '../../../../src/app/flows/publish.js';
import { countDisputeChanges, getDisputeChange } from '../../../../src/db/dispute-changes.js';
import { casUpdateDispute, insertDispute } from '../../../../src/db/disputes.js';
import { insertOrder } from '../../../../src/db/orders.js';
import type { DisputeRow } from '../../../../src/db/types.js';
import { DISPUTE_EVENT_KIND } from '../../../../src/nostr/events.js';
import { newBookSyncState, republishChangedDisputes, type BookSyncState } from '../../../../src/scheduler/jobs/republish-changed-orders.js';
import { makeOrder } from '../../../support/db.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { tag } from '../../../support/trade-fixtures.js';

const NOW = 1_700_000_000;

async function disputed(ctx: TestContext): Promise<DisputeRow> {
  const o = makeOrder({ status: 'dispute', buyer_dispute: 1, seller_dispute: 0, created_at: NOW, expires_at: NOW + 86_400 });
  await insertOrder(ctx.db, o);
  const d: DisputeRow = { id: randomUUID(), order_id: o.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: NOW, taken_at: 0 };
  await insertDispute(ctx.db, d);
  return d;
}

/** One pass, then the deletes its accepted publications started. */
async function pass(ctx: TestContext, state: BookSyncState): Promise<number> {
  const n = await republishChangedDisputes(ctx, state);
  await ctx.tasks.idle();
  return n;
}

void describe('dispute events: republished until a relay accepts them', () => {
  void test('an accepted dispute event clears its change; a refused one is published again by the job, with the order’s initiator', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const d = await disputed(ctx);
    assert.equal((await getDisputeChange(ctx.db, d.id))?.status, 'initiated', 'the insert logs a change');

    // Every relay refuses the dispute's event: the row stays.
    ctx.outbox.refuse = true;
    assert.equal(await publishDispute(ctx, d, 'buyer'), 'queued');
    await ctx.tasks.idle();
    assert.ok(await getDisputeChange(ctx.db, d.id));
    ctx.outbox.refuse = false;

    assert.equal(await pass(ctx, state), 0, 'the first pass only takes the watermark');
    assert.equal(await pass(ctx, state), 1);
    const events = ctx.outbox.eventsOfKind(DISPUTE_EVENT_KIND);
    assert.equal(events.length, 2);
    assert.deepEqual([tag(events[1]!, 'd'), tag(events[1]!, 's'), tag(events[1]!, 'initiator')], [[d.id], ['initiated'], ['buyer']]);
    assert.equal(await getDisputeChange(ctx.db, d.id), undefined, 'accepted: the row is gone');
    assert.equal(await pass(ctx, state), 0, 'nothing lags');

    // A solver takes it; the process stops before any relay had the event (DB only): the job
    // publishes the current status.
    assert.ok(await casUpdateDispute(ctx.db, d.id, { status: 'initiated' }, { status: 'in-progress', solver_pubkey: 'ab'.repeat(32), taken_at: NOW }));
    assert.equal((await getDisputeChange(ctx.db, d.id))?.status, 'in-progress');
    await pass(ctx, state);
    assert.equal(await pass(ctx, state), 1);
    assert.deepEqual(tag(ctx.outbox.eventsOfKind(DISPUTE_EVENT_KIND).at(-1)!, 's'), ['in-progress']);
    assert.equal(await countDisputeChanges(ctx.db), 0);

    // Its own path publishes it: nothing left for the job.
    assert.ok(await casUpdateDispute(ctx.db, d.id, { status: 'in-progress' }, { status: 'settled' }));
    await publishDispute(ctx, { ...d, status: 'settled' }, 'buyer');
    await ctx.tasks.idle();
    assert.equal(await countDisputeChanges(ctx.db), 0);
    await pass(ctx, state);
    assert.equal(await pass(ctx, state), 0);
  });

  void test('a change replaced by a newer one is not published for the old status; a deleted dispute leaves the log', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const state = newBookSyncState();
    const d = await disputed(ctx);
    const first = await getDisputeChange(ctx.db, d.id);
    // The initiated event is still on its way when the dispute is taken: its OK must not clear the
    // newer change.
    ctx.outbox.refuse = true;
    await publishDispute(ctx, d, 'buyer');
    ctx.outbox.refuse = false;
    assert.ok(await casUpdateDispute(ctx.db, d.id, { status: 'initiated' }, { status: 'in-progress' }));
    const second = await getDisputeChange(ctx.db, d.id);
    assert.ok(first !== undefined && second !== undefined && second.seq > first.seq && second.status === 'in-progress');
    await publishDispute(ctx, d, 'buyer'); // an event for the old status (a late publication)
    await ctx.tasks.idle();
    assert.deepEqual(await getDisputeChange(ctx.db, d.id), second, 'the newer change stays');
    await ctx.db.deleteFrom('disputes').execute();
    assert.equal(await countDisputeChanges(ctx.db), 0, 'deleted disputes leave the log');
    await pass(ctx, state);
    assert.equal(await pass(ctx, state), 0);
  });
});
