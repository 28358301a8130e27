/**
 * kill -9 of the BUILT daemon in the middle of a trade, then a restart: the trade finishes with
 * exactly one settle and one payout, every party is told. The LND simulator keeps running (it is
 * the node's LND) and changes state while the daemon is dead: the seller pays the escrow, or an
 * in-flight payout completes. At boot the daemon must look the escrow / payment up in LND.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeDatabase, openDatabase } from '../../../src/db/database.js';
import { getOrder } from '../../../src/db/orders.js';
import { buildMessage } from '../../../src/protocol/build.js';
import type { Action, Message, Payload } from '../../../src/protocol/types.js';
import { TestClient, type ClientKey } from '../../support/client.js';
import { startSandbox, type Sandbox } from '../../support/sandbox.js';
import { smallOrder } from '../../support/trade-fixtures.js';

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function msg(action: Action, id: string | undefined, opts: { tradeIndex?: bigint | null; payload?: Payload | null; requestId?: bigint } = {}): Message {
  return buildMessage({
    action,
    ...(id !== undefined ? { id } : {}),
    requestId: opts.requestId ?? 1n,
    tradeIndex: opts.tradeIndex ?? null,
    payload: opts.payload ?? null,
  });
}

interface Trade {
  orderId: string;
  escrowHash: string;
  payoutHash: string;
  seller: TestClient;
  buyer: TestClient;
  sk: ClientKey;
  bk: ClientKey;
}

void describe('kill -9 and restart mid-trade (built daemon, relay, LND simulator)', () => {
  let sb: Sandbox;
  const clients: TestClient[] = [];
  before(async () => {
    sb = await startSandbox({ startDaemon: false, echoLogs: process.env['E2E_ECHO'] === '1' });
    await start();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await sb.close();
  });

  /**
   * Start the daemon and wait until it can really serve a trade: 'mostrod ready' is logged before
   * the relay subscription is open and before the LND link is up (requests in that window are
   * lost or refused with not_allowed_by_status), so also wait for both.
   */
  async function start(): Promise<void> {
    const seen = sb.logs().length;
    await sb.startDaemon();
    const since = () => sb.logs().slice(seen).map((l) => l['msg']);
    await waitFor('relay connected and LND reconciled', () => {
      const m = since();
      return m.includes('relay connected') && m.includes('reconciliation with the lightning node done');
    });
  }

  async function client(): Promise<TestClient> {
    const c = await TestClient.connect({ relays: [sb.relay.url], mostroPubkey: sb.nodePubkey });
    clients.push(c);
    return c;
  }

  /** A sell order taken by a buyer with an invoice: waiting-payment, escrow open in LND. */
  async function takenOrder(): Promise<Trade> {
    const seller = await client();
    const buyer = await client();
    const sk = seller.tradeKey(1);
    const bk = buyer.tradeKey(1);
    await seller.send(msg('new-order', undefined, { tradeIndex: 1n, payload: { order: smallOrder({ amount: 20_000n, fiat_amount: 100n }) } }), { tradeKey: sk });
    const created = await seller.waitForAction(sk, 'new-order');
    const orderId = created.message.kind.id;
    assert.ok(orderId !== undefined);
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', orderId, { tradeIndex: 1n, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: bk });
    await seller.waitForAction(sk, 'pay-invoice');
    await buyer.waitForAction(bk, 'waiting-seller-to-pay');
    const escrow = [...sb.sim.invoices.values()].find((i) => i.memo.includes(orderId));
    assert.ok(escrow !== undefined, 'escrow hold invoice exists in LND');
    return { orderId, escrowHash: escrow.hash, payoutHash: payout.hash, seller, buyer, sk, bk };
  }

  async function restart(): Promise<void> {
    const code = await sb.stopDaemon('SIGKILL');
    assert.equal(code, null, 'killed by a signal');
    await start();
  }

  const settlesOf = (h: string) => sb.sim.settles.filter((x) => x === h).length;
  const paymentsOf = (h: string) => sb.sim.payments.filter((p) => p.hash === h).length;

  async function finish(t: Trade): Promise<void> {
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok');
    await t.seller.send(msg('release', t.orderId, { requestId: 8n }), { tradeKey: t.sk });
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 15_000);
  }

  void test('killed in waiting-payment; the seller pays while the daemon is dead; restart picks the escrow up from LND', async () => {
    const t = await takenOrder();
    await sb.stopDaemon('SIGKILL');
    sb.sim.payHoldInvoice(t.escrowHash);
    await start();
    await t.buyer.waitForAction(t.bk, 'hold-invoice-payment-accepted', 15_000);
    await t.seller.waitForAction(t.sk, 'buyer-took-order', 15_000);
    await finish(t);
    await waitFor('payout succeeded', () => sb.sim.paymentsByHash.get(t.payoutHash)?.status === 'SUCCEEDED');
    assert.equal(settlesOf(t.escrowHash), 1, 'one settle');
    assert.equal(paymentsOf(t.payoutHash), 1, 'one payout');
    assert.equal(t.seller.actions(t.sk).filter((a) => a === 'buyer-took-order').length, 1, 'seller told once');
  });

  void test('killed in active and again in fiat-sent: the trade resumes each time', async () => {
    const t = await takenOrder();
    sb.sim.payHoldInvoice(t.escrowHash);
    await t.buyer.waitForAction(t.bk, 'hold-invoice-payment-accepted', 15_000);
    await restart();
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok');
    await restart();
    await t.seller.send(msg('release', t.orderId, { requestId: 8n }), { tradeKey: t.sk });
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 15_000);
    await waitFor('payout succeeded', () => sb.sim.paymentsByHash.get(t.payoutHash)?.status === 'SUCCEEDED');
    assert.equal(settlesOf(t.escrowHash), 1);
    assert.equal(paymentsOf(t.payoutHash), 1);
  });

  void test('killed with the payout in flight; it completes while the daemon is dead; restart reconciles without paying twice', async () => {
    const t = await takenOrder();
    sb.sim.setPaymentOutcome(t.payoutHash, { kind: 'hang' });
    sb.sim.payHoldInvoice(t.escrowHash);
    await t.buyer.waitForAction(t.bk, 'hold-invoice-payment-accepted', 15_000);
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok');
    await t.seller.send(msg('release', t.orderId, { requestId: 8n }), { tradeKey: t.sk });
    await waitFor('payout in flight', () => sb.sim.paymentsByHash.get(t.payoutHash)?.status === 'IN_FLIGHT');
    assert.equal(settlesOf(t.escrowHash), 1);
    await sb.stopDaemon('SIGKILL');
    sb.sim.releasePayment(t.payoutHash, 'succeed');
    await start();
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 20_000);
    assert.equal(paymentsOf(t.payoutHash), 1, 'never sent twice');
    assert.equal(settlesOf(t.escrowHash), 1, 'never settled twice');
    const stopped = await sb.stopDaemon('SIGTERM');
    assert.equal(stopped, 0);
    const db = await openDatabase(`${sb.dir}/mostro.db`);
    try {
      assert.equal((await getOrder(db, t.orderId))?.status, 'success');
    } finally {
      await closeDatabase(db);
    }
    await start();
  });
});
