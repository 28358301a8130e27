import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { getDisputeByOrder } from '../../../../src/db/disputes.js';
import { clockDeadline, deadlineVerdict, effectiveMargin, guardEscrowDeadlines } from '../../../../src/scheduler/jobs/escrow-deadline.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { lastOrderEvent, onlyMessage, reload, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../../app/trade-b-fixture.js';

const NOW = 1_700_000_000;
// FakeLightning: block height 1000; an escrow paid now expires at 1000 + 144 = 1144. Margin 12.
const EXPIRY = 1144;

function setHeight(ctx: TestContext, h: number): void {
  assert.ok(ctx.lightning.info);
  ctx.lightning.info.blockHeight = h;
}

function logCapture(): { lines: Array<{ level: number; msg: string }>; logger: Logger } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

void describe('deadlineVerdict', () => {
  const acc = { hash: 'h', state: 'accepted' as const, amountSats: 1, htlcExpiryHeight: EXPIRY };
  void test('due within the margin; gone when past expiry or canceled; nothing for open/unknown heights', () => {
    assert.deepEqual(deadlineVerdict(acc, EXPIRY - 13, 12), { due: false });
    assert.deepEqual(deadlineVerdict(acc, EXPIRY - 12, 12), { due: true, escrowGone: false, expiryHeight: EXPIRY });
    assert.deepEqual(deadlineVerdict(acc, EXPIRY, 12), { due: true, escrowGone: true, expiryHeight: EXPIRY });
    assert.deepEqual(deadlineVerdict({ ...acc, state: 'canceled' }, 0, 12), { due: true, escrowGone: true, expiryHeight: EXPIRY });
    assert.deepEqual(deadlineVerdict({ ...acc, state: 'open', htlcExpiryHeight: 0 }, 5000, 12), { due: false });
    assert.deepEqual(deadlineVerdict({ ...acc, htlcExpiryHeight: 0 }, 5000, 12), { due: false });
  });
});

void describe('escrow deadline guard (#862)', () => {
  void test('active trade near the CLTV deadline: canceled, seller refunded, both told, 38383 canceled', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    assert.equal(ctx.lightning.onlyInvoice().htlcExpiryHeight, EXPIRY);

    setHeight(ctx, EXPIRY - 13);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'active', 'not yet within the margin');
    assert.equal(ctx.outbox.sent.length, 0);

    setHeight(ctx, EXPIRY - 12);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.equal(ctx.lightning.onlyInvoice().state, 'canceled');
    for (const p of [t.buyer, t.seller]) {
      const m = onlyMessage(ctx, p.trade.pubkey);
      assert.equal(m.kind.action, 'canceled');
      assert.equal(m.kind.request_id, null);
    }
    const ev = lastOrderEvent(ctx, t.order.id);
    assert.ok(ev);
    assert.deepEqual(tag(ev, 's'), ['canceled']);

    await guardEscrowDeadlines(ctx);
    assert.equal(ctx.outbox.sent.length, 2, 'nothing more on the next run');
  });

  void test('fiat-sent near the deadline: dispute opened for the buyer, escrow kept, both told, 38386 initiated', async () => {
    const { lines, logger } = logCapture();
    const ctx = await makeTestContext({ now: NOW, logger });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    setHeight(ctx, EXPIRY - 5);
    await guardEscrowDeadlines(ctx);

    const o = await reload(ctx, t.order.id);
    assert.equal(o.status, 'dispute');
    assert.deepEqual([o.buyer_dispute, o.seller_dispute], [1, 0]);
    const d = await getDisputeByOrder(ctx.db, t.order.id);
    assert.ok(d);
    assert.deepEqual([d.status, d.order_previous_status, d.solver_pubkey, d.created_at], ['initiated', 'fiat-sent', null, NOW]);
    assert.equal(ctx.lightning.cancels.length, 0, 'escrow kept for the solver');
    assert.equal(ctx.lightning.onlyInvoice().state, 'accepted');
    const toBuyer = onlyMessage(ctx, t.buyer.trade.pubkey);
    const toSeller = onlyMessage(ctx, t.seller.trade.pubkey);
    assert.equal(toBuyer.kind.action, 'dispute-initiated-by-you');
    assert.equal(toSeller.kind.action, 'dispute-initiated-by-peer');
    for (const m of [toBuyer, toSeller]) {
      assert.equal(m.kind.id, t.order.id);
      assert.deepEqual(m.kind.payload, { dispute: [d.id, null] });
      assert.equal(m.kind.request_id, null);
    }
    const ev = ctx.outbox.eventsOfKind(38386);
    assert.equal(ev.length, 1);
    assert.deepEqual(tag(ev[0]!, 'd'), [d.id]);
    assert.deepEqual(tag(ev[0]!, 's'), ['initiated']);
    assert.deepEqual(tag(ev[0]!, 'initiator'), ['buyer']);

    // Disputed now: left to the solver, with a loud error on every run.
    lines.length = 0;
    await guardEscrowDeadlines(ctx);
    await guardEscrowDeadlines(ctx);
    assert.equal(ctx.outbox.sent.length, 2);
    assert.equal(ctx.outbox.eventsOfKind(38386).length, 1);
    assert.equal(lines.filter((l) => l.level >= 50 && l.msg.startsWith('ESCROW DEADLINE')).length, 2);
  });

  void test('an escrow LND already dropped on a live trade is resolved too (no refund call needed)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    ctx.lightning.cancelByNode(t.hash);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
    assert.equal(ctx.lightning.cancels.length, 0);
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'canceled');
    assert.equal(onlyMessage(ctx, t.seller.trade.pubkey).kind.action, 'canceled');
  });

  void test('LND cannot cancel a due escrow: the cancel is reverted and retried next run', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    setHeight(ctx, EXPIRY - 1);
    ctx.lightning.failNext('cancelHoldInvoice');
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.equal(ctx.outbox.sent.length, 0);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
  });

  void test('nothing happens with LND down, or for orders without an accepted escrow at stake', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const active = await escrowedTrade(ctx, { status: 'active' });
    const waiting = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'open' });
    const settled = await escrowedTrade(ctx, { status: 'settled-hold-invoice', escrow: 'settled' });
    setHeight(ctx, EXPIRY + 10);
    ctx.lightning.setState('down');
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, active.order.id)).status, 'active');
    ctx.lightning.setState('up');
    ctx.lightning.failNext('getInfo');
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, active.order.id)).status, 'active', 'no chain height, no action');

    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, active.order.id)).status, 'canceled');
    assert.equal((await reload(ctx, waiting.order.id)).status, 'waiting-payment');
    assert.equal((await reload(ctx, settled.order.id)).status, 'settled-hold-invoice');
  });
});

