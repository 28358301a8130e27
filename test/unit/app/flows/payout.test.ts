import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addInvoice } from '../../../../src/app/handlers/add-invoice.js';
import { KeyedLock } from '../../../../src/app/locks.js';
import {
  attemptPayout,
  reconcilePayouts,
  retryFailedPayouts,
  startPayout,
} from '../../../../src/app/flows/payout.js';
import { casUpdateOrder } from '../../../../src/db/orders.js';
import { TaskTracker } from '../../../../src/context.js';
import { MemoryOutbox } from '../../../support/memory-outbox.js';
import { makeTestContext, signedInvoice, type TestContext, type TestContextOverrides } from '../../../support/test-context.js';
import { lastOrderEvent, reload, req, tag } from '../../../support/trade-fixtures.js';
import { AMOUNT, FEE, escrowedTrade, type Trade } from '../trade-b-fixture.js';

const NOW = 1_700_000_000;

/** A released trade: escrow settled in LND, order persisted as settled-hold-invoice. */
async function released(overrides: TestContextOverrides = {}, order: Parameters<typeof escrowedTrade>[1] = {}) {
  const ctx = await makeTestContext({ now: NOW, ...overrides });
  const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled', ...order });
  return { ctx, t };
}

function buyerActions(ctx: TestContext, t: Trade) {
  return ctx.outbox.actions(t.buyer.trade.pubkey);
}

void describe('buyer payout: success (HANDLERS §5.1, PROTOCOL §6.2)', () => {
  void test('claim recorded before sending, one payment, success + purchase-completed + 38383 success + rate', async () => {
    const { ctx, t } = await released();
    const hash = ctx.lightning.hashOf(t.invoice);
    startPayout(ctx, t.order.id, 77n);
    await ctx.tasks.idle();

    assert.equal(ctx.lightning.payments.length, 1);
    const pay = ctx.lightning.payments[0]!.request;
    assert.equal(pay.paymentRequest, t.invoice);
    assert.equal(pay.amountSats, undefined, 'invoice carries its amount');
    assert.equal(pay.feeLimitSats, Math.trunc((AMOUNT - FEE) * 0.002));
    // LND was asked about the hash before paying.
    const methods = ctx.lightning.calls.map((c) => c.method);
    assert.ok(methods.indexOf('trackPayment') < methods.indexOf('sendPayment'));

    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'success');
    assert.equal(o.payout_payment_hash, hash);
    assert.equal(o.payout_claimed_at, NOW);
    const msgs = ctx.outbox.messagesTo(t.buyer.trade.pubkey);
    assert.deepEqual(msgs.map((m) => m.kind.action), ['purchase-completed', 'rate']);
    assert.equal(msgs[0]!.kind.request_id, null);
    assert.equal(msgs[1]!.kind.request_id, 77n, 'rate echoes the release request id');
    assert.equal(msgs[1]!.kind.id, t.order.id);
    assert.deepEqual(tag(lastOrderEvent(ctx, t.order.id)!, 's'), ['success']);
  });

  void test('amount-less invoice: amount − fee is sent explicitly', async () => {
    const { ctx, t } = await released();
    const inv = signedInvoice({ now: NOW });
    ctx.lightning.registerPaymentRequest(inv, { amountMsat: 0n });
    await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: inv });
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'succeeded');
    assert.equal(ctx.lightning.payments[0]!.request.amountSats, AMOUNT - FEE);
  });

  void test('Lightning address: resolved to a BOLT11 first; its hash is what gets claimed and paid', async () => {
    const { ctx, t } = await released();
    const resolved = signedInvoice({ sats: AMOUNT - FEE, now: NOW });
    ctx.lightning.registerPaymentRequest(resolved, { amountMsat: BigInt(AMOUNT - FEE) * 1000n });
    ctx.lnurl.invoices.set('buyer@example.com', resolved);
    await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: 'buyer@example.com' });
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'succeeded');
    assert.deepEqual(ctx.lnurl.resolutions, [{ target: 'buyer@example.com', amountSats: AMOUNT - FEE }]);
    assert.equal(ctx.lightning.payments[0]!.request.paymentRequest, resolved);
    assert.equal((await reload(ctx, t.order.id)).payout_payment_hash, ctx.lightning.hashOf(resolved));
  });

  void test('never pays while the escrow is not settled in LND', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice' }); // escrow still accepted
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'skipped');
    assert.equal(ctx.lightning.payments.length, 0);
    assert.equal((await reload(ctx, t.order.id)).payout_payment_hash, null);
  });

  void test('a payment LND already completed for this hash is not sent again', async () => {
    const { ctx, t } = await released();
    const hash = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.setPaymentResult(hash, { hash, state: 'succeeded' });
    assert.equal(await attemptPayout(ctx, t.order.id, 5n), 'succeeded');
    assert.equal(ctx.lightning.payments.length, 0);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });
});

