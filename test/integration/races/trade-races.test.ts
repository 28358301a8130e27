/**
 * Requests that race on one order, on real components: handlers + router + SQLite + the LND backend
 * over gRPC against the LND simulator. Each race is run twice: through the router (serialised by
 * the per-order lock, as intake and the admin RPC do) and by calling the handlers concurrently
 * without the lock (so the compare-and-set in the handlers is what decides). Either way: exactly
 * one outcome, the losers get the spec's cant-do, and LND's escrow agrees with the database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminCancel } from '../../../src/app/handlers/admin-cancel.js';
import { cancel } from '../../../src/app/handlers/cancel.js';
import { release } from '../../../src/app/handlers/release.js';
import { takeSell } from '../../../src/app/handlers/take-sell.js';
import type { Message } from '../../../src/protocol/types.js';
import type { Inbound } from '../../../src/app/inbound.js';
import { party, req } from '../../support/trade-fixtures.js';
import {
  cantDoReasons,
  dispatch,
  disputedTrade,
  escrowsOf,
  reloadOrder,
  sellOrder,
  startRaceHarness,
  takeSellMsg,
  waitFor,
  waitStatus,
  type RaceHarness,
} from './harness.js';

type Mode = 'router' | 'no-lock';

/** Run a request either through the router (cant-do → reply) or straight into its handler. */
async function send(
  h: RaceHarness,
  mode: Mode,
  handler: (ctx: RaceHarness['ctx'], m: Message, i: Inbound) => Promise<void>,
  msg: Message,
  inbound: Inbound,
): Promise<'ok' | string> {
  if (mode === 'router') {
    const before = cantDoReasons(h.ctx.outbox, inbound.tradeKey).length;
    await dispatch(h.ctx, msg, inbound);
    const after = cantDoReasons(h.ctx.outbox, inbound.tradeKey);
    return after.length > before ? (after.at(-1) ?? 'none') : 'ok';
  }
  try {
    await handler(h.ctx, msg, inbound);
    return 'ok';
  } catch (err) {
    const reason = (err as { reason?: unknown }).reason;
    if (typeof reason === 'string') return reason;
    throw err;
  }
}

