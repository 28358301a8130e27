import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Event } from 'nostr-tools/pure';
import { release } from '../../../../src/app/handlers/release.js';
import { KeyedLock } from '../../../../src/app/locks.js';
import { reconcilePayouts } from '../../../../src/app/flows/payout.js';
import { TaskTracker, type AppContext } from '../../../../src/context.js';
import { insertOrder } from '../../../../src/db/orders.js';
import { uuidToBlob } from '../../../../src/db/uuid-blob.js';
import type { OrderRow } from '../../../../src/db/types.js';
import type { LnurlResolver } from '../../../../src/lightning/lnurl.js';
import {
  DEV_FEE_LIGHTNING_ADDRESS,
  devFeeDestination,
  newDevFeeState,
  parseMarkerTimestamp,
  payDevFees,
  reconcileDevFees,
} from '../../../../src/scheduler/jobs/dev-fee.js';
import { makeOrder } from '../../../support/db.js';
import { FakeLightning } from '../../../support/fake-lightning.js';
import { MemoryOutbox } from '../../../support/memory-outbox.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { reload, req, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../../app/trade-b-fixture.js';

const NOW = 1_700_000_000;
const DEV_FEE = 20;

/** LNURL-pay stand-in: a fresh decodable invoice for every resolution (as a real service issues). */
class FreshInvoiceResolver implements LnurlResolver {
  readonly resolutions: { target: string; amountSats: number }[] = [];
  failing = false;
  private n = 0;

  constructor(private readonly ln: FakeLightning) {}

  check(): Promise<void> {
    return Promise.resolve();
  }

  resolveInvoice(target: string, amountSats: number): Promise<string> {
    this.resolutions.push({ target, amountSats });
    if (this.failing) return Promise.reject(new Error('lnurl service unreachable'));
    this.n += 1;
    const pr = `lnbcrt-devfee-${this.n}-${randomUUID()}`;
    this.ln.registerPaymentRequest(pr, { amountMsat: BigInt(amountSats) * 1000n });
    return Promise.resolve(pr);
  }
}

interface Setup {
  t: TestContext;
  app: AppContext;
  resolver: FreshInvoiceResolver;
}

async function setup(opts: Parameters<typeof makeTestContext>[0] = {}): Promise<Setup> {
  const t = await makeTestContext({ now: NOW, ...opts });
  const resolver = new FreshInvoiceResolver(t.lightning);
  return { t, resolver, app: { ...t, lnurl: resolver } };
}

/**
 * A finished trade owing a dev fee. Unless `fields` sets `hash`, its escrow is a hold invoice LND
 * reports SETTLED (the dev fee is only ever paid for those).
 */
async function payable(ctx: TestContext, fields: Partial<OrderRow> = {}): Promise<OrderRow> {
  let escrow: Partial<OrderRow> = {};
  if (!('hash' in fields)) {
    const preimage = randomBytes(32);
    const hash = createHash('sha256').update(preimage).digest('hex');
    await ctx.lightning.addHoldInvoice({ hash, amountSats: 10_030, memo: 'escrow', cltvExpiry: 144, expirySeconds: 3600 });
    ctx.lightning.pay(hash);
    await ctx.lightning.settleHoldInvoice(preimage.toString('hex'));
    escrow = { hash, preimage: preimage.toString('hex') };
  }
  const o = makeOrder({ status: 'success', amount: 10_000, fee: 30, dev_fee: DEV_FEE, ...escrow, ...fields });
  await insertOrder(ctx.db, o);
  return o;
}

function audits(outbox: MemoryOutbox): Event[] {
  return outbox.eventsOfKind(8383);
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i += 1) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'condition reached');
}

void describe('parseMarkerTimestamp (0.17.1 dev_fee.rs tests)', () => {
  const uuid = '8f5c3e1a-2b4d-4c6e-9f0a-1b2c3d4e5f60';
  void test('new format parsed; legacy, plain, non-numeric and too small → null', () => {
    assert.equal(parseMarkerTimestamp(`PENDING-${uuid}-1707700000`), 1707700000);
    assert.equal(parseMarkerTimestamp(`PENDING-${uuid}-${NOW}`), NOW);
    assert.equal(parseMarkerTimestamp(`PENDING-${uuid}`), null);
    assert.equal(parseMarkerTimestamp('PENDING'), null);
    assert.equal(parseMarkerTimestamp('PENDING-'), null);
    assert.equal(parseMarkerTimestamp('ab'.repeat(32)), null);
    assert.equal(parseMarkerTimestamp(`PENDING-${uuid}-abc`), null);
    assert.equal(parseMarkerTimestamp(`PENDING-${uuid}-12345`), null);
  });
});

