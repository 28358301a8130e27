/**
 * Issue 12, defects 1 and 6: every payout claim has an identity of its own, so a stale answer about
 * an earlier attempt can never clear or fail a newer claim; a success LND reports always completes
 * the order (and is loud when it cannot); a Lightning-address invoice LND already knows is refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { addInvoice } from '../../../../src/app/handlers/add-invoice.js';
import { attemptPayout, reconcilePayouts, retryFailedPayouts, startPayout } from '../../../../src/app/flows/payout.js';
import { randomUUID } from 'node:crypto';
import { getDispute, insertDispute } from '../../../../src/db/disputes.js';
import { casUpdateOrder, findPayoutLostSuccesses } from '../../../../src/db/orders.js';
import type { PaymentResult } from '../../../../src/lightning/backend.js';
import { FakeLightning } from '../../../support/fake-lightning.js';
import { makeTestContext, signedInvoice, type TestContext, type TestContextOverrides } from '../../../support/test-context.js';
import { reload, req } from '../../../support/trade-fixtures.js';
import { AMOUNT, FEE, escrowedTrade } from '../trade-b-fixture.js';

const NOW = 1_700_000_000;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A trackPayment whose answer LND computes at one moment and which reaches us at a later one. */
interface SlowTrack {
  /** The call reached the node (the caller is waiting). */
  readonly asked: boolean;
  /** LND answers now (with its state at this moment). */
  answer(): void;
  /** The answer reaches the caller now. */
  deliver(): void;
}

/** FakeLightning whose next trackPayment is a slow RPC (see SlowTrack). */
class SlowTrackLightning extends FakeLightning {
  private next: { state: { asked: boolean }; answered: Deferred; delivered: Deferred } | null = null;

  slowNextTrack(): SlowTrack {
    const state = { asked: false };
    const answered = deferred();
    const delivered = deferred();
    this.next = { state, answered, delivered };
    return {
      get asked() {
        return state.asked;
      },
      answer: () => answered.resolve(),
      deliver: () => delivered.resolve(),
    };
  }

  override async trackPayment(hashHex: string): Promise<PaymentResult> {
    const slow = this.next;
    if (slow === null) return super.trackPayment(hashHex);
    this.next = null;
    slow.state.asked = true;
    await slow.answered.promise;
    const r = await super.trackPayment(hashHex);
    await slow.delivered.promise;
    return r;
  }
}

async function slowContext(overrides: TestContextOverrides = {}): Promise<TestContext & { lightning: SlowTrackLightning }> {
  const base = await makeTestContext({ now: NOW, ...overrides });
  return { ...base, lightning: new SlowTrackLightning() };
}