void describe('races on one order (real LND backend ↔ simulator)', () => {
  let h: RaceHarness;
  before(async () => {
    h = await startRaceHarness();
  });
  after(async () => {
    await h.close();
  });

  for (const mode of ['router', 'no-lock'] as const) {
    void test(`[${mode}] eight takers at once: exactly one wins, the others get invalid_order_status; the winner's trade completes with one settle and one payout`, async () => {
      const { order, seller } = await sellOrder(h);
      const takers = await Promise.all(Array.from({ length: 8 }, () => party(h.base)));
      const msgs = takers.map((_, i) => takeSellMsg(h, order.id, BigInt(100 + i)));
      const results = await Promise.all(takers.map((t, i) => send(h, mode, takeSell, msgs[i]!.msg, t.inbound)));

      const winners = results.flatMap((r, i) => (r === 'ok' ? [i] : []));
      assert.equal(winners.length, 1, `one winner: ${results.join(',')}`);
      const w = winners[0]!;
      for (const [i, r] of results.entries()) if (i !== w) assert.equal(r, 'invalid_order_status');
      const winner = takers[w]!;

      const o = await reloadOrder(h.ctx, order.id);
      assert.equal(o.status, 'waiting-payment');
      assert.equal(o.buyer_pubkey, winner.trade.pubkey);
      assert.ok(o.hash !== null);
      // LND: the order's escrow is the only one still open; any invoice a loser created is canceled.
      const escrows = escrowsOf(h.sim, order.id);
      assert.deepEqual(escrows.filter((e) => e.state === 'OPEN').map((e) => e.hash), [o.hash]);
      for (const e of escrows) if (e.hash !== o.hash) assert.ok(h.sim.cancels.includes(e.hash), 'loser escrow canceled');
      if (mode === 'router') assert.equal(escrows.length, 1, 'the lock refuses losers before LND is asked');
      else assert.ok(escrows.length >= 2, 'without the lock the takers really raced into LND');

      // Who was told what: the winner waits for the seller, the seller got one pay-invoice.
      assert.deepEqual(h.ctx.outbox.actions(winner.trade.pubkey), ['waiting-seller-to-pay']);
      assert.deepEqual(h.ctx.outbox.actions(seller.trade.pubkey).filter((a) => a === 'pay-invoice'), ['pay-invoice']);
      for (const [i, t] of takers.entries()) {
        if (i === w) continue;
        if (mode === 'router') assert.deepEqual(h.ctx.outbox.actions(t.trade.pubkey), ['cant-do']);
        else assert.deepEqual(h.ctx.outbox.actions(t.trade.pubkey), []);
      }

      // Finish it: seller pays, buyer fiat-sent, seller releases → one settle, one payout.
      h.sim.payHoldInvoice(o.hash);
      await waitStatus(h.ctx, order.id, 'active');
      await dispatch(h.ctx, req('fiat-sent', { id: order.id, requestId: 9n }), winner.inbound);
      await dispatch(h.ctx, req('release', { id: order.id, requestId: 10n }), seller.inbound);
      await waitStatus(h.ctx, order.id, 'success');
      assert.equal(h.sim.settles.filter((x) => x === o.hash).length, 1, 'escrow settled once');
      const payoutHash = msgs[w]!.payoutHash;
      assert.equal(h.sim.paymentsByHash.get(payoutHash)?.status, 'SUCCEEDED');
      assert.equal(h.sim.payments.filter((p) => p.hash === payoutHash).length, 1, 'buyer paid exactly once');
      for (const [i, m] of msgs.entries()) if (i !== w) assert.equal(h.sim.paymentsByHash.has(m.payoutHash), false);
      assert.ok(h.ctx.outbox.actions(winner.trade.pubkey).includes('purchase-completed'));
    });

    void test(`[${mode}] cancel racing a take: one consistent outcome, no escrow left open on a canceled order`, async () => {
      for (let round = 0; round < 6; round++) {
        const { order, seller } = await sellOrder(h);
        const taker = await party(h.base);
        const takeMsg = takeSellMsg(h, order.id, 20n).msg;
        const cancelMsg = req('cancel', { id: order.id, requestId: 21n });
        // Alternate who is sent first; both are in flight together.
        const jobs =
          round % 2 === 0
            ? [send(h, mode, takeSell, takeMsg, taker.inbound), send(h, mode, cancel, cancelMsg, seller.inbound)]
            : [send(h, mode, cancel, cancelMsg, seller.inbound), send(h, mode, takeSell, takeMsg, taker.inbound)];
        const [a, b] = await Promise.all(jobs);
        const [takeResult, cancelResult] = round % 2 === 0 ? [a, b] : [b, a];
        const o = await reloadOrder(h.ctx, order.id);
        const escrows = escrowsOf(h.sim, order.id);
        const live = escrows.filter((e) => e.state === 'OPEN' || e.state === 'ACCEPTED');
        if (o.status === 'canceled') {
          assert.equal(cancelResult, 'ok');
          assert.deepEqual(live, [], 'no escrow left open on a canceled order');
          assert.ok(['ok', 'invalid_order_status'].includes(takeResult!), `take: ${takeResult}`);
          assert.ok(h.ctx.outbox.actions(seller.trade.pubkey).includes('canceled'));
        } else {
          // The take won and the cancel lost its compare-and-set.
          assert.equal(o.status, 'waiting-payment');
          assert.equal(takeResult, 'ok');
          assert.ok(cancelResult !== 'ok', 'cancel reported a refusal');
          assert.deepEqual(live.map((e) => e.hash), [o.hash]);
        }
        assert.equal(h.sim.settles.filter((x) => escrows.some((e) => e.hash === x)).length, 0, 'nothing settled');
      }
    });

    void test(`[${mode}] seller release racing admin-cancel in a dispute: settle+payout or refund, never both`, async () => {
      const outcomes = new Set<string>();
      for (let round = 0; round < 4; round++) {
        const { order, seller, payoutHash } = await disputedTrade(h);
        const hash = order.hash!;
        const rel = req('release', { id: order.id, requestId: 30n });
        const adm = req('admin-cancel', { id: order.id, requestId: 31n });
        const jobs =
          round % 2 === 0
            ? [send(h, mode, release, rel, seller.inbound), send(h, mode, adminCancel, adm, h.admin.inbound)]
            : [send(h, mode, adminCancel, adm, h.admin.inbound), send(h, mode, release, rel, seller.inbound)];
        const [x, y] = await Promise.all(jobs);
        const [relResult, admResult] = round % 2 === 0 ? [x, y] : [y, x];
        assert.equal([relResult, admResult].filter((r) => r === 'ok').length, 1, `exactly one wins: ${relResult} / ${admResult}`);
        const settles = () => h.sim.settles.filter((s) => s === hash).length;
        const cancels = () => h.sim.cancels.filter((s) => s === hash).length;
        if (relResult === 'ok') {
          outcomes.add('release');
          assert.equal(admResult, 'not_allowed_by_status');
          const done = await waitStatus(h.ctx, order.id, 'success');
          assert.equal(done.status, 'success');
          assert.equal(settles(), 1);
          assert.equal(cancels(), 0);
          await waitFor('payout recorded', () => h.sim.paymentsByHash.get(payoutHash)?.status === 'SUCCEEDED');
          assert.equal(h.sim.payments.filter((p) => p.hash === payoutHash).length, 1, 'one payout');
        } else {
          outcomes.add('admin-cancel');
          assert.equal(relResult, 'not_allowed_by_status');
          const o = await reloadOrder(h.ctx, order.id);
          assert.equal(o.status, 'canceled-by-admin');
          assert.equal(settles(), 0);
          assert.equal(cancels(), 1);
          assert.equal(h.sim.invoices.get(hash)?.state, 'CANCELED');
          assert.equal(h.sim.payments.filter((p) => p.hash === payoutHash).length, 0, 'no payout');
          assert.ok(h.ctx.outbox.actions(seller.trade.pubkey).includes('admin-canceled'));
        }
      }
      await h.ctx.tasks.idle();
      assert.ok(outcomes.size >= 1);
    });
  }
});
