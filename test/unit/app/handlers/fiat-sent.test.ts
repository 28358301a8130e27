import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fiatSent } from '../../../../src/app/handlers/fiat-sent.js';
import { SilentError } from '../../../../src/errors.js';
import { makeTestContext } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, reload, req } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../trade-b-fixture.js';

const NEXT = 'c3'.repeat(32);

void describe('fiat-sent (HANDLERS §4.5, PROTOCOL §5.5, §9.1 rows 13–15)', () => {
  void test('buyer → fiat-sent; fiat-sent-ok to the seller (null) and the buyer (echo), each with the other trade key', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await fiatSent(ctx, req('fiat-sent', { id: t.order.id, requestId: 3876325412n }), t.buyer.inbound);
    assert.equal((await reload(ctx, t.order.id)).status, 'fiat-sent');
    const toSeller = onlyMessage(ctx, t.seller.trade.pubkey);
    assert.equal(toSeller.kind.action, 'fiat-sent-ok');
    assert.equal(toSeller.kind.request_id, null);
    assert.equal(toSeller.kind.trade_index, null);
    assert.deepEqual(toSeller.kind.payload, { peer: { pubkey: t.buyer.trade.pubkey, reputation: null } });
    const toBuyer = onlyMessage(ctx, t.buyer.trade.pubkey);
    assert.equal(toBuyer.kind.action, 'fiat-sent-ok');
    assert.equal(toBuyer.kind.request_id, 3876325412n);
    assert.deepEqual(toBuyer.kind.payload, { peer: { pubkey: t.seller.trade.pubkey, reputation: null } });
    assert.equal(ctx.outbox.eventsOfKind(38383).length, 0, 'fiat-sent is not published');
  });

  void test('checks in order: not_found, invalid_order_status, invalid_pubkey; odd payload silent', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await assertCantDo(fiatSent(ctx, req('fiat-sent', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), t.buyer.inbound), 'not_found');
    await assertCantDo(fiatSent(ctx, req('fiat-sent', { id: t.order.id }), t.seller.inbound), 'invalid_pubkey');
    await assert.rejects(
      fiatSent(ctx, req('fiat-sent', { id: t.order.id, payload: { text_message: 'x' } }), t.buyer.inbound),
      SilentError,
    );
    await fiatSent(ctx, req('fiat-sent', { id: t.order.id }), t.buyer.inbound);
    await assertCantDo(fiatSent(ctx, req('fiat-sent', { id: t.order.id }), t.buyer.inbound), 'invalid_order_status');
    const pending = await escrowedTrade(ctx, { status: 'pending' });
    // Status is checked before the sender.
    await assertCantDo(fiatSent(ctx, req('fiat-sent', { id: pending.order.id }), pending.seller.inbound), 'invalid_order_status');
  });

  void test('next_trade is stored for a buy range order whose maker is the buyer, and nowhere else (#891)', async () => {
    const ctx = await makeTestContext();
    const range = { min_amount: 10, max_amount: 50, fiat_amount: 15 };
    const buyRange = await escrowedTrade(ctx, { kind: 'buy', order: range });
    await fiatSent(ctx, req('fiat-sent', { id: buyRange.order.id, payload: { next_trade: [NEXT, 4] } }), buyRange.buyer.inbound);
    let o = await reload(ctx, buyRange.order.id);
    assert.equal(o.next_trade_pubkey, NEXT);
    assert.equal(o.next_trade_index, 4);

    const sellRange = await escrowedTrade(ctx, { kind: 'sell', order: range });
    await fiatSent(ctx, req('fiat-sent', { id: sellRange.order.id, payload: { next_trade: [NEXT, 4] } }), sellRange.buyer.inbound);
    o = await reload(ctx, sellRange.order.id);
    assert.equal(o.status, 'fiat-sent');
    assert.equal(o.next_trade_pubkey, null, 'the taker cannot plant the child’s key');
  });
});
