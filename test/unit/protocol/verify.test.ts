import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIONS, verifyStructure, type Action, type MessageKind, type Payload } from '../../../src/protocol/index.js';

const ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const order = {
  kind: 'sell' as const,
  status: null,
  amount: 0n,
  fiat_code: 'USD',
  min_amount: null,
  max_amount: null,
  fiat_amount: 10n,
  payment_method: 'x',
  premium: 0n,
  created_at: null,
  expires_at: null,
};

function kind(action: Action, id: string | undefined, payload: Payload | null): MessageKind {
  const k: MessageKind = { version: 1, request_id: null, trade_index: null, action, payload };
  if (id !== undefined) k.id = id;
  return k;
}

const ID_ONLY: Action[] = [
  'take-sell', 'take-buy', 'fiat-sent', 'fiat-sent-ok', 'release', 'released', 'dispute', 'admin-cancel',
  'admin-canceled', 'admin-settle', 'admin-settled', 'rate', 'rate-received', 'admin-take-dispute',
  'admin-took-dispute', 'dispute-initiated-by-you', 'dispute-initiated-by-peer', 'waiting-buyer-invoice',
  'purchase-completed', 'hold-invoice-payment-accepted', 'hold-invoice-payment-settled',
  'hold-invoice-payment-canceled', 'waiting-seller-to-pay', 'buyer-took-order', 'buyer-invoice-accepted',
  'cooperative-cancel-initiated-by-you', 'cooperative-cancel-initiated-by-peer', 'cooperative-cancel-accepted',
  'cancel', 'invoice-updated', 'admin-add-solver', 'send-dm', 'trade-pubkey', 'canceled',
];

void describe('verifyStructure (MessageKind::verify)', () => {
  void test('new-order needs an order payload, id not required', () => {
    assert.ok(verifyStructure(kind('new-order', undefined, { order })));
    assert.equal(verifyStructure(kind('new-order', ID, null)), false);
    assert.equal(verifyStructure(kind('new-order', ID, { amount: 1n })), false);
  });

  void test('pay-invoice / add-invoice need id and payment_request', () => {
    for (const a of ['pay-invoice', 'add-invoice'] as const) {
      assert.ok(verifyStructure(kind(a, ID, { payment_request: [null, 'lnbc', null] })));
      assert.equal(verifyStructure(kind(a, undefined, { payment_request: [null, 'lnbc', null] })), false);
      assert.equal(verifyStructure(kind(a, ID, { order })), false);
      assert.equal(verifyStructure(kind(a, ID, null)), false);
    }
  });

  void test('id-only actions need an id and accept any payload', () => {
    for (const a of ID_ONLY) {
      assert.ok(verifyStructure(kind(a, ID, null)), a);
      assert.ok(verifyStructure(kind(a, ID, { text_message: 'x' })), a);
      assert.equal(verifyStructure(kind(a, undefined, null)), false, a);
    }
  });

  void test('last-trade-index / restore-session need a null payload', () => {
    for (const a of ['last-trade-index', 'restore-session'] as const) {
      assert.ok(verifyStructure(kind(a, undefined, null)));
      assert.ok(verifyStructure(kind(a, ID, null)));
      assert.equal(verifyStructure(kind(a, undefined, { ids: [] })), false);
    }
  });

  void test('payment-failed, rate-user, cant-do, orders', () => {
    const pf = { payment_failed: { payment_attempts: 2, payment_retries_interval: 60 } };
    assert.ok(verifyStructure(kind('payment-failed', ID, pf)));
    assert.equal(verifyStructure(kind('payment-failed', undefined, pf)), false);
    assert.equal(verifyStructure(kind('payment-failed', ID, null)), false);
    assert.ok(verifyStructure(kind('rate-user', undefined, { rating_user: 5 })));
    assert.equal(verifyStructure(kind('rate-user', ID, { amount: 5n })), false);
    assert.ok(verifyStructure(kind('cant-do', undefined, { cant_do: null })));
    assert.equal(verifyStructure(kind('cant-do', ID, null)), false);
    assert.ok(verifyStructure(kind('orders', undefined, { ids: [ID] })));
    assert.ok(verifyStructure(kind('orders', undefined, { orders: [order] })));
    assert.equal(verifyStructure(kind('orders', ID, null)), false);
  });

  void test('every action is covered by the table above', () => {
    const covered = new Set<Action>([
      ...ID_ONLY, 'new-order', 'pay-invoice', 'add-invoice', 'last-trade-index', 'restore-session',
      'payment-failed', 'rate-user', 'cant-do', 'orders',
    ]);
    assert.deepEqual(ACTIONS.filter((a) => !covered.has(a)), []);
  });
});
