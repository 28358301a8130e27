/**
 * Relay and price-API faults against the BUILT daemon: a relay that goes away and comes back
 * (reconnect, resubscribe, republish), a relay that refuses events for a while (retried), and the
 * price API down / returning garbage / going stale (clear cant-do for market-price orders, fixed
 * orders unaffected, no crash).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { startSandbox } from '../../support/sandbox.js';
import { smallOrder } from '../../support/trade-fixtures.js';
import { cantDoReason, harness, logsSince, msg, orderStatus, startDaemon, waitFor, type Harness, type Trade } from './faults-support.js';

const STALENESS_S = 4;

function tag(e: NostrEvent, name: string): string | undefined {
  return e.tags.find((t) => t[0] === name)?.[1];
}

void describe('faults: relay and price API (built daemon, relay, LND simulator)', () => {
  let h: Harness;
  before(async () => {
    const sb = await startSandbox({
      startDaemon: false,
      echoLogs: process.env['E2E_ECHO'] === '1',
      settings: { mostro: { max_price_staleness_seconds: STALENESS_S, exchange_rates_update_interval_seconds: 60 } },
    });
    h = harness(sb);
  });
  after(async () => {
    await h.close();
  });

  /** A market-price sell order; resolves with the daemon's answer. */
  async function marketOrder(): Promise<{ action: string; reason: string | null }> {
    const c = await h.client();
    const k = c.tradeKey();
    await c.send(msg('new-order', undefined, { tradeIndex: BigInt(k.index), requestId: 11n, payload: { order: smallOrder({ amount: 0n, fiat_amount: 100n }) } }), { tradeKey: k });
    const r = await c.waitFor((x) => x.to === k.pubkey, 10_000);
    return { action: r.message.kind.action, reason: cantDoReason(r) };
  }

  const priceLogs = (seen: number, prefix: string) => logsSince(h.sb, seen).filter((l) => String(l['msg']).startsWith(prefix)).length;

  void test('price API down, then garbage, then fine but going stale: market orders get cant-do invalid_amount, fixed orders work', async () => {
    const { sb } = h;
    // down at start: no price at all
    sb.prices.mode = 'down';
    let seen = sb.logs().length;
    await startDaemon(sb);
    await waitFor('failed price fetch', () => priceLogs(seen, 'Failed to update Bitcoin prices') >= 1);
    assert.deepEqual(await marketOrder(), { action: 'cant-do', reason: 'invalid_amount' });
    const fixed = await h.sellOrder();
    assert.equal(orderStatus(sb, fixed.orderId), 'pending');

    // garbage body
    sb.prices.mode = 'garbage';
    seen = sb.logs().length;
    await sb.stopDaemon('SIGKILL');
    await startDaemon(sb);
    await waitFor('failed price fetch', () => priceLogs(seen, 'Failed to update Bitcoin prices') >= 1);
    assert.deepEqual(await marketOrder(), { action: 'cant-do', reason: 'invalid_amount' });

    // a good answer: market orders work — until the cached price is older than the staleness bound
    sb.prices.mode = 'ok';
    seen = sb.logs().length;
    await sb.stopDaemon('SIGKILL');
    await startDaemon(sb);
    await waitFor('price fetched', () => priceLogs(seen, 'Bitcoin prices updated') >= 1);
    const fetchedAt = Date.now();
    sb.prices.mode = 'garbage';
    assert.deepEqual(await marketOrder(), { action: 'new-order', reason: null });
    // no refresh before 60 s: the price goes stale after STALENESS_S (real time: the daemon is a real process)
    await waitFor('price stale', () => Date.now() > fetchedAt + (STALENESS_S + 1) * 1000, (STALENESS_S + 3) * 1000);
    assert.deepEqual(await marketOrder(), { action: 'cant-do', reason: 'invalid_amount' });
    const fixed2 = await h.sellOrder();
    assert.equal(orderStatus(sb, fixed2.orderId), 'pending');
    assert.ok(sb.daemon !== null && sb.daemon.child.exitCode === null, 'daemon still running');
    sb.prices.mode = 'ok';
  });

  const successEvents = (orderId: string) =>
    h.sb.relay.events().filter((e) => e.kind === 38383 && tag(e, 'd') === orderId && tag(e, 's') === 'success').length;

  /** Released with the payout hanging in LND (settle done, status settled-hold-invoice). */
  async function releasedWithHangingPayout(t: Trade): Promise<void> {
    h.sb.sim.setPaymentOutcome(t.payoutHash, { kind: 'hang' });
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
    await t.seller.waitForAction(t.sk, 'fiat-sent-ok', 10_000);
    await t.seller.send(msg('release', t.orderId, { requestId: 8n }), { tradeKey: t.sk });
    await waitFor('payout in flight', () => h.sb.sim.paymentsByHash.get(t.payoutHash)?.status === 'IN_FLIGHT');
  }

  void test('a relay that goes away and comes back: reconnect, resubscribe, and what was sent or published meanwhile arrives', async () => {
    const { sb } = h;
    const t = await h.takenOrder();
    // 1. down while the seller pays: both parties' messages arrive after the reconnect
    let seen = sb.logs().length;
    await sb.relay.stop();
    await waitFor('daemon notices the relay is gone', () => logsSince(sb, seen).some((l) => l['msg'] === 'relay disconnected'));
    sb.sim.payHoldInvoice(t.escrowHash);
    await waitFor('order active', () => orderStatus(sb, t.orderId) === 'active');
    await sb.relay.restart();
    await waitFor('daemon reconnected', () => logsSince(sb, seen).some((l) => l['msg'] === 'relay connected'), 15_000);
    await t.buyer.waitForAction(t.bk, 'hold-invoice-payment-accepted', 20_000);
    await t.seller.waitForAction(t.sk, 'buyer-took-order', 20_000);

    // 2. the subscription is back (requests answered); down again while the payout completes:
    //    purchase-completed and the 38383 `success` event arrive after the reconnect
    await releasedWithHangingPayout(t);
    seen = sb.logs().length;
    await sb.relay.stop();
    await waitFor('daemon notices the relay is gone', () => logsSince(sb, seen).some((l) => l['msg'] === 'relay disconnected'));
    sb.sim.releasePayment(t.payoutHash, 'succeed');
    await waitFor('order success in DB', () => orderStatus(sb, t.orderId) === 'success');
    assert.equal(successEvents(t.orderId), 0, 'nothing reached the stopped relay');
    await sb.relay.restart();
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 20_000);
    await waitFor('38383 success republished', () => successEvents(t.orderId) === 1, 35_000);
    assert.equal(h.settlesOf(t.escrowHash), 1);
    assert.equal(h.paymentsOf(t.payoutHash), 1);
    // and a fresh request is answered
    const o = await h.sellOrder();
    assert.equal(orderStatus(sb, o.orderId), 'pending');
  });

  void test('a relay that refuses events for a while: the reply and the order event are retried and arrive', async () => {
    const { sb } = h;
    const t = await h.takenOrder();
    await h.payEscrow(t);
    await releasedWithHangingPayout(t);
    sb.relay.setMode('refuse');
    sb.sim.releasePayment(t.payoutHash, 'succeed');
    await waitFor('order success in DB', () => orderStatus(sb, t.orderId) === 'success');
    // keep refusing long enough for a first attempt and one retry (message retries: 0.5 s, 1 s, 2 s, 4 s)
    await new Promise((r) => setTimeout(r, 1200));
    assert.ok(!t.buyer.actions(t.bk).includes('purchase-completed'), 'nothing got through while refusing');
    assert.equal(successEvents(t.orderId), 0);
    sb.relay.setMode('accept');
    await t.buyer.waitForAction(t.bk, 'purchase-completed', 15_000);
    await waitFor('38383 success retried', () => successEvents(t.orderId) === 1, 35_000);
    assert.equal(h.settlesOf(t.escrowHash), 1);
    assert.equal(h.paymentsOf(t.payoutHash), 1);
  });
});
