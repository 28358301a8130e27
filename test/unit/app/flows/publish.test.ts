import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { orderPublicStatus, publishDispute, publishOrder } from '../../../../src/app/flows/publish.js';
import { initiatorOf, userInfo } from '../../../../src/app/flows/reputation.js';
import { insertOrder } from '../../../../src/db/orders.js';
import { insertUser } from '../../../../src/db/users.js';
import type { OrderRow } from '../../../../src/db/types.js';
import type { Database } from '../../../../src/db/sqlite-driver.js';
import { uuidToBlob } from '../../../../src/db/uuid-blob.js';
import type { AppContext } from '../../../../src/context.js';
import { PublicationLedgerOutbox } from '../../../../src/ops/publication-ledger.js';
import { ORDER_STATUSES } from '../../../../src/protocol/types.js';
import { makeOrder } from '../../../support/db.js';
import { makeTestContext, newKeys, type TestContext } from '../../../support/test-context.js';
import { lastOrderEvent, reload, tag } from '../../../support/trade-fixtures.js';

const NOW = 1_700_000_000;

async function stored(ctx: TestContext, fields: Partial<OrderRow>): Promise<OrderRow> {
  const o = makeOrder({ created_at: NOW, expires_at: NOW + 86_400, ...fields });
  await insertOrder(ctx.db, o);
  return o;
}

void describe('orderPublicStatus', () => {
  void test('mostrod table, with in-progress for both waiting states of both kinds (HQ-12 fix)', () => {
    const expected: Record<string, string | null> = {
      pending: 'pending',
      'waiting-buyer-invoice': 'in-progress',
      'waiting-payment': 'in-progress',
      canceled: 'canceled',
      'canceled-by-admin': 'canceled',
      'cooperatively-canceled': 'canceled',
      expired: 'canceled',
      success: 'success',
      'completed-by-admin': 'completed-by-admin',
      active: null,
      'fiat-sent': null,
      'settled-hold-invoice': null,
      dispute: null,
    };
    for (const kind of ['buy', 'sell'] as const) {
      for (const [status, s] of Object.entries(expected)) {
        assert.equal(orderPublicStatus({ kind, status: status as OrderRow['status'] }), s, `${kind}/${status}`);
      }
    }
    assert.ok(ORDER_STATUSES.length >= Object.keys(expected).length);
  });
});