void describe('devFeeDestination', () => {
  void test("mostrod's constant unless overridden on a non-mainnet node", async () => {
    const { t } = await setup();
    assert.equal(devFeeDestination(t), DEV_FEE_LIGHTNING_ADDRESS);
    const regtest = await makeTestContext({ settings: { mostro: { dev_fee_lightning_address: 'dev@127.0.0.1:9999' } } });
    assert.equal(devFeeDestination(regtest), 'dev@127.0.0.1:9999');
    const mainnet = await makeTestContext({ network: 'mainnet', settings: { mostro: { dev_fee_lightning_address: 'evil@example.com' } } });
    assert.equal(devFeeDestination(mainnet), DEV_FEE_LIGHTNING_ADDRESS);
    mainnet.lightning.info = null; // network unknown → the constant
    assert.equal(devFeeDestination(mainnet), DEV_FEE_LIGHTNING_ADDRESS);
  });
});

void describe('dev fee job (DAEMON §4.6, HANDLERS §5.4)', () => {
  void test('pays dev_fee once to the dev fund, records the hash, publishes one 8383 audit event', async () => {
    const { t, app, resolver } = await setup();
    const state = newDevFeeState();
    const o = await payable(t);
    await payable(t, { status: 'active', dev_fee: 20 }); // not settled yet: not payable
    await payable(t, { dev_fee: 0 }); // nothing to pay

    await payDevFees(app, { state });
    assert.deepEqual(resolver.resolutions, [{ target: DEV_FEE_LIGHTNING_ADDRESS, amountSats: DEV_FEE }]);
    assert.equal(t.lightning.payments.length, 1);
    const p = t.lightning.payments[0]!;
    assert.equal(p.request.amountSats, undefined, 'invoice carries the amount');
    assert.equal(p.request.feeLimitSats, 10, 'max(1%, 10 sats) below 1000 sats');
    const row = await reload(t, o.id);
    assert.equal(row.dev_fee_paid, 1);
    assert.equal(row.dev_fee_payment_hash, p.hash);
    const ev = audits(t.outbox);
    assert.equal(ev.length, 1);
    assert.deepEqual(tag(ev[0]!, 'order-id'), [o.id]);
    assert.deepEqual(tag(ev[0]!, 'amount'), ['20']);
    assert.deepEqual(tag(ev[0]!, 'hash'), [p.hash]);
    assert.deepEqual(tag(ev[0]!, 'destination'), [DEV_FEE_LIGHTNING_ADDRESS]);
    assert.deepEqual(tag(ev[0]!, 'network'), ['regtest']);
    assert.deepEqual(tag(ev[0]!, 'z'), ['dev-fee-payment']);

    t.clock.advance(60);
    await payDevFees(app, { state });
    t.clock.advance(60);
    await payDevFees(app, { state: newDevFeeState() }); // as after a restart: re-verified, not re-paid
    assert.equal(t.lightning.payments.length, 1, 'never paid twice');
    assert.equal(audits(t.outbox).length, 1, 'one audit event per paid order');
  });

  void test('a paid fee is verified with LND once: not asked again by later passes nor after a restart', async () => {
    const { t, app } = await setup();
    const state = newDevFeeState();
    const o = await payable(t);
    await payDevFees(app, { state });
    const hash = t.lightning.payments[0]!.hash;
    assert.notEqual((await t.db.selectFrom('orders').select('dev_fee_verified_at').where('id', '=', uuidToBlob(o.id)).executeTakeFirstOrThrow()).dev_fee_verified_at, null);
    const tracked = () => t.lightning.callsOf('trackPayment').filter((h) => h === hash).length;
    const before = tracked();
    t.clock.advance(60);
    await payDevFees(app, { state });
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(tracked(), before, 'a verified fee is never asked about again');
    assert.equal(t.lightning.payments.length, 1);
  });

  void test('crash between "payment sent" and "recorded": the next process confirms it — one payment, one audit', async () => {
    const { t, app } = await setup();
    const o = await payable(t);
    t.lightning.paymentPlans.push({ state: 'hang' });
    // Process 1 sends the payment and "dies" before the outcome is recorded.
    const job1 = payDevFees(app, { state: newDevFeeState() });
    await waitFor(() => t.lightning.payments.length === 1);
    const hash = t.lightning.payments[0]!.hash;
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, hash, 'hash recorded before sending');
    assert.equal((await reload(t, o.id)).dev_fee_paid, 0);

    // LND completes the payment while we are down. Process 2: same DB, same LND, fresh everything else.
    t.lightning.setPaymentResult(hash, { hash, state: 'succeeded', preimage: '00'.repeat(32) });
    const outbox2 = new MemoryOutbox(t.keys.secretKey, t.clock);
    const ctx2: AppContext = { ...app, outbox: outbox2, locks: new KeyedLock(), tasks: new TaskTracker() };
    const state2 = newDevFeeState();
    t.clock.advance(120);
    await payDevFees(ctx2, { state: state2 });
    t.clock.advance(60);
    await payDevFees(ctx2, { state: state2 });

    const row = await reload(t, o.id);
    assert.equal(row.dev_fee_paid, 1);
    assert.equal(row.dev_fee_payment_hash, hash);
    assert.equal(t.lightning.payments.length, 1, 'exactly one payment');
    assert.equal(audits(outbox2).length, 1, 'exactly one audit event');
    assert.deepEqual(tag(audits(outbox2)[0]!, 'hash'), [hash]);

    // The dead process's send finally returns (in flight): it records nothing more.
    await t.lightning.close();
    await job1;
    assert.equal(audits(t.outbox).length, 0);
    assert.equal(t.lightning.payments.length, 1);
    assert.equal((await reload(t, o.id)).dev_fee_paid, 1);
  });

  void test('Q22: a payment confirmed later (timeout/in-flight path) gets its audit event, exactly once', async () => {
    const { t, app } = await setup();
    const state = newDevFeeState();
    const o = await payable(t);
    t.lightning.paymentPlans.push({ state: 'in_flight' });
    await payDevFees(app, { state });
    const hash = t.lightning.payments[0]!.hash;
    assert.equal((await reload(t, o.id)).dev_fee_paid, 0);
    assert.equal(audits(t.outbox).length, 0);

    t.clock.advance(60);
    await payDevFees(app, { state }); // still in flight: nothing changes, nothing re-sent
    assert.equal(t.lightning.payments.length, 1);

    t.lightning.releasePayment(hash, 'succeeded');
    t.clock.advance(60);
    await payDevFees(app, { state });
    t.clock.advance(60);
    await payDevFees(app, { state });
    assert.equal((await reload(t, o.id)).dev_fee_paid, 1);
    assert.equal(audits(t.outbox).length, 1);
    assert.equal(t.lightning.payments.length, 1);
  });

  void test('Q23: a recorded hash LND never saw is cleared and the fee paid anew; an RPC error clears nothing', async () => {
    const { t, app } = await setup();
    const lost = randomBytes(32).toString('hex');
    const o = await payable(t, { dev_fee_payment_hash: lost });

    t.lightning.failNext('trackPayment');
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, lost, 'kept on an RPC error');
    assert.equal(t.lightning.payments.length, 0);

    await payDevFees(app, { state: newDevFeeState() });
    const row = await reload(t, o.id);
    assert.equal(t.lightning.payments.length, 1);
    assert.notEqual(row.dev_fee_payment_hash, lost);
    assert.equal(row.dev_fee_payment_hash, t.lightning.payments[0]!.hash);
    assert.equal(row.dev_fee_paid, 1);
    assert.equal(audits(t.outbox).length, 1);
  });

  void test('a send error in this process is not taken for "never sent" until the grace has passed', async () => {
    const { t, app } = await setup();
    const state = newDevFeeState();
    const o = await payable(t);
    t.lightning.paymentPlans.push({ state: 'throw' });
    await payDevFees(app, { state });
    const first = (await reload(t, o.id)).dev_fee_payment_hash;
    assert.ok(first !== null && !first.startsWith('PENDING-'));

    t.clock.advance(60);
    await payDevFees(app, { state });
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, first, 'within the grace: left alone');
    assert.equal(t.lightning.payments.length, 1);

    t.clock.advance(2 * 75);
    await payDevFees(app, { state });
    const row = await reload(t, o.id);
    assert.equal(row.dev_fee_paid, 1);
    assert.notEqual(row.dev_fee_payment_hash, first);
    assert.equal(t.lightning.payments.filter((p) => p.result?.state === 'succeeded').length, 1);
    assert.equal(audits(t.outbox).length, 1);
  });

  void test('a payment LND reports FAILED is cleared and retried with a fresh invoice', async () => {
    const { t, app, resolver } = await setup();
    const state = newDevFeeState();
    const o = await payable(t);
    t.lightning.paymentPlans.push({ state: 'failed' });
    await payDevFees(app, { state });
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, null);
    t.clock.advance(60);
    await payDevFees(app, { state });
    assert.equal(resolver.resolutions.length, 2);
    assert.equal((await reload(t, o.id)).dev_fee_paid, 1);
    assert.equal(audits(t.outbox).length, 1);
  });

  void test('stale claims: old and legacy markers cleared (then paid), a fresh claim left alone', async () => {
    const { t, app } = await setup();
    const uuid = randomUUID();
    const old = await payable(t, { dev_fee_payment_hash: `PENDING-${uuid}-${NOW - 301}` });
    const legacy = await payable(t, { dev_fee_payment_hash: `PENDING-${uuid}` });
    const freshMarker = `PENDING-${uuid}-${NOW - 10}`;
    const fresh = await payable(t, { dev_fee_payment_hash: freshMarker });
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal((await reload(t, old.id)).dev_fee_paid, 1);
    assert.equal((await reload(t, legacy.id)).dev_fee_paid, 1);
    assert.equal((await reload(t, fresh.id)).dev_fee_payment_hash, freshMarker);
    assert.equal(t.lightning.payments.length, 2);
  });

  void test('resolution failure or a reused invoice: claim released, nothing paid', async () => {
    const { t, app, resolver } = await setup();
    const o = await payable(t);
    resolver.failing = true;
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, null);
    assert.equal(t.lightning.payments.length, 0);

    // An LNURL service handing out an invoice LND already paid.
    const reused = 'lnbcrt-reused-invoice';
    const d = t.lightning.registerPaymentRequest(reused, { amountMsat: BigInt(DEV_FEE) * 1000n });
    t.lightning.setPaymentResult(d.hash, { hash: d.hash, state: 'succeeded' });
    const sameInvoice: LnurlResolver = { check: () => Promise.resolve(), resolveInvoice: () => Promise.resolve(reused) };
    await payDevFees({ ...app, lnurl: sameInvoice }, { state: newDevFeeState() });
    const row = await reload(t, o.id);
    assert.equal(row.dev_fee_payment_hash, null);
    assert.equal(row.dev_fee_paid, 0);
    assert.equal(t.lightning.payments.length, 0);
    assert.equal(audits(t.outbox).length, 0);
  });

  void test('skipped while the Lightning node is down; reconcileDevFees runs phase 3 only', async () => {
    const { t, app, resolver } = await setup();
    const o = await payable(t);
    t.lightning.setState('down');
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(resolver.resolutions.length, 0);
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, null);
    t.lightning.setState('up');

    const hash = randomBytes(32).toString('hex');
    const partial = await payable(t, { dev_fee_payment_hash: hash });
    t.lightning.setPaymentResult(hash, { hash, state: 'succeeded' });
    await reconcileDevFees(app, { state: newDevFeeState() });
    assert.equal((await reload(t, partial.id)).dev_fee_paid, 1);
    assert.equal(audits(t.outbox).length, 1);
    assert.equal(resolver.resolutions.length, 0, 'no new payment started by the reconciliation');
    assert.equal((await reload(t, o.id)).dev_fee_payment_hash, null);
  });
});

