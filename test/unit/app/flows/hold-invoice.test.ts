import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  createEscrow,
  onEscrowAccepted,
  rewatchOpenEscrows,
  watchEscrow,
} from '../../../../src/app/flows/hold-invoice.js';
import { insertOrder } from '../../../../src/db/orders.js';
import { TaskTracker } from '../../../../src/context.js';
import type { OrderRow } from '../../../../src/db/types.js';
import { CantDoError } from '../../../../src/errors.js';
import { makeOrder } from '../../../support/db.js';
import { makeTestContext, newKeys, type TestContext } from '../../../support/test-context.js';
import { onlyMessage, orderPayload, reload } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../trade-b-fixture.js';

const NOW = 1_700_000_000;
const BUYER = newKeys().pubkey;
const SELLER = newKeys().pubkey;

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function takenSell(ctx: TestContext, fields: Partial<OrderRow> = {}): Promise<OrderRow> {
  const o = makeOrder({
    kind: 'sell',
    status: 'pending',
    amount: 100_000,
    fee: 300,
    fiat_code: 'USD',
    fiat_amount: 50,
    creator_pubkey: SELLER,
    seller_pubkey: SELLER,
    master_seller_pubkey: 'd'.repeat(64),
    trade_index_seller: 1,
    created_at: NOW,
    expires_at: NOW + 86_400,
    ...fields,
  });
  await insertOrder(ctx.db, o);
  return { ...o, buyer_pubkey: BUYER, master_buyer_pubkey: 'e'.repeat(64), trade_index_buyer: 3, taken_at: NOW };
}

void describe('createEscrow', () => {
  void test('hold invoice parameters, CAS to waiting-payment, messages, watch', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { lightning: { hold_invoice_expiration_window: 3600 } } });
    const o = await takenSell(ctx);
    const out = await createEscrow(ctx, o, { buyerInvoice: 'b@wallet.test', requestId: 9n, fromStatus: 'pending' });
    const inv = ctx.lightning.onlyInvoice();
    assert.equal(inv.amountSats, 100_300);
    assert.equal(inv.cltvExpiry, 144);
    assert.equal(inv.expirySeconds, 3600, 'max(hold_invoice_expiration_window, expiration_seconds)');
    assert.equal(out.status, 'waiting-payment');
    assert.equal(out.hash, inv.hash);
    assert.equal(out.buyer_invoice, 'b@wallet.test');
    assert.equal(out.buyer_pubkey, BUYER);
    assert.equal(out.trade_index_buyer, 3);
    assert.equal(out.taken_at, NOW);
    assert.equal(ctx.lightning.watcherCount(inv.hash), 1);
    assert.equal(onlyMessage(ctx, SELLER).kind.action, 'pay-invoice');
    assert.equal(onlyMessage(ctx, BUYER).kind.action, 'waiting-seller-to-pay');
  });

  void test('lost compare-and-set: the unused invoice is canceled and the given reason is thrown; no messages', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await takenSell(ctx, { status: 'canceled' });
    await assert.rejects(
      createEscrow(ctx, o, { requestId: null, fromStatus: 'pending', lostRace: 'invalid_order_status' }),
      (e: unknown) => e instanceof CantDoError && e.reason === 'invalid_order_status',
    );
    assert.equal(ctx.lightning.onlyInvoice().state, 'canceled');
    assert.equal(ctx.outbox.sent.length, 0);
    assert.equal((await reload(ctx, o.id)).hash, null);
  });

  void test('an order that already has an escrow is never given a second one', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await takenSell(ctx);
    await createEscrow(ctx, o, { requestId: null, fromStatus: 'pending' });
    const again = await reload(ctx, o.id);
    await assert.rejects(createEscrow(ctx, again, { requestId: null, fromStatus: 'waiting-payment' }), CantDoError);
    assert.equal([...ctx.lightning.invoices.values()].filter((i) => i.state === 'open').length, 1);
  });

  void test('AddHoldInvoice failure → error propagates, order untouched', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await takenSell(ctx);
    ctx.lightning.failNext('addHoldInvoice');
    await assert.rejects(createEscrow(ctx, o, { requestId: null, fromStatus: 'pending' }));
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'pending');
    assert.equal(row.buyer_pubkey, null);
  });
});

void describe('onEscrowAccepted', () => {
  void test('with buyer invoice → active, invoice_held_at, messages carry the creating request id', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await createEscrow(ctx, await takenSell(ctx), { buyerInvoice: 'b@wallet.test', requestId: 9n, fromStatus: 'pending' });
    ctx.outbox.clear();
    ctx.clock.advance(30);
    ctx.lightning.pay(o.hash!);
    await ctx.tasks.idle();
    const row = await reload(ctx, o.id);
    assert.equal(row.status, 'active');
    assert.equal(row.invoice_held_at, NOW + 30);
    const took = onlyMessage(ctx, SELLER);
    assert.equal(took.kind.action, 'buyer-took-order');
    assert.equal(took.kind.request_id, 9n);
    assert.equal(took.kind.trade_index, null);
    assert.equal(orderPayload(took).status, 'active');
    assert.equal(orderPayload(took).amount, 100_300n);
    assert.equal(orderPayload(onlyMessage(ctx, BUYER)).amount, 99_700n);
  });

  void test('HQ-28: an ACCEPTED update for an order no longer in waiting-payment does not move it (a canceled one gets its escrow refunded)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await createEscrow(ctx, await takenSell(ctx), { buyerInvoice: 'b@wallet.test', requestId: 9n, fromStatus: 'pending' });
    await ctx.db.updateTable('orders').set({ status: 'canceled' }).execute();
    ctx.outbox.clear();
    await onEscrowAccepted(ctx, o.hash!, 9n);
    assert.equal((await reload(ctx, o.id)).status, 'canceled');
    assert.equal(ctx.outbox.sent.length, 0);
    assert.deepEqual(ctx.lightning.cancels, [o.hash], 'issue 12 defect 2: the seller is refunded at once');
  });

  void test('duplicate ACCEPTED notifications are processed once', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const o = await createEscrow(ctx, await takenSell(ctx), { buyerInvoice: 'b@wallet.test', requestId: 9n, fromStatus: 'pending' });
    watchEscrow(ctx, o, 9n); // a second watcher (e.g. boot re-watch racing the original)
    ctx.outbox.clear();
    ctx.lightning.pay(o.hash!);
    await ctx.tasks.idle();
    assert.equal(ctx.outbox.messagesTo(SELLER).length, 1);
    assert.equal(ctx.outbox.messagesTo(BUYER).length, 1);
  });
});