void describe('publishOrder', () => {
  void test('pending: rating from the maker users row, source tag, event id saved', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const maker = newKeys();
    const trade = newKeys();
    await insertUser(ctx.db, { pubkey: maker.pubkey, created_at: NOW - 3 * 86_400, total_rating: 3, total_reviews: 2 });
    const o = await stored(ctx, { kind: 'sell', creator_pubkey: trade.pubkey, seller_pubkey: trade.pubkey, master_seller_pubkey: maker.pubkey });
    await publishOrder(ctx, o);
    const ev = lastOrderEvent(ctx, o.id)!;
    assert.equal(ev.kind, 38383);
    assert.equal(ev.pubkey, ctx.keys.pubkey);
    assert.deepEqual(tag(ev, 'rating'), ['["rating",{"days":3,"total_rating":3.0,"total_reviews":2}]']);
    assert.deepEqual(tag(ev, 'source'), [`mostro:${o.id}?relays=ws://localhost:7000&mostro=${ctx.keys.pubkey}`]);
    assert.deepEqual(tag(ev, 'expires_at'), [String(NOW + 86_400)]);
    assert.deepEqual(tag(ev, 'expiration'), [String(NOW + 30 * 86_400)]);
    assert.deepEqual(tag(ev, 'y'), ['mostro']);
    assert.deepEqual(tag(ev, 'z'), ['order']);
    assert.equal((await reload(ctx, o.id)).event_id, ev.id);
  });

  void test('unpublishable status: nothing published, event id unchanged', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await stored(ctx, { status: 'active', event_id: 'f'.repeat(64) });
    await publishOrder(ctx, o);
    assert.equal(ctx.outbox.published.length, 0);
    assert.equal((await reload(ctx, o.id)).event_id, 'f'.repeat(64));
  });

  void test('sell order in waiting-payment → in-progress, no rating/source', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await stored(ctx, { kind: 'sell', status: 'waiting-payment', amount: 7851, fiat_amount: 15, min_amount: 10, max_amount: 50 });
    await publishOrder(ctx, o);
    const ev = lastOrderEvent(ctx, o.id)!;
    assert.deepEqual(tag(ev, 's'), ['in-progress']);
    assert.deepEqual(tag(ev, 'amt'), ['7851']);
    assert.deepEqual(tag(ev, 'fa'), ['15']);
    assert.equal(tag(ev, 'rating'), undefined);
    assert.equal(tag(ev, 'source'), undefined);
  });

  void test('a publication failure is logged, never thrown', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await stored(ctx, {});
    ctx.outbox.prepare = () => {
      throw new Error('relay pool closed');
    };
    assert.equal(await publishOrder(ctx, o), 'failed');
    assert.equal((await reload(ctx, o.id)).event_id, o.event_id);
    // an outbox that cannot prepare events: its publish fails the same way
    const plain = await makeTestContext({ now: NOW });
    const p = await stored(plain, {});
    const outbox = plain.outbox as { prepare?: unknown; publishPrepared?: unknown };
    outbox.prepare = undefined;
    outbox.publishPrepared = undefined;
    plain.outbox.publish = () => Promise.reject(new Error('relay pool closed'));
    assert.equal(await publishOrder(plain, p), 'failed');
    assert.equal((await reload(plain, p.id)).event_id, p.event_id);
  });

  void test('write-ahead: the event id and the publication ledger are committed before the event is handed to the relays', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await stored(ctx, { status: 'pending' });
    const sqlite = (ctx.db as unknown as { sqlite: Database }).sqlite;
    const seen: Array<{ prepared: string; order: unknown; ledger: unknown; inTransaction: boolean }> = [];
    const memory = ctx.outbox;
    const publishPrepared = memory.publishPrepared.bind(memory);
    const times: unknown[] = [];
    memory.publishPrepared = (event, opts) => {
      if (event.kind === 38386) times.push(sqlite.prepare('SELECT created_at FROM mostrod_ts_event_times WHERE kind = ? AND d = ?').get(event.kind, event.tags.find((t) => t[0] === 'd')?.[1]));
      else seen.push({
        prepared: event.id,
        order: (sqlite.prepare('SELECT event_id FROM orders WHERE id = ? OR id = ?').get(o.id, uuidToBlob(o.id)) as { event_id: string | null }).event_id,
        ledger: (sqlite.prepare('SELECT event_id FROM mostrod_ts_order_publications WHERE order_id = ?').get(o.id) as { event_id: string } | undefined)?.event_id,
        inTransaction: sqlite.inTransaction,
      });
      publishPrepared(event, opts);
    };
    // The daemon's outbox: the publication ledger in front of the relays.
    const daemonCtx: AppContext = { ...ctx, outbox: new PublicationLedgerOutbox(memory, ctx.db, ctx.clock, ctx.logger) };
    assert.equal(await publishOrder(daemonCtx, o), 'queued');
    assert.equal(seen.length, 1);
    const [s] = seen;
    assert.deepEqual(s, { prepared: s!.prepared, order: s!.prepared, ledger: s!.prepared, inTransaction: false });
    assert.equal(lastOrderEvent(ctx, o.id)?.id, s!.prepared);

    // A dispute event (published on its own): its created_at is on record before it goes out.
    const disputeId = '11111111-2222-4333-8444-555555555555';
    await publishDispute(daemonCtx, { id: disputeId, order_id: o.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: NOW, taken_at: 0 }, 'buyer');
    assert.deepEqual(times, [{ created_at: NOW }]);
    assert.equal(ctx.outbox.eventsOfKind(38386).length, 1);
  });
});

void describe('publishDispute / reputation helpers', () => {
  void test('38386 with d = dispute id, s = status, initiator', async () => {
    const ctx = await makeTestContext({ now: NOW });
    await publishDispute(
      ctx,
      { id: '11111111-2222-4333-8444-555555555555', order_id: '66666666-7777-4888-8999-000000000000', status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: NOW, taken_at: 0 },
      'buyer',
    );
    const [ev] = ctx.outbox.eventsOfKind(38386);
    assert.ok(ev);
    assert.deepEqual(tag(ev, 'd'), ['11111111-2222-4333-8444-555555555555']);
    assert.deepEqual(tag(ev, 's'), ['initiated']);
    assert.deepEqual(tag(ev, 'initiator'), ['buyer']);
  });

  void test('initiatorOf and userInfo', async () => {
    assert.equal(initiatorOf({ buyer_dispute: 1, seller_dispute: 0 }), 'buyer');
    assert.equal(initiatorOf({ buyer_dispute: 0, seller_dispute: 1 }), 'seller');
    assert.equal(initiatorOf({ buyer_dispute: 1, seller_dispute: 1 }), 'unknown');
    assert.equal(initiatorOf({ buyer_dispute: 0, seller_dispute: 0 }), 'unknown');
    const ctx = await makeTestContext({ now: NOW });
    const k = newKeys().pubkey;
    assert.deepEqual(await userInfo(ctx, k), { rating: 0, reviews: 0n, operating_days: 0n });
    await insertUser(ctx.db, { pubkey: k, created_at: NOW - 86_399, total_rating: 4.5, total_reviews: 7 });
    assert.deepEqual(await userInfo(ctx, k), { rating: 4.5, reviews: 7n, operating_days: 0n });
    ctx.clock.advance(1);
    assert.deepEqual(await userInfo(ctx, k), { rating: 4.5, reviews: 7n, operating_days: 1n });
  });
});