/** Let queued work run until `cond` holds (a bounded number of event-loop turns, no timers). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i += 1) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), `reached: ${what}`);
}

/** A logger that keeps every line (to assert that a lost success is logged at error). */
function capturingLogger(): { logger: Logger; lines: { level: number; msg: string; orderId?: string; hash?: string }[] } {
  const lines: { level: number; msg: string; orderId?: string; hash?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { logger, lines };
}

function succeededPayments(ctx: TestContext): number {
  return ctx.lightning.payments.filter((p) => p.result?.state === 'succeeded').length;
}

void describe('defect 1: a stale LND answer never clears or fails a newer claim (#881/#893)', () => {
  void test('attempt k fails, retry claims H for k+1, stale FAILED for k arrives, k+1 succeeds → paid once, success, no new invoice asked', async () => {
    // P = 2: a second counted failure would ask the buyer for a new invoice.
    const ctx = await slowContext({ settings: { lightning: { payment_attempts: 2 } } });
    const ln = ctx.lightning;
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ln.hashOf(t.invoice);
    ln.paymentPlans.push({ state: 'hang' }, { state: 'hang' });

    // Attempt k claims H and sends; the payment stays in flight.
    startPayout(ctx, t.order.id, 7n);
    await until(() => ln.payments.length === 1, 'attempt k sent');
    // Long enough that reconciliation may look at the claim.
    ctx.clock.advance(2 * ctx.settings.lightning.payment_timeout_seconds + 1);

    // Reconciliation lists the claim of attempt k and asks LND (a slow RPC).
    const track = ln.slowNextTrack();
    const reconciling = reconcilePayouts(ctx);
    await until(() => track.asked, 'reconcile asked LND');

    // Attempt k fails in LND; LND answers the pending query with FAILED (the answer is still on its way).
    ln.releasePayment(H, 'failed');
    await until(() => ctx.outbox.actions(t.buyer.trade.pubkey).includes('payment-failed'), 'attempt k failure recorded');
    track.answer();
    await until(() => ln.calls.filter((c) => c.method === 'trackPayment').length === 2, 'LND answered');

    // The retry job claims H again for attempt k+1 and sends it.
    ctx.clock.advance(ctx.settings.lightning.payment_retries_interval);
    const retrying = retryFailedPayouts(ctx);
    await until(() => ln.payments.length === 2, 'attempt k+1 sent');

    // The stale FAILED answer about attempt k arrives.
    track.deliver();
    const summary = await reconciling;
    assert.equal(summary.failed, 0, 'the stale answer resolved nothing');
    let o = await reload(ctx, t.order.id);
    assert.equal(o.payout_payment_hash, H, 'the claim of attempt k+1 is intact');
    assert.equal(o.payment_attempts, 1);

    // Attempt k+1 succeeds.
    ln.releasePayment(H, 'succeeded');
    assert.deepEqual(await retrying, ['succeeded']);
    await ctx.tasks.idle();

    // The buyer, had they been asked, would now send a new invoice; it must not be paid.
    const fresh = signedInvoice({ sats: AMOUNT - FEE, now: ctx.clock.now() });
    ln.registerPaymentRequest(fresh, { amountMsat: BigInt(AMOUNT - FEE) * 1000n });
    await addInvoice(ctx, req('add-invoice', { id: t.order.id, payload: { payment_request: [null, fresh, null] } }), t.buyer.inbound).catch(
      () => undefined,
    );
    await retryFailedPayouts(ctx);
    await reconcilePayouts(ctx);
    await ctx.tasks.idle();

    o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'success');
    assert.equal(o.payout_payment_hash, H);
    assert.equal(succeededPayments(ctx), 1, 'the buyer is paid exactly once');
    assert.equal(ln.payments.length, 2);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey).filter((a) => a !== 'cant-do'), [
      'payment-failed',
      'purchase-completed',
      'rate',
    ]);
  });
});