void describe('misconfigured margin and unknown HTLC expiry (issue 12 defect 4)', () => {
  void test('clockDeadline / effectiveMargin: (cltv − margin) × 600 s after invoice_held_at; margin ≥ cltv uses half the window', () => {
    assert.equal(clockDeadline(NOW, 144, 12), NOW + 132 * 600);
    assert.equal(clockDeadline(0, 144, 12), null);
    assert.equal(effectiveMargin(144, 12), 12);
    assert.equal(effectiveMargin(144, 144), 72);
    assert.equal(effectiveMargin(144, 500), 72);
    assert.equal(clockDeadline(NOW, 144, 200), NOW + 72 * 600);
  });

  void test('margin ≥ CLTV delta reaching the job: a freshly paid active trade is NOT canceled', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { lightning: { escrow_deadline_margin_blocks: 144 } } });
    const t = await escrowedTrade(ctx, { status: 'active' });
    const f = await escrowedTrade(ctx, { status: 'fiat-sent' });
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.equal((await reload(ctx, f.order.id)).status, 'fiat-sent');
    assert.equal(ctx.lightning.cancels.length, 0);
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('HTLC expiry height unknown: the clock from invoice_held_at cancels an active trade and disputes a fiat-sent one', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    const f = await escrowedTrade(ctx, { status: 'fiat-sent' });
    for (const h of [t.hash, f.hash]) ctx.lightning.invoices.get(h)!.htlcExpiryHeight = 0;
    const heldAt = NOW - 100; // the fixture's invoice_held_at
    const deadline = heldAt + (144 - 12) * 600;

    ctx.clock.set(deadline - 1);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'active', 'not yet');
    assert.equal((await reload(ctx, f.order.id)).status, 'fiat-sent', 'not yet');

    ctx.clock.set(deadline);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'canceled');
    assert.equal((await reload(ctx, f.order.id)).status, 'dispute');
    assert.equal(onlyMessage(ctx, f.buyer.trade.pubkey).kind.action, 'dispute-initiated-by-you');
    assert.equal(ctx.lightning.invoices.get(f.hash)?.state, 'accepted', 'escrow kept for the solver');
  });

  void test('chain tip unavailable (GetInfo fails): the same clock fallback acts', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'active' });
    ctx.clock.set(NOW - 100 + 132 * 600);
    ctx.lightning.failNext('getInfo');
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled');
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
  });

  void test('HTLC expiry unknown and invoice_held_at 0: nothing to measure, an ERROR names the order', async () => {
    const { lines, logger } = logCapture();
    const ctx = await makeTestContext({ now: NOW, logger });
    const t = await escrowedTrade(ctx, { status: 'active', order: { invoice_held_at: 0 } });
    ctx.lightning.invoices.get(t.hash)!.htlcExpiryHeight = 0;
    ctx.clock.advance(10 * 86_400);
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.ok(lines.some((l) => l.level >= 50 && l.msg.includes('cannot guard it')));
  });
});