void describe('buyer payout: failures and retries (HANDLERS §5.2–§5.3, PROTOCOL §6.3)', () => {
  void test('first failure → payment-failed {P−1, interval} echoing the request; claim cleared; counters 1/1', async () => {
    const { ctx, t } = await released();
    ctx.lightning.defaultPlan = { state: 'failed' };
    startPayout(ctx, t.order.id, 3876325412n);
    await ctx.tasks.idle();
    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'settled-hold-invoice');
    assert.equal(o.failed_payment, 1);
    assert.equal(o.payment_attempts, 1);
    assert.equal(o.payout_payment_hash, null);
    const msgs = ctx.outbox.messagesTo(t.buyer.trade.pubkey);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.kind.action, 'payment-failed');
    assert.equal(msgs[0]!.kind.request_id, 3876325412n);
    assert.deepEqual(msgs[0]!.kind.payload, { payment_failed: { payment_attempts: 2, payment_retries_interval: 60 } });
  });

  void test('retries up to P, then add-invoice; the new invoice from add-invoice is paid by the next retry', async () => {
    const { ctx, t } = await released();
    ctx.lightning.defaultPlan = { state: 'failed' };
    startPayout(ctx, t.order.id, 9n);
    await ctx.tasks.idle();
    await retryFailedPayouts(ctx); // attempt 2: no message
    assert.deepEqual(buyerActions(ctx, t), ['payment-failed']);
    assert.equal((await reload(ctx, t.order.id)).payment_attempts, 2);
    await retryFailedPayouts(ctx); // attempt 3 → add-invoice
    const msgs = ctx.outbox.messagesTo(t.buyer.trade.pubkey);
    assert.deepEqual(msgs.map((m) => m.kind.action), ['payment-failed', 'add-invoice']);
    assert.equal(msgs[1]!.kind.request_id, null, 'retries carry no request id');
    const p = msgs[1]!.kind.payload;
    assert.ok(p !== null && 'order' in p);
    assert.equal(p.order.status, 'settled-hold-invoice');
    assert.equal(p.order.amount, BigInt(AMOUNT - FEE));
    assert.equal(p.order.buyer_invoice, t.invoice);
    assert.equal(p.order.buyer_trade_pubkey, t.buyer.trade.pubkey);
    assert.equal(ctx.lightning.payments.length, 3);

    await retryFailedPayouts(ctx); // P reached: nothing more
    assert.equal(ctx.lightning.payments.length, 3);

    // The buyer sends a new invoice (H6's add-invoice, settled-hold-invoice branch).
    ctx.lightning.defaultPlan = { state: 'succeeded' };
    const fresh = signedInvoice({ sats: AMOUNT - FEE, now: NOW });
    ctx.lightning.registerPaymentRequest(fresh, { amountMsat: BigInt(AMOUNT - FEE) * 1000n });
    await addInvoice(ctx, req('add-invoice', { id: t.order.id, requestId: 12n, payload: { payment_request: [null, fresh, null] } }), t.buyer.inbound);
    assert.equal(buyerActions(ctx, t).at(-1), 'invoice-updated');
    await retryFailedPayouts(ctx);
    assert.equal(ctx.lightning.payments.length, 4);
    assert.equal(ctx.lightning.payments[3]!.request.paymentRequest, fresh);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.deepEqual(buyerActions(ctx, t).slice(-2), ['purchase-completed', 'rate']);
  });

  void test('early aborts count as failed attempts and tell the buyer (HQ-6): no invoice, unreachable address, wrong amount', async () => {
    for (const setup of ['no-invoice', 'address', 'wrong-amount'] as const) {
      const { ctx, t } = await released();
      if (setup === 'no-invoice') await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: null });
      if (setup === 'address') {
        ctx.lnurl.unreachable.add('buyer@down.example');
        await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: 'buyer@down.example' });
      }
      if (setup === 'wrong-amount') {
        const inv = signedInvoice({ sats: 5, now: NOW });
        ctx.lightning.registerPaymentRequest(inv, { amountMsat: 5000n });
        await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: inv });
      }
      assert.equal(await attemptPayout(ctx, t.order.id, 4n), 'failed', setup);
      assert.equal(ctx.lightning.payments.length, 0, setup);
      const o = await reload(ctx, t.order.id);
      assert.equal(o.failed_payment, 1, setup);
      assert.deepEqual(buyerActions(ctx, t), ['payment-failed'], setup);
    }
  });

  void test('P = 1: the first failure also asks for a new invoice', async () => {
    const { ctx, t } = await released({ settings: { lightning: { payment_attempts: 1 } } });
    ctx.lightning.defaultPlan = { state: 'failed' };
    await attemptPayout(ctx, t.order.id, null);
    assert.deepEqual(buyerActions(ctx, t), ['payment-failed', 'add-invoice']);
  });

  void test('a settled order whose payout never started (HQ-6) is resumed by reconciliation (notices first), not by the retry job', async () => {
    const { ctx, t } = await released();
    assert.deepEqual(await retryFailedPayouts(ctx), [], 'the retry job cannot know whether the release notices went out');
    assert.equal((await reconcilePayouts(ctx)).resumed, 1);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.deepEqual(buyerActions(ctx, t), ['released', 'purchase-completed', 'rate']);
  });

  void test('a payout started by a release (startPayout) whose attempt was cut short is retried by the retry job', async () => {
    const { ctx, t } = await released();
    ctx.lightning.failNext('lookupInvoice');
    startPayout(ctx, t.order.id, null);
    await ctx.tasks.idle();
    const o = await reload(ctx, t.order.id);
    assert.deepEqual([o.failed_payment, o.payout_claimed_at !== null], [1, true]);
    assert.deepEqual(await retryFailedPayouts(ctx), ['succeeded']);
    assert.equal((await reconcilePayouts(ctx)).resumed, 0);
  });
});

