import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectPatched, takerResetPatch, undoPatch } from '../../../../src/app/flows/order-reset.js';
import { makeOrder } from '../../../support/db.js';

const BUYER = 'b'.repeat(64);
const SELLER = 'c'.repeat(64);

void describe('takerResetPatch', () => {
  const taken = makeOrder({
    kind: 'sell',
    status: 'waiting-buyer-invoice',
    amount: 7851,
    fee: 24,
    fiat_amount: 100,
    hash: 'h'.repeat(64),
    preimage: 'p'.repeat(64),
    buyer_pubkey: BUYER,
    master_buyer_pubkey: 'd'.repeat(64),
    trade_index_buyer: 3,
    seller_pubkey: SELLER,
    master_seller_pubkey: 'e'.repeat(64),
    trade_index_seller: 4,
    creator_pubkey: SELLER,
    buyer_invoice: 'lnbcrt1taker',
    taken_at: 1000,
    invoice_held_at: 1100,
    dev_fee: 5,
  });

  void test('seller-maker, fixed price, fixed amount: removes the buyer (taker), keeps amounts', () => {
    assert.deepEqual(takerResetPatch(taken, 'seller'), {
      status: 'pending',
      hash: null,
      preimage: null,
      buyer_invoice: null,
      taken_at: 0,
      invoice_held_at: 0,
      dev_fee: 0,
      buyer_pubkey: null,
      master_buyer_pubkey: null,
      trade_index_buyer: null,
    });
  });

  void test('buyer-maker keeps its own invoice and loses the seller (taker)', () => {
    const p = takerResetPatch({ ...taken, kind: 'buy', creator_pubkey: BUYER }, 'buyer');
    assert.equal(p.buyer_invoice, 'lnbcrt1taker');
    assert.equal(p.seller_pubkey, null);
    assert.equal(p.master_seller_pubkey, null);
    assert.equal(p.trade_index_seller, null);
    assert.equal('buyer_pubkey' in p, false);
  });

  void test('market price resets amount and fee; a range order resets its fiat amount', () => {
    const p = takerResetPatch({ ...taken, price_from_api: 1, min_amount: 10, max_amount: 200 }, 'seller');
    assert.equal(p.amount, 0);
    assert.equal(p.fee, 0);
    assert.equal(p.fiat_amount, 0);
    const fixed = takerResetPatch(taken, 'seller');
    assert.equal('amount' in fixed, false);
    assert.equal('fiat_amount' in fixed, false);
  });

  void test('undoPatch restores the original values of exactly the patched fields; expectPatched mirrors the patch', () => {
    const patch = takerResetPatch(taken, 'seller');
    const undo = undoPatch(taken, patch);
    assert.deepEqual(Object.keys(undo), Object.keys(patch));
    assert.equal(undo.status, 'waiting-buyer-invoice');
    assert.equal(undo.buyer_pubkey, BUYER);
    assert.equal(undo.trade_index_buyer, 3);
    assert.equal(undo.taken_at, 1000);
    assert.deepEqual(expectPatched(patch), patch);
  });
});
