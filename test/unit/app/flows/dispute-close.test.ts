import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeDispute } from '../../../../src/app/flows/dispute-close.js';
import { getDispute, insertDispute } from '../../../../src/db/disputes.js';
import type { DisputeRow } from '../../../../src/db/types.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade, type Trade } from '../trade-b-fixture.js';

async function withDispute(ctx: TestContext, status: DisputeRow['status'], flags: { buyer: number; seller: number }) {
  const t = await escrowedTrade(ctx, { status: 'dispute', order: { buyer_dispute: flags.buyer, seller_dispute: flags.seller } });
  const d: DisputeRow = {
    id: randomUUID(),
    order_id: t.order.id,
    status,
    order_previous_status: 'fiat-sent',
    solver_pubkey: null,
    created_at: ctx.clock.now(),
    taken_at: 0,
  };
  await insertDispute(ctx.db, d);
  return { t, d };
}

function events(ctx: TestContext, d: DisputeRow) {
  return ctx.outbox.eventsOfKind(38386).filter((e) => tag(e, 'd')?.[0] === d.id);
}

void describe('closeDispute', () => {
  void test('an open dispute becomes settled and its 38386 is republished with the initiator', async () => {
    const ctx = await makeTestContext();
    const { t, d } = await withDispute(ctx, 'in-progress', { buyer: 1, seller: 0 });
    const closed = await closeDispute(ctx, t.order, 'settled');
    assert.equal(closed?.status, 'settled');
    assert.equal((await getDispute(ctx.db, d.id))?.status, 'settled');
    const evs = events(ctx, d);
    assert.equal(evs.length, 1);
    assert.deepEqual(tag(evs[0]!, 's'), ['settled']);
    assert.deepEqual(tag(evs[0]!, 'initiator'), ['buyer']);
  });

  void test('seller-refunded with inconsistent flags → initiator unknown', async () => {
    const ctx = await makeTestContext();
    const { t, d } = await withDispute(ctx, 'initiated', { buyer: 1, seller: 1 });
    await closeDispute(ctx, t.order, 'seller-refunded');
    assert.equal((await getDispute(ctx.db, d.id))?.status, 'seller-refunded');
    assert.deepEqual(tag(events(ctx, d)[0]!, 'initiator'), ['unknown']);
  });

  void test('no dispute, or one already closed → nothing changes, nothing published', async () => {
    const ctx = await makeTestContext();
    const plain: Trade = await escrowedTrade(ctx);
    assert.equal(await closeDispute(ctx, plain.order, 'settled'), null);
    const { t, d } = await withDispute(ctx, 'seller-refunded', { buyer: 0, seller: 1 });
    assert.equal(await closeDispute(ctx, t.order, 'settled'), null);
    assert.equal((await getDispute(ctx.db, d.id))?.status, 'seller-refunded');
    assert.equal(ctx.outbox.eventsOfKind(38386).length, 0);
  });
});
