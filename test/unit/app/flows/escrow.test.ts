import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cancelEscrow, settleEscrow } from '../../../../src/app/flows/escrow.js';
import { CantDoError, LightningError } from '../../../../src/errors.js';
import { makeTestContext } from '../../../support/test-context.js';
import { escrowedTrade } from '../trade-b-fixture.js';

void describe('settleEscrow', () => {
  void test('settles an accepted hold invoice with the stored preimage', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await settleEscrow(ctx, t.order);
    assert.deepEqual(ctx.lightning.settles, [t.hash]);
    assert.equal(ctx.lightning.invoices.get(t.hash)?.state, 'settled');
  });

  void test('is idempotent: an invoice LND already settled counts as settled, even if SettleInvoice errors', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await settleEscrow(ctx, t.order);
    ctx.lightning.failNext('settleHoldInvoice', new LightningError('deadline exceeded', 'timeout'));
    await settleEscrow(ctx, t.order);
    assert.deepEqual(ctx.lightning.settles, [t.hash], 'settled exactly once');
  });

  void test('missing, malformed or mismatching preimage → cant-do invalid_invoice, LND never called', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    for (const preimage of [null, 'zz'.repeat(32), 'abc', '11'.repeat(32)]) {
      await assert.rejects(settleEscrow(ctx, { ...t.order, preimage }), (e: unknown) => {
        assert.ok(e instanceof CantDoError);
        assert.equal(e.reason, 'invalid_invoice');
        return true;
      });
    }
    assert.equal(ctx.lightning.callsOf('settleHoldInvoice').length, 0);
  });

  void test('an LND failure on a still-held invoice propagates (nothing settled)', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    ctx.lightning.failNext('settleHoldInvoice');
    await assert.rejects(settleEscrow(ctx, t.order), LightningError);
    assert.equal(ctx.lightning.invoices.get(t.hash)?.state, 'accepted');
  });
});

void describe('cancelEscrow', () => {
  void test('cancels the hold invoice; no hash → nothing to do', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await cancelEscrow(ctx, t.order);
    assert.deepEqual(ctx.lightning.cancels, [t.hash]);
    await cancelEscrow(ctx, { ...t.order, hash: null });
    assert.equal(ctx.lightning.callsOf('cancelHoldInvoice').length, 1);
  });

  void test('tolerates an invoice LND already canceled or never knew (#941)', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    ctx.lightning.cancelByNode(t.hash);
    ctx.lightning.failNext('cancelHoldInvoice', new LightningError('invoice already canceled'));
    await cancelEscrow(ctx, t.order);
    await cancelEscrow(ctx, { ...t.order, hash: 'ab'.repeat(32) }); // unknown to LND
  });

  void test('an already settled invoice cannot be refunded → LightningError', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx, { escrow: 'settled' });
    await assert.rejects(cancelEscrow(ctx, t.order), /already settled/);
  });

  void test('a malformed stored hash is an error, never a crash', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    await assert.rejects(cancelEscrow(ctx, { ...t.order, hash: 'not-hex' }), (e: unknown) => {
      assert.ok(e instanceof LightningError);
      assert.equal(e.code, 'invalid');
      return true;
    });
    assert.equal(ctx.lightning.callsOf('cancelHoldInvoice').length, 0);
  });

  void test('LND down: the original error propagates when the lookup fails too', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx);
    ctx.lightning.setState('down');
    await assert.rejects(cancelEscrow(ctx, t.order), /unavailable/);
    ctx.lightning.setState('up');
    assert.equal(ctx.lightning.invoices.get(t.hash)?.state, 'accepted');
  });
});