void describe('defect 1: LND SUCCEEDED always completes the order, and a lost success is never silent', () => {
  void test('a success arriving after its claim was resolved still completes the order; nothing pays again', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.defaultPlan = { state: 'hang' };
    const attempt = attemptPayout(ctx, t.order.id, 4n);
    await until(() => ctx.lightning.payments.length === 1, 'sent');
    // Whatever cleared the claim meanwhile, the buyer is about to be paid.
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, { payout_payment_hash: H }, { payout_payment_hash: null }));
    ctx.lightning.releasePayment(H, 'succeeded');
    assert.equal(await attempt, 'succeeded');
    const o = await reload(ctx, t.order.id);
    assert.deepEqual([o.status, o.payout_payment_hash, o.payout_lost_success_hash], ['success', H, null]);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), ['purchase-completed', 'rate']);
    await retryFailedPayouts(ctx);
    await reconcilePayouts(ctx, { graceSeconds: 0 });
    assert.equal(ctx.lightning.payments.length, 1);
  });

  void test('the same success reported twice (send result and reconciliation) completes the order once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.defaultPlan = { state: 'hang' };
    const attempt = attemptPayout(ctx, t.order.id, null);
    await until(() => ctx.lightning.payments.length === 1, 'sent');
    ctx.lightning.setPaymentResult(H, { hash: H, state: 'succeeded' });
    const s = await reconcilePayouts(ctx);
    assert.deepEqual([s.succeeded, s.lostSuccess], [1, 0]);
    ctx.lightning.releasePayment(H, 'succeeded');
    assert.equal(await attempt, 'skipped');
    assert.equal((await reload(ctx, t.order.id)).payout_lost_success_hash, null);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), ['purchase-completed', 'rate']);
  });

  void test('a success for an order already completed by another payment: error log with order and hash, recorded on the order, outcome lost-success', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = await makeTestContext({ now: NOW, logger });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.defaultPlan = { state: 'hang' };
    const attempt = attemptPayout(ctx, t.order.id, null);
    await until(() => ctx.lightning.payments.length === 1, 'sent');
    const other = 'ab'.repeat(32);
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, {}, { status: 'success', payout_payment_hash: other }));
    ctx.lightning.releasePayment(H, 'succeeded');
    assert.equal(await attempt, 'lost-success');
    const o = await reload(ctx, t.order.id);
    assert.deepEqual([o.status, o.payout_payment_hash, o.payout_lost_success_hash], ['success', other, H]);
    assert.deepEqual((await findPayoutLostSuccesses(ctx.db)).map((x) => x.id), [t.order.id], 'listed for operators');
    const critical = lines.filter((l) => l.level >= 50 && l.orderId === t.order.id && l.hash === H);
    assert.ok(critical.length >= 1, 'logged at error with the order id and the hash');
    assert.match(critical[0]!.msg, /paid twice/);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), [], 'no second purchase-completed');
  });

  void test('reconciliation counts a lost success in its summary', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ctx.lightning.hashOf(t.invoice);
    await casUpdateOrder(ctx.db, t.order.id, {}, { payout_payment_hash: H, payout_claimed_at: NOW, payout_claim_seq: 1 });
    // LND answers SUCCEEDED, but by the time the answer is applied the order left settled-hold-invoice.
    const ln = new SlowTrackLightning();
    const slowCtx: TestContext = { ...ctx, lightning: ln };
    ln.setPaymentResult(H, { hash: H, state: 'succeeded' });
    const track = ln.slowNextTrack();
    const reconciling = reconcilePayouts(slowCtx);
    await until(() => track.asked, 'asked');
    track.answer();
    await casUpdateOrder(ctx.db, t.order.id, {}, { status: 'canceled-by-admin' });
    track.deliver();
    const s = await reconciling;
    assert.deepEqual([s.succeeded, s.lostSuccess], [0, 1]);
    assert.equal((await reload(ctx, t.order.id)).payout_lost_success_hash, H);
  });
});

