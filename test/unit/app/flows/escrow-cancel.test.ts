/**
 * Issue 12 defect 2: a cancel decision written to the DB whose CancelInvoice never ran (the
 * process crashed or was shut down while LND's call hung) is finished at boot — escrow canceled
 * exactly once, the order's decided state unchanged, every notice delivered exactly once — and an
 * escrow ACCEPTED behind a canceled order is refunded instead of only logged.
 *
 * The crash is modelled by FakeLightning.hangNext('cancelHoldInvoice'): the first process never
 * gets past CancelInvoice; a second process (same database, same LND, fresh locks/tasks/outbox)
 * runs the boot reconciliation.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedLock } from '../../../../src/app/locks.js';
import { adminCancel } from '../../../../src/app/handlers/admin-cancel.js';
import { cancel } from '../../../../src/app/handlers/cancel.js';
import { finishOpenCancelDecisions } from '../../../../src/app/flows/escrow-cancel.js';
import { onEscrowAccepted, watchEscrow } from '../../../../src/app/flows/hold-invoice.js';
import { TaskTracker } from '../../../../src/context.js';
import { getDispute } from '../../../../src/db/disputes.js';
import { getCancelDecision, recordCancelDecision } from '../../../../src/db/escrow-cancels.js';
import { casUpdateOrder } from '../../../../src/db/orders.js';
import type { Action } from '../../../../src/protocol/types.js';
import { bootReconcile } from '../../../../src/scheduler/jobs/boot-reconcile.js';
import { guardEscrowDeadlines } from '../../../../src/scheduler/jobs/escrow-deadline.js';
import { cancelTimedOutWaitingOrders } from '../../../../src/scheduler/jobs/waiting-timeouts.js';
import { MemoryOutbox } from '../../../support/memory-outbox.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { lastOrderEvent, reload, req, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade as disputableTrade, openDispute, solver, take } from '../handlers/dispute-fixture.js';
import { escrowedTrade, type Trade } from '../trade-b-fixture.js';

const NOW = 1_700_000_000;

/** Let the first process run until it waits on LND's CancelInvoice (which never answers). */
async function untilCancelCalled(ctx: TestContext, calls = 1): Promise<void> {
  for (let i = 0; i < 1000 && ctx.lightning.callsOf('cancelHoldInvoice').length < calls; i++) {
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(ctx.lightning.callsOf('cancelHoldInvoice').length, calls, 'the first process reached CancelInvoice');
}

/** A new process on the same database and Lightning node. */
function reboot(ctx: TestContext): TestContext {
  return { ...ctx, locks: new KeyedLock(), tasks: new TaskTracker(), outbox: new MemoryOutbox(ctx.keys.secretKey, ctx.clock) };
}

function actions(ctx: TestContext, to: string): Action[] {
  return ctx.outbox.actions(to);
}

/** Boot twice; the second boot must change nothing. */
async function bootTwice(next: TestContext): Promise<void> {
  await bootReconcile(next);
  const sent = next.outbox.sent.length;
  const cancels = next.lightning.cancels.length;
  await bootReconcile(next);
  assert.equal(next.outbox.sent.length, sent, 'a second boot sends nothing more');
  assert.equal(next.lightning.cancels.length, cancels, 'a second boot cancels nothing more');
}

async function assertFinished(first: TestContext, next: TestContext, t: Trade): Promise<void> {
  assert.deepEqual(next.lightning.cancels, [t.hash], 'escrow canceled exactly once');
  assert.equal(next.lightning.invoices.get(t.hash)?.state, 'canceled');
  assert.equal((await getCancelDecision(next.db, t.hash))?.done_at, NOW);
  assert.equal(first.outbox.sent.length, 0, 'the crashed process sent nothing');
}

void describe('a crash between a cancel decision and CancelInvoice is finished at boot (defect 2)', () => {
  void test('maker cancels in waiting-payment: canceled stays, escrow canceled once, both told once, 38383 canceled', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancel(ctx, req('cancel', { id: t.order.id, requestId: 4n }), t.maker.inbound);
    await untilCancelCalled(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled', 'the decision was written');

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t);
    assert.equal((await reload(next, t.order.id)).status, 'canceled');
    assert.deepEqual(actions(next, t.maker.trade.pubkey), ['canceled']);
    assert.equal(next.outbox.messagesTo(t.maker.trade.pubkey)[0]?.kind.request_id, 4n, 'the maker’s request id is kept');
    assert.deepEqual(actions(next, t.taker.trade.pubkey), ['canceled']);
    assert.deepEqual(tag(lastOrderEvent(next, t.order.id)!, 's'), ['canceled']);
  });

  void test('the taker backs out (hash erased by the reset): the old escrow is still canceled once, order stays pending', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-buyer-invoice', escrow: 'accepted', order: { buyer_invoice: null } });
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancel(ctx, req('cancel', { id: t.order.id, requestId: 6n }), t.taker.inbound);
    await untilCancelCalled(ctx);
    const reset = await reload(ctx, t.order.id);
    assert.equal(reset.status, 'pending');
    assert.equal(reset.hash, null, 'the reset erased the hash from the order');

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t);
    assert.equal((await reload(next, t.order.id)).status, 'pending');
    assert.deepEqual(actions(next, t.taker.trade.pubkey), ['canceled']);
    assert.deepEqual(actions(next, t.maker.trade.pubkey), ['new-order']);
    assert.deepEqual(tag(lastOrderEvent(next, t.order.id)!, 's'), ['pending']);
  });

  void test('cooperative cancel in dispute: cooperatively-canceled stays, dispute closed seller-refunded, both told once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await disputableTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'buyer');
    await cancel(ctx, req('cancel', { id: t.order.id }), t.buyer.inbound);
    ctx.outbox.clear();
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancel(ctx, req('cancel', { id: t.order.id, requestId: 8n }), t.seller.inbound);
    await untilCancelCalled(ctx);

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t as unknown as Trade);
    assert.equal((await reload(next, t.order.id)).status, 'cooperatively-canceled');
    assert.equal((await getDispute(next.db, d.id))?.status, 'seller-refunded');
    assert.deepEqual(actions(next, t.seller.trade.pubkey), ['cooperative-cancel-accepted']);
    assert.deepEqual(actions(next, t.buyer.trade.pubkey), ['cooperative-cancel-accepted']);
  });

  void test('admin-cancel: canceled-by-admin stays, dispute seller-refunded, admin-canceled to solver and both parties once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await disputableTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'buyer');
    const s = await solver(ctx);
    await take(ctx, s, d);
    ctx.outbox.clear();
    ctx.lightning.hangNext('cancelHoldInvoice');
    void adminCancel(ctx, req('admin-cancel', { id: t.order.id, requestId: 31n, tradeIndex: 4n }), s.inbound);
    await untilCancelCalled(ctx);

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t as unknown as Trade);
    assert.equal((await reload(next, t.order.id)).status, 'canceled-by-admin');
    assert.equal((await getDispute(next.db, d.id))?.status, 'seller-refunded');
    for (const key of [s.trade.pubkey, t.seller.trade.pubkey, t.buyer.trade.pubkey]) {
      assert.deepEqual(actions(next, key), ['admin-canceled']);
    }
  });

  void test('waiting-state timeout (maker late): canceled stays, both told once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { kind: 'sell', status: 'waiting-payment', escrow: 'open', order: { taken_at: NOW - 1000, invoice_held_at: 0 } });
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancelTimedOutWaitingOrders(ctx);
    await untilCancelCalled(ctx);

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t);
    assert.equal((await reload(next, t.order.id)).status, 'canceled');
    assert.deepEqual(actions(next, t.seller.trade.pubkey), ['canceled']);
    assert.deepEqual(actions(next, t.buyer.trade.pubkey), ['canceled']);
  });

  void test('waiting-state timeout (taker late, escrow held): back to pending stays, maker new-order and taker canceled once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, {
      kind: 'sell',
      status: 'waiting-buyer-invoice',
      escrow: 'accepted',
      order: { taken_at: NOW - 1000, invoice_held_at: NOW - 950, buyer_invoice: null },
    });
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancelTimedOutWaitingOrders(ctx);
    await untilCancelCalled(ctx);

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t);
    assert.equal((await reload(next, t.order.id)).status, 'pending');
    assert.deepEqual(actions(next, t.seller.trade.pubkey), ['new-order']);
    assert.deepEqual(actions(next, t.buyer.trade.pubkey), ['canceled']);
  });

  void test('escrow deadline guard: canceled stays, both told once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    ctx.lightning.info!.blockHeight = ctx.lightning.onlyInvoice().htlcExpiryHeight - 12;
    ctx.lightning.hangNext('cancelHoldInvoice');
    void guardEscrowDeadlines(ctx);
    await untilCancelCalled(ctx);

    const next = reboot(ctx);
    await bootTwice(next);
    await assertFinished(ctx, next, t);
    assert.equal((await reload(next, t.order.id)).status, 'canceled');
    assert.deepEqual(actions(next, t.seller.trade.pubkey), ['canceled']);
    assert.deepEqual(actions(next, t.buyer.trade.pubkey), ['canceled']);
  });

  void test('LND failing at boot: the decision stays open and the next escrow-deadline run finishes it', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancel(ctx, req('cancel', { id: t.order.id }), t.maker.inbound);
    await untilCancelCalled(ctx);

    const next = reboot(ctx);
    next.lightning.failNext('cancelHoldInvoice');
    next.lightning.failNext('lookupInvoice');
    const first = await finishOpenCancelDecisions(next);
    assert.deepEqual(first, { finished: 0, failed: 1, conflicts: 0, busy: 0 });
    assert.equal((await getCancelDecision(next.db, t.hash))?.done_at, null);
    assert.equal(next.outbox.sent.length, 0, 'nobody is told before the refund is confirmed');

    await guardEscrowDeadlines(next);
    assert.deepEqual(next.lightning.cancels, [t.hash]);
    assert.deepEqual(actions(next, t.maker.trade.pubkey), ['canceled']);
    assert.equal((await reload(next, t.order.id)).status, 'canceled');
  });

  void test('a decision whose order lock this process holds (a live cancel at work) is left to that path', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
    ctx.lightning.hangNext('cancelHoldInvoice');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    void ctx.locks.run(`order:${t.order.id}`, async () => {
      const p = cancel(ctx, req('cancel', { id: t.order.id }), t.maker.inbound);
      void p.catch(() => undefined);
      await held;
    });
    await untilCancelCalled(ctx);
    assert.deepEqual(await finishOpenCancelDecisions(ctx), { finished: 0, failed: 0, conflicts: 0, busy: 1 });
    assert.equal(ctx.lightning.cancels.length, 0);
    release();
  });

  void test('a cancel decision on an order with a settle decision is never executed', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice' });
    await recordCancelDecision(ctx.db, { hash: t.hash, order_id: t.order.id, reason: 'cancel', notices: null }, NOW);
    const summary = await finishOpenCancelDecisions(ctx);
    assert.deepEqual(summary, { finished: 0, failed: 0, conflicts: 1, busy: 0 });
    assert.equal(ctx.lightning.cancels.length, 0);
    assert.equal(ctx.lightning.invoices.get(t.hash)?.state, 'accepted');
  });
});

