import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { insertOrder } from '../../../../src/db/orders.js';
import { bootReconcile, JOB_NAMES, publishMetadata, registerJobs } from '../../../../src/scheduler/register.js';
import { reconcilePayoutsJob } from '../../../../src/scheduler/jobs/payout-reconcile.js';
import { retryPayouts } from '../../../../src/scheduler/jobs/payout-retries.js';
import { Scheduler, type TimerApi, type TimerHandle } from '../../../../src/scheduler/scheduler.js';
import { makeOrder } from '../../../support/db.js';
import type { FakeLightning } from '../../../support/fake-lightning.js';
import { makeTestContext } from '../../../support/test-context.js';
import { reload } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../../app/trade-b-fixture.js';

const NOW = 1_700_000_000;

/** Timers that never fire (jobs are run with runNow). */
const inertTimers: TimerApi = {
  setTimeout: (): TimerHandle => ({}),
  clearTimeout: () => undefined,
};

void describe('payout jobs (DAEMON §4.4, HANDLERS §5.2)', () => {
  void test('retries wait while LND is down (no attempt burnt, no message), then pay through the payout flow', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      status: 'settled-hold-invoice',
      escrow: 'settled',
      order: { failed_payment: 1, payment_attempts: 1 },
    });
    ctx.lightning.setState('down');
    await retryPayouts(ctx);
    let o = await reload(ctx, t.order.id);
    assert.deepEqual([o.status, o.payment_attempts], ['settled-hold-invoice', 1]);
    assert.equal(ctx.outbox.sent.length, 0);

    ctx.lightning.setState('up');
    await retryPayouts(ctx);
    o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'success');
    assert.equal(ctx.lightning.payments.length, 1);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), ['purchase-completed', 'rate']);
  });

  void test('reconciliation resolves a payout claim LND reports paid', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const hash = ctx.lightning.hashOf(t.invoice);
    await ctx.db.updateTable('orders').set({ payout_payment_hash: hash, payout_claimed_at: NOW - 10 }).execute();
    ctx.lightning.setPaymentResult(hash, { hash, state: 'succeeded' });
    ctx.lightning.setState('down');
    await reconcilePayoutsJob(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'settled-hold-invoice');
    ctx.lightning.setState('up');
    await reconcilePayoutsJob(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 0, 'not paid again');
  });
});

void describe('bootReconcile', () => {
  void test('processes an escrow accepted while away, a finished payout and a recorded dev-fee payment', async () => {
    const ctx = await makeTestContext({ now: NOW });
    // Seller paid while the daemon was down.
    const waiting = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'accepted' });
    // A payout LND finished while the daemon was down.
    const paying = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const payoutHash = ctx.lightning.hashOf(paying.invoice);
    await ctx.db
      .updateTable('orders')
      .set({ payout_payment_hash: payoutHash, payout_claimed_at: NOW - 10 })
      .where('hash', '=', paying.hash)
      .execute();
    ctx.lightning.setPaymentResult(payoutHash, { hash: payoutHash, state: 'succeeded' });
    // A dev fee sent just before a crash.
    const devHash = randomBytes(32).toString('hex');
    const dev = makeOrder({ status: 'success', dev_fee: 20, dev_fee_payment_hash: devHash });
    await insertOrder(ctx.db, dev);
    ctx.lightning.setPaymentResult(devHash, { hash: devHash, state: 'succeeded' });

    const summary = await bootReconcile(ctx);
    await ctx.tasks.idle();
    assert.deepEqual(summary.failed, []);
    assert.equal((await reload(ctx, waiting.order.id)).status, 'active');
    assert.equal((await reload(ctx, paying.order.id)).status, 'success');
    assert.equal((await reload(ctx, dev.id)).dev_fee_paid, 1);
    assert.equal(ctx.outbox.eventsOfKind(8383).length, 1);
    assert.equal(ctx.lightning.payments.length, 0, 'reconciliation pays nothing new');
  });

  void test('one failing step does not stop the others', async () => {
    const ctx = await makeTestContext({ now: NOW, logger: pino({ level: 'silent' }) });
    await escrowedTrade(ctx, { status: 'active' });
    const devHash = randomBytes(32).toString('hex');
    const dev = makeOrder({ status: 'success', dev_fee: 20, dev_fee_payment_hash: devHash });
    await insertOrder(ctx.db, dev);
    ctx.lightning.setPaymentResult(devHash, { hash: devHash, state: 'succeeded' });
    // A Lightning backend whose invoice subscriptions fail: re-watching escrows throws.
    const lightning = Object.create(ctx.lightning) as FakeLightning;
    lightning.watchInvoice = () => {
      throw new Error('subscription refused');
    };
    const summary = await bootReconcile({ ...ctx, lightning });
    assert.deepEqual(summary.failed, ['escrows']);
    assert.ok(summary.payouts !== null, 'payouts reconciled anyway');
    assert.equal((await reload(ctx, dev.id)).dev_fee_paid, 1, 'dev fees reconciled anyway');
  });
});

void describe('registerJobs', () => {
  void test('registers every job with its interval from the settings; each runs on an empty DB', async () => {
    const ctx = await makeTestContext({
      now: NOW,
      settings: {
        lightning: { payment_retries_interval: 45 },
        mostro: {
          user_rates_sent_interval_seconds: 120,
          publish_mostro_info_interval: 300,
          publish_relays_interval: 30,
          exchange_rates_update_interval_seconds: 5,
        },
      },
    });
    const scheduler = new Scheduler({ clock: ctx.clock, logger: ctx.logger, timers: inertTimers });
    registerJobs(scheduler, ctx, { connectedRelays: () => ['wss://relay.example'] });
    assert.deepEqual(
      scheduler.list(),
      [
        { name: 'expire-pending-orders', seconds: 60 },
        { name: 'rating-events', seconds: 120 },
        { name: 'waiting-timeouts', seconds: 60 },
        { name: 'payout-retries', seconds: 45 },
        { name: 'dev-fee', seconds: 60 },
        { name: 'info-event', seconds: 300 },
        { name: 'relay-list', seconds: 30 },
        { name: 'prices', seconds: 60 },
        { name: 'payout-reconcile', seconds: 60 },
        { name: 'escrow-deadline', seconds: 60 },
        { name: 'book-sync', seconds: 60 },
        { name: 'transport-prune', seconds: 3600 },
        { name: 'notice-redelivery', seconds: 60 },
      ],
    );
    assert.deepEqual(scheduler.list().map((j) => j.name), [...JOB_NAMES]);
    for (const name of JOB_NAMES) await scheduler.runNow(name);
    assert.deepEqual(
      ctx.outbox.published.map((e) => e.kind).sort((a, b) => a - b),
      [10002, 30078, 38385],
    );
    assert.equal(await publishMetadata(ctx), false);
    await scheduler.stop();
  });
});