void describe('defect 1: every claim has an identity; writes about an older claim change nothing', () => {
  void test('each claim increments payout_claim_seq; a failure recorded for claim k does not touch claim k+1', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    ctx.lightning.paymentPlans.push({ state: 'failed' }, { state: 'hang' });
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'failed');
    let o = await reload(ctx, t.order.id);
    assert.deepEqual([o.payout_claim_seq, o.payout_payment_hash], [1, null]);
    const second = attemptPayout(ctx, t.order.id, null);
    await until(() => ctx.lightning.payments.length === 2, 'second attempt sent');
    o = await reload(ctx, t.order.id);
    assert.deepEqual([o.payout_claim_seq, o.payout_payment_hash], [2, ctx.lightning.hashOf(t.invoice)]);
    // Old claims are in the past: even after the grace a FAILED answer about the same hash is
    // applied only to the claim the reconciler listed (seq 2), which LND reports in flight.
    ctx.clock.advance(1000);
    assert.equal((await reconcilePayouts(ctx)).inFlight, 1);
    ctx.lightning.releasePayment(ctx.lightning.hashOf(t.invoice), 'succeeded');
    assert.equal(await second, 'succeeded');
  });

  void test('a claim younger than the grace is never failed or cleared by reconciliation', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ctx.lightning.hashOf(t.invoice);
    // A claim this instant whose payment LND has not registered yet.
    await casUpdateOrder(ctx.db, t.order.id, {}, { payout_payment_hash: H, payout_claimed_at: NOW, payout_claim_seq: 1 });
    for (const state of ['unknown', 'failed'] as const) {
      if (state === 'failed') ctx.lightning.setPaymentResult(H, { hash: H, state });
      const s = await reconcilePayouts(ctx);
      assert.deepEqual([s.failed, s.retried, s.deferred], [0, 0, 1], state);
      assert.equal((await reload(ctx, t.order.id)).payout_payment_hash, H, state);
    }
    assert.equal(ctx.lightning.payments.length, 0);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), []);
  });

  void test('send error and LND reports FAILED for an invoice that had already failed: not counted until reconciliation, then once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled', order: { failed_payment: 1, payment_attempts: 1 } });
    const H = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.setPaymentResult(H, { hash: H, state: 'failed' });
    ctx.lightning.paymentPlans.push({ state: 'throw' });
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'pending', 'cannot tell this attempt’s failure from the earlier one');
    assert.equal((await reload(ctx, t.order.id)).payment_attempts, 1);
    ctx.clock.advance(ctx.settings.lightning.payment_timeout_seconds * 2);
    assert.equal((await reconcilePayouts(ctx)).failed, 1);
    const o = await reload(ctx, t.order.id);
    assert.deepEqual([o.payment_attempts, o.payout_payment_hash], [2, null]);
  });
});

void describe('defect 6: a freshly resolved Lightning-address invoice LND already knows is refused', () => {
  for (const known of ['succeeded', 'in_flight', 'failed'] as const) {
    void test(`LND knows the resolved invoice as ${known} → failed attempt, order not paid, buyer told`, async () => {
      const { logger, lines } = capturingLogger();
      const ctx = await makeTestContext({ now: NOW, logger });
      const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
      const stale = signedInvoice({ sats: AMOUNT - FEE, now: NOW });
      ctx.lightning.registerPaymentRequest(stale, { amountMsat: BigInt(AMOUNT - FEE) * 1000n });
      const H = ctx.lightning.hashOf(stale);
      ctx.lightning.setPaymentResult(H, { hash: H, state: known });
      ctx.lnurl.invoices.set('buyer@example.com', stale);
      await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: 'buyer@example.com' });

      assert.equal(await attemptPayout(ctx, t.order.id, 6n), 'failed');
      const o = await reload(ctx, t.order.id);
      assert.deepEqual([o.status, o.payout_payment_hash, o.failed_payment, o.payment_attempts], ['settled-hold-invoice', null, 1, 1]);
      assert.equal(ctx.lightning.payments.length, 0);
      assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), ['payment-failed']);
      assert.ok(lines.some((l) => l.level >= 50 && l.hash === H && /already known to LND/.test(l.msg)), 'clear log');

      // The provider issues a fresh invoice next time: that one is paid.
      const fresh = signedInvoice({ sats: AMOUNT - FEE, now: NOW });
      ctx.lightning.registerPaymentRequest(fresh, { amountMsat: BigInt(AMOUNT - FEE) * 1000n });
      ctx.lnurl.invoices.set('buyer@example.com', fresh);
      assert.equal(await attemptPayout(ctx, t.order.id, null), 'succeeded');
      assert.equal(ctx.lightning.payments.length, 1);
      assert.equal(ctx.lightning.payments[0]!.request.paymentRequest, fresh);
    });
  }

  void test('a plain BOLT11 the buyer gave and LND already paid is still this order’s payout (at-most-once)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const H = ctx.lightning.hashOf(t.invoice);
    ctx.lightning.setPaymentResult(H, { hash: H, state: 'succeeded' });
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'succeeded');
    assert.equal(ctx.lightning.payments.length, 0);
  });

  void test('two orders paying the same invoice at the same time: one claim wins, the other is refused (one payment)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const a = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const b = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    await casUpdateOrder(ctx.db, b.order.id, {}, { buyer_invoice: a.invoice });
    const results = await Promise.all([attemptPayout(ctx, a.order.id, null), attemptPayout(ctx, b.order.id, null)]);
    assert.deepEqual([...results].sort(), ['failed', 'succeeded']);
    assert.equal(ctx.lightning.payments.length, 1);
    const rows = await Promise.all([reload(ctx, a.order.id), reload(ctx, b.order.id)]);
    assert.deepEqual(rows.map((r) => r.status).sort(), ['settled-hold-invoice', 'success']);
    assert.equal(rows.filter((r) => r.payout_payment_hash !== null).length, 1);
  });

  void test('a Lightning address resolving to another order’s buyer invoice is refused', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const a = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const b = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    ctx.lnurl.invoices.set('buyer@example.com', a.invoice);
    await casUpdateOrder(ctx.db, b.order.id, {}, { buyer_invoice: 'buyer@example.com' });
    assert.equal(await attemptPayout(ctx, b.order.id, null), 'failed');
    assert.equal(ctx.lightning.payments.length, 0);
    assert.equal(await attemptPayout(ctx, a.order.id, null), 'succeeded');
  });

  void test('an invoice whose hash is another order’s payout is refused (never "confirmed" by that payment)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const paid = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    assert.equal(await attemptPayout(ctx, paid.order.id, null), 'succeeded');
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    await casUpdateOrder(ctx.db, t.order.id, {}, { buyer_invoice: paid.invoice });
    assert.equal(await attemptPayout(ctx, t.order.id, null), 'failed');
    const o = await reload(ctx, t.order.id);
    assert.deepEqual([o.status, o.payout_payment_hash], ['settled-hold-invoice', null]);
    assert.equal(ctx.lightning.payments.length, 1);
  });
});

