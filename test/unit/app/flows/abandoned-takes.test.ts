/**
 * [mostro] max_abandoned_takes / abandoned_takes_window_hours (app/flows/abandoned-takes.ts): a take
 * the taker abandons — a cancel by the taker, or the waiting-timeouts job finding the taker late —
 * counts against the taker's identity; at the limit its takes get cant-do too_many_requests until
 * the oldest leaves the window. A late maker does not count against the taker; 0 is off.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { cancel } from '../../../../src/app/handlers/cancel.js';
import { takeSell } from '../../../../src/app/handlers/take-sell.js';
import { cancelTimedOutWaitingOrders } from '../../../../src/scheduler/jobs/waiting-timeouts.js';
import { makeTestContext, signedInvoice, type TestContext } from '../../../support/test-context.js';
import { assertCantDo, createOrder, party, reload, req, type Party } from '../../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const EXP = 900; // expiration_seconds (test settings default)

async function setup(max: number): Promise<{ ctx: TestContext; seller: Party; buyer: Party }> {
  const ctx = await makeTestContext({ now: NOW, settings: { mostro: { max_abandoned_takes: max, abandoned_takes_window_hours: 24 } } });
  return { ctx, seller: await party(ctx), buyer: await party(ctx) };
}

let index = 10n;
function take(ctx: TestContext, who: Party, id: string, invoice?: string): Promise<void> {
  index++;
  const payload = invoice === undefined ? null : { payment_request: [null, invoice, null] as [null, string, null] };
  return takeSell(ctx, req('take-sell', { id, tradeIndex: index, payload }), who.inbound);
}

async function rows(ctx: TestContext): Promise<Array<{ identity: string; order_id: string; at: number }>> {
  const r = await sql<{ identity: string; order_id: string; at: number }>`SELECT identity, order_id, at FROM mostrod_ts_abandoned_takes ORDER BY at`.execute(ctx.db);
  return r.rows;
}

void describe('abandoned takes', () => {
  void test('a taker cancel and a taker timeout count; at the limit takes are refused until the window passes', async () => {
    const { ctx, seller, buyer } = await setup(2);
    const o = await createOrder(ctx, seller, { amount: 20_000n, fiat_amount: 10n });

    // 1. The buyer takes and backs out.
    await take(ctx, buyer, o.id);
    assert.equal((await reload(ctx, o.id)).status, 'waiting-buyer-invoice');
    await cancel(ctx, req('cancel', { id: o.id }), buyer.inbound);
    assert.equal((await reload(ctx, o.id)).status, 'pending');

    // 2. It takes again and never sends its invoice.
    await take(ctx, buyer, o.id);
    ctx.clock.advance(EXP + 1);
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, o.id)).status, 'pending');
    assert.deepEqual(
      (await rows(ctx)).map((r) => [r.identity, r.order_id, r.at]),
      [
        [buyer.identity.pubkey, o.id, NOW],
        [buyer.identity.pubkey, o.id, NOW + EXP + 1],
      ],
    );

    // 3. Refused now, with nothing changed; someone else may take.
    await assertCantDo(take(ctx, buyer, o.id), 'too_many_requests');
    assert.equal((await reload(ctx, o.id)).status, 'pending');
    const other = await party(ctx);
    await take(ctx, other, o.id);
    assert.equal((await reload(ctx, o.id)).status, 'waiting-buyer-invoice');
    await cancel(ctx, req('cancel', { id: o.id }), other.inbound);

    // 4. Once the first abandoned take is older than the window, one more take is allowed; the job
    // forgets the old record.
    ctx.clock.advance(24 * 3600 - EXP);
    await take(ctx, buyer, o.id);
    assert.equal((await reload(ctx, o.id)).status, 'waiting-buyer-invoice');
    await cancelTimedOutWaitingOrders(ctx);
    assert.deepEqual(
      (await rows(ctx)).map((r) => `${r.identity}@${r.at}`).sort(),
      [`${buyer.identity.pubkey}@${NOW + EXP + 1}`, `${other.identity.pubkey}@${NOW + EXP + 1}`].sort(),
      'the first record pruned; the second buyer record and the other taker remain',
    );
  });

  void test('a late maker does not count against the taker', async () => {
    const { ctx, seller, buyer } = await setup(1);
    const o = await createOrder(ctx, seller, { amount: 20_000n, fiat_amount: 10n });
    // The buyer takes with its invoice: the seller (maker) must pay the escrow, and does not.
    await take(ctx, buyer, o.id, signedInvoice({ sats: 20_000, now: NOW }));
    assert.equal((await reload(ctx, o.id)).status, 'waiting-payment');
    ctx.clock.advance(EXP + 1);
    await cancelTimedOutWaitingOrders(ctx);
    assert.equal((await reload(ctx, o.id)).status, 'canceled');
    assert.deepEqual(await rows(ctx), []);
    const o2 = await createOrder(ctx, seller, { amount: 20_000n, fiat_amount: 10n }, { tradeIndex: 2n });
    await take(ctx, buyer, o2.id);
    assert.equal((await reload(ctx, o2.id)).status, 'waiting-buyer-invoice');
  });

  void test('0 (the default) records and refuses nothing', async () => {
    const { ctx, seller, buyer } = await setup(0);
    const o = await createOrder(ctx, seller, { amount: 20_000n, fiat_amount: 10n });
    for (let i = 0; i < 3; i++) {
      await take(ctx, buyer, o.id);
      await cancel(ctx, req('cancel', { id: o.id }), buyer.inbound);
    }
    assert.deepEqual(await rows(ctx), []);
    assert.equal((await reload(ctx, o.id)).status, 'pending');
  });
});