/** FakeLightning whose SettleInvoice, once armed, waits until the test lets it reach the node. */
class SlowSettleLightning extends FakeLightning {
  private gate: { entered: boolean; go: Promise<void>; open: () => void } | null = null;

  holdSettle(): { readonly entered: boolean; open: () => void } {
    let open!: () => void;
    const go = new Promise<void>((r) => {
      open = r;
    });
    const gate = { entered: false, go, open };
    this.gate = gate;
    return {
      get entered() {
        return gate.entered;
      },
      open,
    };
  }

  override async settleHoldInvoice(preimageHex: string): Promise<void> {
    const gate = this.gate;
    if (gate !== null) {
      this.gate = null;
      gate.entered = true;
      await gate.go;
    }
    return super.settleHoldInvoice(preimageHex);
  }
}

void describe('issue 12 defect 3: the dev fee is paid only for escrows LND reports SETTLED', () => {
  void test('release claimed settled-hold-invoice, SettleInvoice fails (HTLC canceled meanwhile) → no dev fee, ever', async () => {
    const base = await makeTestContext({ now: NOW });
    const ln = new SlowSettleLightning();
    const t: TestContext = { ...base, lightning: ln };
    const resolver = new FreshInvoiceResolver(ln);
    const app: AppContext = { ...t, lnurl: resolver };
    const trade = await escrowedTrade(t, { status: 'fiat-sent', order: { dev_fee: DEV_FEE } });

    // The seller releases: the order is claimed settled-hold-invoice, the settle is on its way.
    const gate = ln.holdSettle();
    const releasing = release(t, req('release', { id: trade.order.id, requestId: 1n }), trade.seller.inbound).then(
      () => 'released',
      (err: unknown) => (err as Error).name,
    );
    await waitFor(() => gate.entered);
    assert.equal((await reload(t, trade.order.id)).status, 'settled-hold-invoice');

    // The dev-fee job runs in that window.
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(ln.payments.length, 0, 'not paid while the escrow is only held');
    assert.equal(resolver.resolutions.length, 0);

    // The HTLC is canceled before the settle reaches LND: the settle fails, the release is reverted.
    ln.cancelByNode(trade.hash);
    gate.open();
    assert.equal(await releasing, 'CantDoError');
    t.clock.advance(60);
    await payDevFees(app, { state: newDevFeeState() });
    const row = await reload(t, trade.order.id);
    assert.deepEqual([row.dev_fee_paid, row.dev_fee_payment_hash], [0, null]);
    assert.equal(ln.payments.length, 0);
    assert.equal(audits(t.outbox).length, 0);
  });

  void test('crash between the release claim and SettleInvoice, escrow later canceled by LND → no dev fee', async () => {
    const { t, app, resolver } = await setup();
    const trade = await escrowedTrade(t, { status: 'settled-hold-invoice', escrow: 'accepted', order: { dev_fee: DEV_FEE } });
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(t.lightning.payments.length, 0, 'escrow still held: not paid');
    t.lightning.cancelByNode(trade.hash);
    await reconcilePayouts(t); // cannot settle a canceled escrow
    t.clock.advance(60);
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(t.lightning.payments.length, 0);
    assert.equal(resolver.resolutions.length, 0);
    assert.equal((await reload(t, trade.order.id)).dev_fee_paid, 0);
  });

  void test('an order whose hold invoice LND does not know, or without one, is not paid; once LND settles the escrow it is', async () => {
    const { t, app } = await setup();
    const unknown = await payable(t, { hash: randomBytes(32).toString('hex') });
    const none = await payable(t, { hash: null });
    const held = await escrowedTrade(t, { status: 'settled-hold-invoice', escrow: 'accepted', order: { dev_fee: DEV_FEE } });
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(t.lightning.payments.length, 0);
    for (const id of [unknown.id, none.id, held.order.id]) assert.equal((await reload(t, id)).dev_fee_payment_hash, null);

    await t.lightning.settleHoldInvoice(held.preimage);
    t.clock.advance(60);
    await payDevFees(app, { state: newDevFeeState() });
    assert.equal(t.lightning.payments.length, 1);
    assert.equal((await reload(t, held.order.id)).dev_fee_paid, 1);
  });
});