void describe('a release cut short after the settle (simulation finding F2)', () => {
  void test('escrow SETTLED, payout never started: reconciliation closes the dispute, re-sends the release notices and pays once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    const disputeId = randomUUID();
    await insertDispute(ctx.db, { id: disputeId, order_id: t.order.id, status: 'in-progress', order_previous_status: 'dispute', solver_pubkey: 'ab'.repeat(32), created_at: NOW, taken_at: NOW });
    const settleCalls = ctx.lightning.callsOf('settleHoldInvoice').length;
    const s = await reconcilePayouts(ctx);
    assert.deepEqual([s.resumed, s.settled], [1, 0]);
    await ctx.tasks.idle();
    assert.equal((await getDispute(ctx.db, disputeId))?.status, 'settled');
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey), ['released', 'purchase-completed', 'rate']);
    assert.deepEqual(ctx.outbox.actions(t.seller.trade.pubkey), ['hold-invoice-payment-settled', 'rate']);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal(ctx.lightning.callsOf('settleHoldInvoice').length, settleCalls, 'the settled escrow is not settled again');

    assert.equal((await reconcilePayouts(ctx)).resumed, 0);
    await retryFailedPayouts(ctx);
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal(ctx.outbox.actions(t.buyer.trade.pubkey).length, 3);
  });

  void test('not resumed while this process works on the order, nor once a payout attempt was made', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    // A release of this process still holds the order lock (it sends its own notices and payout).
    let leave!: () => void;
    const held = ctx.locks.run(`order:${t.order.id}`, () => new Promise<void>((r) => (leave = r)));
    assert.equal((await reconcilePayouts(ctx)).resumed, 0);
    leave();
    await held;
    assert.deepEqual(ctx.outbox.sent, []);

    // A failed attempt was counted: the retry job owns the order, no notices again.
    await casUpdateOrder(ctx.db, t.order.id, {}, { failed_payment: 1, payment_attempts: 1 });
    assert.equal((await reconcilePayouts(ctx)).resumed, 0);
    assert.deepEqual(ctx.outbox.sent, []);
    assert.equal(ctx.lightning.payments.length, 0);
  });
});
