import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lastTradeIndex } from '../../../../src/app/handlers/last-trade-index.js';
import { inboundFor, makeTestContext, newKeys } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, party, req } from '../../../support/trade-fixtures.js';

void describe('last-trade-index (HANDLERS §4.17, PROTOCOL §5.13, §9.8)', () => {
  void test('known identity → restore/last-trade-index with the stored index, request id echoed', async () => {
    const ctx = await makeTestContext();
    const p = await party(ctx, { lastTradeIndex: 7 });
    await lastTradeIndex(ctx, req('last-trade-index', { requestId: 3876325412n }), p.inbound);
    const m = onlyMessage(ctx, p.trade.pubkey);
    assert.equal(m.wrapper, 'restore');
    assert.equal(m.kind.action, 'last-trade-index');
    assert.equal(m.kind.request_id, 3876325412n);
    assert.equal(m.kind.trade_index, 7n);
    assert.equal(m.kind.id, undefined);
    assert.equal(m.kind.payload, null);
  });

  void test('unknown identity → not_found; stored 0 → invalid_trade_index', async () => {
    const ctx = await makeTestContext();
    await assertCantDo(lastTradeIndex(ctx, req('last-trade-index'), inboundFor(newKeys(), newKeys())), 'not_found');
    const p = await party(ctx, { lastTradeIndex: 0 });
    await assertCantDo(lastTradeIndex(ctx, req('last-trade-index'), p.inbound), 'invalid_trade_index');
  });
});