void describe('an escrow ACCEPTED behind a canceled order is refunded (defect 2)', () => {
  for (const status of ['canceled', 'cooperatively-canceled', 'expired', 'canceled-by-admin'] as const) {
    void test(`${status}: the seller pays after the cancel → CancelInvoice, state unchanged, nobody told twice`, async () => {
      const ctx = await makeTestContext({ now: NOW });
      const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
      watchEscrow(ctx, t.order, null);
      assert.ok(await casUpdateOrder(ctx.db, t.order.id, { status: 'waiting-payment' }, { status }));
      ctx.lightning.pay(t.hash);
      await ctx.tasks.idle();
      assert.deepEqual(ctx.lightning.cancels, [t.hash]);
      assert.equal((await reload(ctx, t.order.id)).status, status);
      assert.equal(ctx.outbox.sent.length, 0);
      assert.ok((await getCancelDecision(ctx.db, t.hash))?.done_at !== null);
    });
  }

  void test('after a taker reset the accepted escrow is found through the recorded decision', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
    ctx.lightning.hangNext('cancelHoldInvoice');
    void cancel(ctx, req('cancel', { id: t.order.id }), t.taker.inbound);
    await untilCancelCalled(ctx);
    ctx.lightning.pay(t.hash);
    const next = reboot(ctx);
    await onEscrowAccepted(next, t.hash, null);
    assert.deepEqual(next.lightning.cancels, [t.hash]);
    assert.equal((await reload(next, t.order.id)).status, 'pending');
    assert.deepEqual(actions(next, t.taker.trade.pubkey), ['canceled']);
    assert.deepEqual(actions(next, t.maker.trade.pubkey), ['new-order']);
  });

  void test('boot: a 0.17.1 canceled row whose escrow LND still holds is refunded; old or settled ones are left alone', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'canceled' });
    const old = await escrowedTrade(ctx, { status: 'canceled', order: { taken_at: NOW - 400_000, invoice_held_at: NOW - 400_000 } });
    await bootReconcile(ctx);
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.equal(ctx.lightning.invoices.get(old.hash)?.state, 'accepted', 'outside two CLTV windows: LND expired it long ago');
    assert.equal(ctx.outbox.sent.length, 0);
  });
});
