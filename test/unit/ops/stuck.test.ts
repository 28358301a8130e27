import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { publishOrder } from '../../../src/app/flows/publish.js';
import { casUpdateOrder, findOrders, insertOrder } from '../../../src/db/orders.js';
import { PublicationLedgerOutbox } from '../../../src/ops/publication-ledger.js';
import {
  expectedPublicStatus,
  findEscrowsNearDeadline,
  findLaggingPublications,
  findOrphanedDisputes,
  findStrandedPayouts,
  findUnpaidSettled,
  payoutGraceSeconds,
} from '../../../src/ops/stuck.js';
import { opsDb } from '../../../src/ops/tables.js';
import { makeOrder } from '../../support/db.js';
import { party, req, smallOrder } from '../../support/trade-fixtures.js';
import { newOrder } from '../../../src/app/handlers/new-order.js';
import { makeTestContext } from '../../support/test-context.js';
import { escrowedTrade, openDispute } from '../app/handlers/dispute-fixture.js';

const NOW = 1_700_000_000;

void describe('stuck-state queries', () => {
  void test('unpaid settled orders and stranded payout claims', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const unpaid = await escrowedTrade(ctx, { status: 'settled-hold-invoice' });
    const fresh = await escrowedTrade(ctx, {
      status: 'settled-hold-invoice',
      order: { payout_payment_hash: 'aa'.repeat(32), payout_claimed_at: NOW - 10 },
    });
    const stranded = await escrowedTrade(ctx, {
      status: 'settled-hold-invoice',
      order: { payout_payment_hash: 'bb'.repeat(32), payout_claimed_at: NOW - 1000 },
    });
    await escrowedTrade(ctx, { status: 'active' });
    const grace = payoutGraceSeconds(ctx.settings);
    assert.equal(grace, 150);
    assert.deepEqual((await findUnpaidSettled(ctx.db)).map((o) => o.id), [unpaid.order.id]);
    assert.deepEqual((await findStrandedPayouts(ctx.db, NOW, grace)).map((o) => o.id), [stranded.order.id]);
    // The fresh claim becomes stranded once the grace has passed.
    const later = (await findStrandedPayouts(ctx.db, NOW + 200, grace)).map((o) => o.id).sort();
    assert.deepEqual(later, [fresh.order.id, stranded.order.id].sort());
  });

  void test('escrows near their CLTV deadline, and escrows LND already dropped', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const near = await escrowedTrade(ctx, { status: 'fiat-sent' }); // HTLC expiry 1000 + 144
    ctx.lightning.info!.blockHeight = 1100;
    const far = await escrowedTrade(ctx, { status: 'active' }); // HTLC expiry 1100 + 144
    const gone = await escrowedTrade(ctx, { status: 'active' });
    ctx.lightning.cancelByNode(gone.hash);
    ctx.lightning.info!.blockHeight = 1130;
    const found = await findEscrowsNearDeadline(ctx, 20);
    const byId = new Map(found.map((f) => [f.order.id, f]));
    assert.equal(byId.size, 2);
    assert.equal(byId.has(far.order.id), false);
    assert.deepEqual(
      { ...byId.get(near.order.id), order: undefined },
      { order: undefined, expiryHeight: 1144, blockHeight: 1130, blocksLeft: 14, escrowState: 'accepted' },
    );
    assert.equal(byId.get(gone.order.id)?.escrowState, 'canceled');
  });

  void test('orders whose last queued 38383 lags the database', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const ledgerCtx = { ...ctx, outbox: new PublicationLedgerOutbox(ctx.outbox, ctx.db, ctx.clock, ctx.logger) };
    const o = makeOrder({ status: 'pending', created_at: NOW, expires_at: NOW + 3600 });
    await insertOrder(ctx.db, o);
    await publishOrder(ledgerCtx, o);
    assert.deepEqual(await findLaggingPublications(ctx.db), []);
    // Canceled in the DB without a new public event: a ghost order on the relays.
    assert.equal(await casUpdateOrder(ctx.db, o.id, { status: 'pending' }, { status: 'canceled' }), true);
    const lag = await findLaggingPublications(ctx.db);
    assert.equal(lag.length, 1);
    assert.equal(lag[0]?.order.id, o.id);
    assert.equal(lag[0]?.expected, 'canceled');
    assert.equal(lag[0]?.published, 'pending');
    // Publishing the DB state clears it.
    ctx.clock.advance(1);
    await publishOrder(ledgerCtx, { ...o, status: 'canceled' });
    assert.deepEqual(await findLaggingPublications(ctx.db), []);
    assert.equal(expectedPublicStatus({ kind: 'sell', status: 'fiat-sent' }), 'in-progress');
  });

  void test('a new order (one transaction, prepared event): its ledger row is committed with it, at the id and created_at published', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const ledgerCtx = { ...ctx, outbox: new PublicationLedgerOutbox(ctx.outbox, ctx.db, ctx.clock, ctx.logger) };
    const maker = await party(ctx);
    await newOrder(ledgerCtx, req('new-order', { requestId: 1n, tradeIndex: 1n, payload: { order: smallOrder({ amount: 100_000n, fiat_amount: 50n }) } }), maker.inbound);
    const [o] = await findOrders(ctx.db, {});
    assert.ok(o);
    const ev = ctx.outbox.eventsOfKind(38383).at(-1);
    assert.ok(ev);
    const row = await opsDb(ctx.db).selectFrom('mostrod_ts_order_publications').selectAll().where('order_id', '=', o.id).executeTakeFirst();
    assert.deepEqual(row && { status: row.status, event_id: row.event_id, created_at: row.created_at }, { status: 'pending', event_id: ev.id, created_at: ev.created_at });
    assert.deepEqual(await findLaggingPublications(ctx.db), []);
    // Without prepare in the inner outbox, the decorator has none either (callers fall back).
    const plain = new PublicationLedgerOutbox({ sendMessage: () => {}, publish: () => Promise.resolve(''), flush: () => Promise.resolve() }, ctx.db, ctx.clock, ctx.logger);
    assert.equal(plain.prepare, undefined);
    assert.equal(plain.publishPrepared, undefined);
  });

  void test('open disputes whose order left the dispute status', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'buyer');
    assert.deepEqual(await findOrphanedDisputes(ctx.db), []);
    assert.equal(await casUpdateOrder(ctx.db, t.order.id, { status: 'dispute' }, { status: 'cooperatively-canceled' }), true);
    assert.deepEqual(await findOrphanedDisputes(ctx.db), [
      { dispute: { ...d }, orderStatus: 'cooperatively-canceled' },
    ]);
  });
});
