import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buyerAmount, sellerAmount, toSmallOrder, wireIndex } from '../../../../src/app/flows/order-view.js';
import { makeOrder } from '../../../support/db.js';

const BUYER = 'b'.repeat(64);
const SELLER = 'c'.repeat(64);

void describe('toSmallOrder', () => {
  const o = makeOrder({
    id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842',
    kind: 'sell',
    status: 'waiting-payment',
    amount: 7851,
    fee: 24,
    fiat_code: 'VES',
    fiat_amount: 100,
    payment_method: 'face to face,bank transfer',
    premium: 1,
    buyer_pubkey: BUYER,
    seller_pubkey: SELLER,
    buyer_invoice: 'lnbcrt1xyz',
    created_at: 1698870173,
    expires_at: 1698956573,
  });

  void test('full conversion ("SmallOrder(order)") carries keys, invoice and timestamps in serde order', () => {
    const so = toSmallOrder(o);
    assert.deepEqual(Object.keys(so), [
      'id', 'kind', 'status', 'amount', 'fiat_code', 'min_amount', 'max_amount', 'fiat_amount',
      'payment_method', 'premium', 'buyer_trade_pubkey', 'seller_trade_pubkey', 'buyer_invoice',
      'created_at', 'expires_at',
    ]);
    assert.equal(so.amount, 7851n);
    assert.equal(so.buyer_trade_pubkey, BUYER);
    assert.equal(so.seller_trade_pubkey, SELLER);
    assert.equal(so.buyer_invoice, 'lnbcrt1xyz');
    assert.equal(so.created_at, 1698870173n);
    assert.equal(so.expires_at, 1698956573n);
    assert.equal(so.min_amount, null);
    assert.equal(so.premium, 1n);
  });

  void test('as-new-order drops trade keys only; overrides apply', () => {
    const so = toSmallOrder(o, { tradeKeys: false, status: 'pending', amount: 1 });
    assert.equal('buyer_trade_pubkey' in so, false);
    assert.equal('seller_trade_pubkey' in so, false);
    assert.equal(so.buyer_invoice, 'lnbcrt1xyz');
    assert.equal(so.status, 'pending');
    assert.equal(so.amount, 1n);
  });

  void test('timestamps:false gives null created_at/expires_at; invoice:false omits the invoice', () => {
    const so = toSmallOrder(o, { timestamps: false, invoice: false });
    assert.equal(so.created_at, null);
    assert.equal(so.expires_at, null);
    assert.equal('buyer_invoice' in so, false);
  });

  void test('range bounds become bigint; absent keys are omitted, not null', () => {
    const r = makeOrder({ min_amount: 10, max_amount: 50, fiat_amount: 0, amount: 0 });
    const so = toSmallOrder(r);
    assert.equal(so.min_amount, 10n);
    assert.equal(so.max_amount, 50n);
    assert.equal('buyer_trade_pubkey' in so, false);
  });

  void test('amount helpers', () => {
    assert.equal(sellerAmount({ amount: 100_000, fee: 300 }), 100_300);
    assert.equal(buyerAmount({ amount: 100_000, fee: 300 }), 99_700);
    assert.equal(buyerAmount({ amount: 10, fee: 30 }), 0);
    assert.equal(wireIndex(null), null);
    assert.equal(wireIndex(3), 3n);
  });
});
