import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tradePubkey } from '../../../../src/app/handlers/trade-pubkey.js';
import { SilentError } from '../../../../src/errors.js';
import { inboundFor, makeTestContext, newKeys } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, reload, req } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../trade-b-fixture.js';

void describe('trade-pubkey (HANDLERS §4.14, PROTOCOL §5.10)', () => {
  void test('the maker moves a pending order to a new trade key; trade-pubkey goes to the new key (echo)', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx, { status: 'pending', escrow: 'none', order: { buyer_pubkey: null, master_buyer_pubkey: null } });
    const fresh = newKeys();
    await tradePubkey(ctx, req('trade-pubkey', { id: t.order.id, requestId: 21n }), inboundFor(t.seller.identity, fresh));
    const o = await reload(ctx, t.order.id);
    assert.equal(o.seller_pubkey, fresh.pubkey);
    assert.equal(o.creator_pubkey, fresh.pubkey);
    assert.equal(o.master_seller_pubkey, t.seller.identity.pubkey);
    const m = onlyMessage(ctx, fresh.pubkey);
    assert.equal(m.kind.action, 'trade-pubkey');
    assert.equal(m.kind.request_id, 21n);
    assert.equal(m.kind.payload, null);
  });

  void test('maker only (#871): a taker identity or any other identity is ignored silently', async () => {
    const ctx = await makeTestContext();
    // A sell order whose buyer side still carries keys (e.g. 0.17.1 data): the buyer cannot take over.
    const t = await escrowedTrade(ctx, { status: 'pending', escrow: 'none' });
    await assert.rejects(
      tradePubkey(ctx, req('trade-pubkey', { id: t.order.id }), inboundFor(t.buyer.identity, newKeys())),
      SilentError,
    );
    await assert.rejects(tradePubkey(ctx, req('trade-pubkey', { id: t.order.id }), inboundFor(newKeys(), newKeys())), SilentError);
    const o = await reload(ctx, t.order.id);
    assert.equal(o.creator_pubkey, t.seller.trade.pubkey);
    assert.equal(o.buyer_pubkey, t.buyer.trade.pubkey);
  });

  void test('not pending → invalid_order_status; unknown → not_found', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx, { status: 'active' });
    await assertCantDo(tradePubkey(ctx, req('trade-pubkey', { id: t.order.id }), inboundFor(t.seller.identity, newKeys())), 'invalid_order_status');
    await assertCantDo(
      tradePubkey(ctx, req('trade-pubkey', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), t.seller.inbound),
      'not_found',
    );
  });
});