void describe('an escrow LND reports SETTLED behind a live order (issue 12 defect 5)', () => {
  void test('fiat-sent: release finished — settled-hold-invoice, released / hold-invoice-payment-settled, buyer paid once, ERROR logged', async () => {
    const { lines, logger } = logCapture();
    const ctx = await makeTestContext({ now: NOW, logger });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent', escrow: 'settled' });
    await guardEscrowDeadlines(ctx);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 1, 'the buyer is paid once');
    assert.equal(ctx.lightning.payments[0]?.request.paymentRequest, t.invoice);
    assert.deepEqual(ctx.outbox.actions(t.buyer.trade.pubkey).slice(0, 1), ['released']);
    assert.deepEqual(ctx.outbox.actions(t.seller.trade.pubkey).slice(0, 2), ['hold-invoice-payment-settled', 'rate']);
    assert.ok(lines.some((l) => l.level >= 50 && l.msg.includes(t.order.id) && l.msg.startsWith('SETTLED ESCROW BEHIND A LIVE ORDER')));

    const sent = ctx.outbox.sent.length;
    await guardEscrowDeadlines(ctx);
    await ctx.tasks.idle();
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal(ctx.outbox.sent.length, sent, 'nothing more on the next run');
  });

  void test('dispute: the dispute is closed as settled (38386) and the buyer paid', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'dispute', escrow: 'settled', order: { buyer_dispute: 1 } });
    const { insertDispute } = await import('../../../../src/db/disputes.js');
    await insertDispute(ctx.db, {
      id: '0b0b5d2e-6a54-4d35-9c8f-0c1e3f0a9a11',
      order_id: t.order.id,
      status: 'in-progress',
      order_previous_status: 'fiat-sent',
      solver_pubkey: 'c'.repeat(64),
      created_at: NOW - 50,
      taken_at: NOW - 40,
    });
    await guardEscrowDeadlines(ctx);
    await ctx.tasks.idle();
    assert.equal((await getDisputeByOrder(ctx.db, t.order.id))?.status, 'settled');
    assert.deepEqual(tag(ctx.outbox.eventsOfKind(38386)[0]!, 's'), ['settled']);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 1);
  });

  void test('active (no release, no fiat claimed): not paid out, order untouched, an ERROR names the order on every run', async () => {
    const { lines, logger } = logCapture();
    const ctx = await makeTestContext({ now: NOW, logger });
    const t = await escrowedTrade(ctx, { status: 'active', escrow: 'settled' });
    await guardEscrowDeadlines(ctx);
    await guardEscrowDeadlines(ctx);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.equal(ctx.lightning.payments.length, 0);
    assert.equal(ctx.outbox.sent.length, 0);
    assert.equal(lines.filter((l) => l.level >= 50 && l.msg.includes(t.order.id) && l.msg.startsWith('SETTLED ESCROW WITHOUT A RELEASE')).length, 2);
  });
});

void describe('an ACCEPTED update that never arrived', () => {
  void test('waiting-payment with an escrow LND holds: the job applies it (active, both told once)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'waiting-payment', escrow: 'accepted' });
    await guardEscrowDeadlines(ctx);
    assert.equal((await reload(ctx, t.order.id)).status, 'active');
    assert.equal(onlyMessage(ctx, t.seller.trade.pubkey).kind.action, 'buyer-took-order');
    assert.equal(onlyMessage(ctx, t.buyer.trade.pubkey).kind.action, 'hold-invoice-payment-accepted');
    await guardEscrowDeadlines(ctx);
    assert.equal(ctx.outbox.sent.length, 2);
  });
});