void describe('buyer payout: at most once across hangs and crashes (#881, #883)', () => {
  void test('a hanging payment does not block: the caller returns, other work proceeds, the result lands later', async () => {
    const { ctx, t } = await released();
    ctx.lightning.defaultPlan = { state: 'hang' };
    startPayout(ctx, t.order.id, 1n);
    // Let the claim happen.
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20 && ctx.lightning.payments.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal(ctx.tasks.size, 1, 'payout still running');
    // Other work on the same order is not blocked by the payment (lock not held while paying).
    const other = await ctx.locks.run(`order:${t.order.id}`, () => reload(ctx, t.order.id));
    assert.equal(other.payout_payment_hash, ctx.lightning.hashOf(t.invoice));
    // A retry tick meanwhile does not pay again.
    await retryFailedPayouts(ctx);
    assert.equal(ctx.lightning.payments.length, 1);
    ctx.lightning.releasePayment(ctx.lightning.hashOf(t.invoice), 'succeeded');
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('bounded by payment_timeout_seconds: the claim stays, reconcile finishes it once LND knows', async () => {
    const { ctx, t } = await released({ settings: { lightning: { payment_timeout_seconds: 0.05 } } });
    ctx.lightning.defaultPlan = { state: 'hang' };
    assert.equal(await attemptPayout(ctx, t.order.id, 2n), 'pending');
    const hash = ctx.lightning.hashOf(t.invoice);
    assert.equal((await reload(ctx, t.order.id)).payout_payment_hash, hash);
    assert.deepEqual(buyerActions(ctx, t), []);
    assert.deepEqual(await reconcilePayouts(ctx), { succeeded: 0, failed: 0, inFlight: 1, retried: 0, settled: 0, resumed: 0, deferred: 0, lostSuccess: 0 });
    ctx.lightning.releasePayment(hash, 'succeeded');
    assert.equal((await reconcilePayouts(ctx)).succeeded, 1);
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.deepEqual(buyerActions(ctx, t), ['purchase-completed', 'rate']);
  });

  void test('crash after the claim, payment in flight: a new process asks LND first and never pays twice', async () => {
    const { ctx, t } = await released();
    ctx.lightning.defaultPlan = { state: 'in_flight' };
    assert.equal(await attemptPayout(ctx, t.order.id, 3n), 'pending');
    const hash = ctx.lightning.hashOf(t.invoice);

    // "The process dies": a new context on the same DB and the same LND node.
    const ctx2: TestContext = { ...ctx, outbox: new MemoryOutbox(ctx.keys.secretKey, ctx.clock), locks: new KeyedLock(), tasks: new TaskTracker() };
    ctx.lightning.calls.length = 0;
    await retryFailedPayouts(ctx2);
    await reconcilePayouts(ctx2, { graceSeconds: 0 });
    assert.equal(ctx.lightning.payments.length, 1, 'nothing sent while LND says in flight');
    assert.deepEqual(ctx.lightning.calls.map((c) => c.method), ['trackPayment']);

    ctx.lightning.setPaymentResult(hash, { hash, state: 'succeeded' });
    assert.equal((await reconcilePayouts(ctx2, { graceSeconds: 0 })).succeeded, 1);
    await ctx2.tasks.idle();
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal((await reload(ctx2, t.order.id)).status, 'success');
    assert.deepEqual(ctx2.outbox.actions(t.buyer.trade.pubkey), ['purchase-completed', 'rate']);
  });

  void test('crash between claim and send: LND never saw the hash → after the grace the claim is cleared and paid once', async () => {
    const { ctx, t } = await released();
    const hash = ctx.lightning.hashOf(t.invoice);
    await casUpdateOrder(ctx.db, t.order.id, { payout_payment_hash: null }, { payout_payment_hash: hash, payout_claimed_at: NOW });
    await retryFailedPayouts(ctx);
    assert.equal(ctx.lightning.payments.length, 0, 'a claimed order is never paid by the retry job');
    assert.equal((await reconcilePayouts(ctx)).retried, 0, 'fresh claim: within the grace window');
    ctx.clock.advance(ctx.settings.lightning.payment_timeout_seconds * 2 + 1);
    assert.equal((await reconcilePayouts(ctx)).retried, 1);
    await ctx.tasks.idle();
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    await reconcilePayouts(ctx);
    await retryFailedPayouts(ctx);
    assert.equal(ctx.lightning.payments.length, 1);
  });

  void test('a claim LND reports FAILED → after the grace: failure accounting, claim cleared', async () => {
    const { ctx, t } = await released();
    ctx.lightning.defaultPlan = { state: 'in_flight' };
    await attemptPayout(ctx, t.order.id, null);
    const hash = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.setPaymentResult(hash, { hash, state: 'failed', failureReason: 'FAILURE_REASON_NO_ROUTE' });
    const young = await reconcilePayouts(ctx);
    assert.deepEqual([young.failed, young.deferred], [0, 1], 'a claim younger than the grace is not failed');
    assert.equal((await reload(ctx, t.order.id)).payout_payment_hash, hash);
    ctx.clock.advance(ctx.settings.lightning.payment_timeout_seconds * 2);
    assert.equal((await reconcilePayouts(ctx)).failed, 1);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.payout_payment_hash, null);
    assert.equal(o.failed_payment, 1);
    assert.deepEqual(buyerActions(ctx, t), ['payment-failed']);
  });

  void test('sendPayment throws and LND never saw it → counted as a failed attempt', async () => {
    const { ctx, t } = await released();
    ctx.lightning.defaultPlan = { state: 'throw' };
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'failed');
    assert.equal((await reload(ctx, t.order.id)).payout_payment_hash, null);
  });

  void test('interrupted settle (claimed settled-hold-invoice, escrow still held) is settled then paid by reconcile', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice' });
    const summary = await reconcilePayouts(ctx);
    assert.equal(summary.settled, 1);
    await ctx.tasks.idle();
    assert.deepEqual(ctx.lightning.settles, [t.hash]);
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
  });

  void test('two concurrent attempts on one order → one payment', async () => {
    const { ctx, t } = await released();
    const results = await Promise.all([attemptPayout(ctx, t.order.id, null), attemptPayout(ctx, t.order.id, null)]);
    assert.deepEqual(results.sort(), ['skipped', 'succeeded']);
    assert.equal(ctx.lightning.payments.length, 1);
  });
});