void describe('escrow canceled by the node', () => {
  void test('while the trade is live: logged as an error, not silently ignored; watcher removed', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = await makeTestContext({ now: NOW, logger });
    const o = await createEscrow(ctx, await takenSell(ctx), { buyerInvoice: 'b@wallet.test', requestId: null, fromStatus: 'pending' });
    ctx.lightning.pay(o.hash!);
    await ctx.tasks.idle();
    ctx.lightning.cancelByNode(o.hash!);
    await ctx.tasks.idle();
    assert.ok(lines.some((l) => l.level >= 50 && /canceled by the Lightning node while the trade is live/.test(l.msg)));
    assert.equal(ctx.lightning.watcherCount(o.hash!), 0);
    assert.equal((await reload(ctx, o.id)).status, 'active', 'state is left to the deadline guard');
  });
});

void describe('rewatchOpenEscrows (boot, HQ-19 fix)', () => {
  void test('an escrow accepted while we were down is processed; live ones are watched; final ones are not', async () => {
    const ctx = await makeTestContext({ now: NOW });
    // Order A: waiting-payment, seller paid while the daemon was down.
    const a = await createEscrow(ctx, await takenSell(ctx), { buyerInvoice: 'b@wallet.test', requestId: 1n, fromStatus: 'pending' });
    // Order B: active (already processed), invoice still accepted.
    const b = await createEscrow(ctx, await takenSell(ctx), { buyerInvoice: 'b@wallet.test', requestId: 2n, fromStatus: 'pending' });
    ctx.lightning.pay(b.hash!);
    await ctx.tasks.idle();

    // "Restart": a fresh context on the same DB and Lightning node, no watchers.
    const fresh: TestContext = { ...ctx, lightning: ctx.lightning, tasks: new TaskTracker() };
    const invA = ctx.lightning.invoices.get(a.hash!)!;
    invA.state = 'accepted'; // paid with nobody listening
    ctx.outbox.clear();
    const watchedBefore = ctx.lightning.watcherCount(a.hash!);
    const watched = await rewatchOpenEscrows(fresh);
    await fresh.tasks.idle();
    assert.equal(watched, 2);
    assert.equal((await reload(ctx, a.id)).status, 'active');
    assert.equal(ctx.outbox.messagesTo(SELLER).filter((m) => m.kind.action === 'buyer-took-order').length, 1, 'A processed exactly once');
    assert.equal(ctx.lightning.watcherCount(a.hash!), watchedBefore + 1);
    assert.ok(ctx.lightning.callsOf('lookupInvoice').includes(a.hash!), 'looked up by hash first');

    // A settled escrow is not watched again.
    ctx.lightning.invoices.get(b.hash!)!.state = 'settled';
    await ctx.db.updateTable('orders').set({ status: 'settled-hold-invoice' }).where('hash', '=', b.hash!).execute();
    const before = ctx.lightning.watcherCount(b.hash!);
    assert.equal(await rewatchOpenEscrows(fresh), 1);
    assert.equal(ctx.lightning.watcherCount(b.hash!), before);
  });
});

void describe('a SETTLED escrow behind a fiat-sent / dispute order (issue 12 defect 5)', () => {
  void test('boot: a 0.17.1 row (HQ-6) left fiat-sent with a settled escrow is released and the buyer paid once', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = await makeTestContext({ now: NOW, logger });
    const t = await escrowedTrade(ctx, { status: 'fiat-sent', escrow: 'settled' });
    await rewatchOpenEscrows(ctx);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 1);
    assert.equal(ctx.outbox.actions(t.buyer.trade.pubkey)[0], 'released');
    assert.deepEqual(ctx.outbox.actions(t.seller.trade.pubkey).slice(0, 2), ['hold-invoice-payment-settled', 'rate']);
    assert.ok(lines.some((l) => l.level >= 50 && l.msg.includes(t.order.id)));
    await rewatchOpenEscrows(ctx);
    await ctx.tasks.idle();
    assert.equal(ctx.lightning.payments.length, 1, 'a second boot pays nothing more');
  });

  void test('a settle that timed out and was reverted: the SETTLED update finishes the release', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'dispute', escrow: 'accepted', order: { seller_dispute: 1 } });
    watchEscrow(ctx, t.order, null);
    // LND settles after our call gave up (the claim was reverted to dispute).
    await ctx.lightning.settleHoldInvoice(t.preimage);
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    assert.equal(ctx.lightning.payments.length, 1);
  });
});
