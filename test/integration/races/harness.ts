/**
 * Race-test harness: the real handlers, router and flows on a real SQLite database, with the REAL
 * LND backend (gRPC over TLS) talking to the in-process LND simulator. Only the outbox (memory),
 * clock (fake, started at wall time so the simulator's invoices are fresh) and prices are stand-ins.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { dispatch } from '../../../src/app/router.js';
import { adminTakeDispute } from '../../../src/app/handlers/admin-take-dispute.js';
import { dispute } from '../../../src/app/handlers/dispute.js';
import { fiatSent } from '../../../src/app/handlers/fiat-sent.js';
import { takeSell } from '../../../src/app/handlers/take-sell.js';
import { systemClock } from '../../../src/clock.js';
import type { AppContext } from '../../../src/context.js';
import { getDisputeByOrder } from '../../../src/db/disputes.js';
import { getOrder } from '../../../src/db/orders.js';
import type { OrderRow } from '../../../src/db/types.js';
import type { LightningBackend } from '../../../src/lightning/backend.js';
import { createLndBackend } from '../../../src/lightning/lnd/index.js';
import type { Message, Status } from '../../../src/protocol/types.js';
import { startLndSim, type LndSim } from '../../support/lnd-sim/sim.js';
import type { MemoryOutbox } from '../../support/memory-outbox.js';
import { inboundFor, makeTestContext, type TestContext } from '../../support/test-context.js';
import { createOrder, party, req, type Party } from '../../support/trade-fixtures.js';

export interface RaceHarness {
  sim: LndSim;
  /** Context with the real LND backend (use for everything that touches Lightning). */
  ctx: AppContext & { outbox: MemoryOutbox };
  /** Same db/outbox/clock with a FakeLightning (only for creating orders and parties). */
  base: TestContext;
  ln: LightningBackend;
  admin: Party;
  close(): Promise<void>;
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startRaceHarness(): Promise<RaceHarness> {
  const sim = await startLndSim();
  const base = await makeTestContext({ now: Math.floor(Date.now() / 1000), settings: { mostro: { fee: 0.006 } } });
  const ln = createLndBackend({
    host: sim.grpcHost,
    certPath: sim.certPath,
    macaroonPath: sim.macaroonPath,
    logger: pino({ level: 'silent' }),
    clock: systemClock,
    reconnect: { minMs: 50, maxMs: 200 },
    healthCheckMs: 500,
    resubscribeDelayMs: 30,
    callTimeoutMs: 5000,
  });
  await waitFor('LND link up', () => ln.state === 'up');
  const ctx = { ...base, lightning: ln };
  const adminKeys = { secretKey: ctx.keys.secretKey, pubkey: ctx.keys.pubkey };
  const admin: Party = { identity: adminKeys, trade: adminKeys, inbound: inboundFor(adminKeys, adminKeys) };
  return {
    sim,
    ctx,
    base,
    ln,
    admin,
    async close() {
      await ctx.tasks.idle();
      await ln.close();
      await sim.close();
      await ctx.db.destroy();
    },
  };
}

/** A fresh 10 000-sat sell order made by a new reputation-mode seller. */
export async function sellOrder(h: RaceHarness): Promise<{ order: OrderRow; seller: Party }> {
  const seller = await party(h.base);
  const order = await createOrder(h.base, seller, { kind: 'sell', amount: 10_000n, fiat_amount: 100n });
  return { order, seller };
}

/** A take-sell carrying a fresh buyer invoice; `payoutHash` is that invoice's payment hash. */
export function takeSellMsg(h: RaceHarness, id: string, requestId: bigint): { msg: Message; payoutHash: string } {
  const inv = h.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
  return {
    msg: req('take-sell', { id, requestId, tradeIndex: 1n, payload: { payment_request: [null, inv.paymentRequest, null] } }),
    payoutHash: inv.hash,
  };
}

/** Hold invoices the simulator holds for this order (the escrow memo names the order id). */
export function escrowsOf(sim: LndSim, orderId: string): { hash: string; state: string }[] {
  return [...sim.invoices.values()].filter((i) => i.memo.includes(orderId)).map((i) => ({ hash: i.hash, state: i.state }));
}

export async function reloadOrder(ctx: AppContext, id: string): Promise<OrderRow> {
  const o = await getOrder(ctx.db, id);
  assert.ok(o !== undefined, `order ${id} exists`);
  return o;
}

export async function waitStatus(ctx: AppContext, id: string, status: Status | readonly Status[]): Promise<OrderRow> {
  const want: readonly Status[] = typeof status === 'string' ? [status] : status;
  await waitFor(`order ${id} in ${want.join('|')}`, async () => want.includes((await reloadOrder(ctx, id)).status));
  return reloadOrder(ctx, id);
}

export function cantDoReasons(outbox: MemoryOutbox, to: string): string[] {
  return outbox
    .messagesTo(to)
    .filter((m) => m.kind.action === 'cant-do')
    .map((m) => {
      const p = m.kind.payload;
      return p !== null && 'cant_do' in p ? String(p.cant_do) : 'none';
    });
}

/**
 * A trade in `dispute` (buyer disputed after fiat-sent) whose dispute the admin has taken:
 * real escrow in the simulator, accepted by the seller's payment.
 */
export async function disputedTrade(h: RaceHarness): Promise<{ order: OrderRow; seller: Party; buyer: Party; payoutHash: string }> {
  const { order, seller } = await sellOrder(h);
  const buyer = await party(h.base);
  const inv = h.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
  await takeSell(h.ctx, req('take-sell', { id: order.id, requestId: 2n, tradeIndex: 1n, payload: { payment_request: [null, inv.paymentRequest, null] } }), buyer.inbound);
  const waiting = await reloadOrder(h.ctx, order.id);
  assert.equal(waiting.status, 'waiting-payment');
  assert.ok(waiting.hash !== null);
  h.sim.payHoldInvoice(waiting.hash);
  await waitStatus(h.ctx, order.id, 'active');
  await fiatSent(h.ctx, req('fiat-sent', { id: order.id, requestId: 3n }), buyer.inbound);
  await dispute(h.ctx, req('dispute', { id: order.id, requestId: 4n }), buyer.inbound);
  const d = await getDisputeByOrder(h.ctx.db, order.id);
  assert.ok(d !== undefined);
  await adminTakeDispute(h.ctx, req('admin-take-dispute', { id: d.id, requestId: 5n }), h.admin.inbound);
  const o = await reloadOrder(h.ctx, order.id);
  assert.equal(o.status, 'dispute');
  return { order: o, seller, buyer, payoutHash: inv.hash };
}

export { dispatch };
