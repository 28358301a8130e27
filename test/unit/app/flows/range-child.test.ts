import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nip19 } from 'nostr-tools';
import {
  dueRangeChild,
  findRangeChild,
  insertChild,
  normalizeNextTrade,
  planRangeChild,
} from '../../../../src/app/flows/range-child.js';
import { insertOrder } from '../../../../src/db/orders.js';
import { getRangeRelease, recordRangeRelease } from '../../../../src/db/range-releases.js';
import type { OrderRow } from '../../../../src/db/types.js';
import { insertUser } from '../../../../src/db/users.js';
import { makeOrder } from '../../../support/db.js';
import { makeTestContext } from '../../../support/test-context.js';

const NOW = 1_700_000_000;
const SELLER = 'a1'.repeat(32);
const SELLER_ID = 'a2'.repeat(32);
const BUYER = 'b1'.repeat(32);
const BUYER_ID = 'b2'.repeat(32);
const NEXT = 'c3'.repeat(32);

/** A sell range order 10–50 (seller maker) traded for `fiat` with inherited junk on it. */
function parent(partial: Partial<OrderRow> = {}): OrderRow {
  return makeOrder({
    kind: 'sell',
    status: 'settled-hold-invoice',
    amount: 7851,
    fee: 24,
    dev_fee: 14,
    dev_fee_paid: 1,
    price_from_api: 1,
    premium: 1,
    payment_method: 'face to face,bank transfer',
    fiat_code: 'VES',
    min_amount: 10,
    max_amount: 50,
    fiat_amount: 15,
    hash: 'ee'.repeat(32),
    preimage: 'ff'.repeat(32),
    buyer_invoice: 'lnbcrt1...',
    creator_pubkey: SELLER,
    seller_pubkey: SELLER,
    master_seller_pubkey: SELLER_ID,
    buyer_pubkey: BUYER,
    master_buyer_pubkey: BUYER_ID,
    trade_index_seller: 1,
    trade_index_buyer: 3,
    buyer_dispute: 1,
    seller_cooperativecancel: 1,
    cancel_initiator_pubkey: SELLER,
    buyer_sent_rate: 1,
    failed_payment: 1,
    payment_attempts: 2,
    next_trade_pubkey: 'dd'.repeat(32),
    next_trade_index: 9,
    taken_at: NOW - 500,
    invoice_held_at: NOW - 400,
    created_at: NOW - 1000,
    expires_at: NOW + 5000,
    ...partial,
  });
}

const opts = { now: NOW, expirationHours: 24 };

void describe('planRangeChild (HANDLERS §3.3 / §4.6 step 9, PROTOCOL §6.4)', () => {
  void test('sell range: remainder > min → range child [min, max − traded] for the seller’s next key; inherits only the offer', () => {
    const p = parent();
    const { child } = planRangeChild(p, { pubkey: NEXT, index: 2 }, opts);
    assert.ok(child !== null);
    assert.equal(child.status, 'pending');
    assert.equal(child.kind, 'sell');
    assert.equal(child.min_amount, 10);
    assert.equal(child.max_amount, 35);
    assert.equal(child.fiat_amount, 0);
    assert.equal(child.amount, 0);
    assert.equal(child.range_parent_id, p.id);
    assert.notEqual(child.id, p.id);
    assert.equal(child.creator_pubkey, NEXT);
    assert.equal(child.seller_pubkey, NEXT);
    assert.equal(child.master_seller_pubkey, SELLER_ID);
    assert.equal(child.trade_index_seller, 2);
    // The counterpart side is empty.
    assert.equal(child.buyer_pubkey, null);
    assert.equal(child.master_buyer_pubkey, null);
    assert.equal(child.trade_index_buyer, null);
    // Offer terms inherited.
    assert.equal(child.premium, 1);
    assert.equal(child.payment_method, 'face to face,bank transfer');
    assert.equal(child.fiat_code, 'VES');
    assert.equal(child.price_from_api, 1);
    assert.equal(child.expires_at, p.expires_at);
    // HQ-8 fix: nothing trade-specific leaks into the child.
    assert.equal(child.created_at, NOW);
    for (const k of ['fee', 'dev_fee', 'dev_fee_paid', 'buyer_dispute', 'seller_dispute', 'buyer_cooperativecancel',
      'seller_cooperativecancel', 'buyer_sent_rate', 'seller_sent_rate', 'failed_payment', 'payment_attempts',
      'taken_at', 'invoice_held_at'] as const) {
      assert.equal(child[k], 0, k);
    }
    for (const k of ['hash', 'preimage', 'buyer_invoice', 'cancel_initiator_pubkey', 'next_trade_pubkey', 'next_trade_index',
      'payout_payment_hash'] as const) {
      assert.equal(child[k], null, k);
    }
  });

  void test('remainder == min → fixed child without bounds; remainder < min → no child', () => {
    const fixed = planRangeChild(parent({ fiat_amount: 40 }), { pubkey: NEXT, index: 2 }, opts).child;
    assert.ok(fixed !== null);
    assert.equal(fixed.fiat_amount, 10);
    assert.equal(fixed.min_amount, null);
    assert.equal(fixed.max_amount, null);
    assert.equal(planRangeChild(parent({ fiat_amount: 45 }), { pubkey: NEXT, index: 2 }, opts).child, null);
    assert.equal(planRangeChild(parent({ min_amount: null, max_amount: null }), { pubkey: NEXT, index: 2 }, opts).child, null);
  });

  void test('sell range without (or with an invalid) next_trade → no child, with a reason', () => {
    assert.match(planRangeChild(parent(), null, opts).reason ?? '', /next_trade/);
    assert.equal(planRangeChild(parent(), { pubkey: 'xyz', index: 2 }, opts).child, null);
    assert.equal(planRangeChild(parent(), { pubkey: NEXT, index: -1 }, opts).child, null);
  });

  void test('next_trade key as an npub (0.17.1 accepts it) → the child gets the hex key; a broken npub → no child', () => {
    const npub = nip19.npubEncode(NEXT);
    const { child } = planRangeChild(parent(), { pubkey: npub, index: 2 }, opts);
    assert.ok(child !== null);
    assert.equal(child.seller_pubkey, NEXT);
    assert.equal(child.creator_pubkey, NEXT);
    assert.equal(planRangeChild(parent(), { pubkey: npub.slice(0, -1) + (npub.endsWith('q') ? 'p' : 'q'), index: 2 }, opts).child, null);
  });

  void test('buy range: the buyer-maker’s key comes from next_trade stored at fiat-sent (release payload ignored)', () => {
    const p = parent({ kind: 'buy', creator_pubkey: BUYER, next_trade_pubkey: NEXT, next_trade_index: 4 });
    const { child } = planRangeChild(p, { pubkey: 'ab'.repeat(32), index: 99 }, opts);
    assert.ok(child !== null);
    assert.equal(child.buyer_pubkey, NEXT);
    assert.equal(child.creator_pubkey, NEXT);
    assert.equal(child.trade_index_buyer, 4);
    assert.equal(child.master_buyer_pubkey, BUYER_ID);
    assert.equal(child.seller_pubkey, null);
    assert.equal(planRangeChild({ ...p, next_trade_pubkey: null, next_trade_index: null }, null, opts).child, null);
  });

  void test('full-privacy maker: the master key becomes the new trade key; an expired parent expiry is renewed', () => {
    const p = parent({ master_seller_pubkey: SELLER, expires_at: NOW - 10 });
    const { child } = planRangeChild(p, { pubkey: NEXT, index: 2 }, opts);
    assert.ok(child !== null);
    assert.equal(child.master_seller_pubkey, NEXT);
    assert.equal(child.expires_at, NOW + 24 * 3600);
  });
});

void describe('dueRangeChild: what a release’s payout-started mark creates and announces', () => {
  void test('a child only for a range order with a release record; an existing child is announced, not duplicated', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const p = parent({ status: 'settled-hold-invoice' });
    await insertOrder(ctx.db, p);
    assert.deepEqual(await dueRangeChild(ctx, p), { create: null, announce: null }, 'no release record (admin-settle): no child');
    await recordRangeRelease(ctx.db, p.id, { pubkey: NEXT, index: 2 }, NOW);
    const due = await dueRangeChild(ctx, p);
    assert.ok(due.create !== null);
    assert.equal(due.announce, due.create);
    assert.deepEqual([due.create.seller_pubkey, due.create.trade_index_seller, due.create.max_amount], [NEXT, 2, 35]);
    assert.deepEqual(await dueRangeChild(ctx, { ...p, min_amount: null, max_amount: null }), { create: null, announce: null }, 'not a range order');

    await insertChild(ctx.db, due.create);
    const again = await dueRangeChild(ctx, p);
    assert.equal(again.create, null);
    assert.equal(again.announce?.id, due.create.id);
    assert.equal((await findRangeChild(ctx, p))?.id, due.create.id);

    await recordRangeRelease(ctx.db, p.id, null, NOW);
    const q = parent({ status: 'settled-hold-invoice' });
    await insertOrder(ctx.db, q);
    await recordRangeRelease(ctx.db, q.id, null, NOW);
    assert.deepEqual(await dueRangeChild(ctx, q), { create: null, announce: null }, 'a sell maker that named no key gets no child');
    assert.deepEqual(await getRangeRelease(ctx.db, q.id), { nextTrade: null, releasedAt: NOW });
  });

  void test("a banned maker's range order is not continued (no child), another maker's is", async () => {
    const ctx = await makeTestContext({ now: NOW });
    const p = parent({ status: 'settled-hold-invoice' });
    await insertOrder(ctx.db, p);
    await recordRangeRelease(ctx.db, p.id, { pubkey: NEXT, index: 2 }, NOW);
    await insertUser(ctx.db, { pubkey: SELLER_ID, is_banned: 1, created_at: NOW });
    await ctx.bans.load(ctx.db);
    assert.deepEqual(await dueRangeChild(ctx, p), { create: null, announce: null });
    // The same order of a maker who is not banned gets its child (the check is on the maker's identity).
    const q = parent({ status: 'settled-hold-invoice', master_seller_pubkey: 'a3'.repeat(32) });
    await insertOrder(ctx.db, q);
    await recordRangeRelease(ctx.db, q.id, { pubkey: NEXT, index: 2 }, NOW);
    assert.ok((await dueRangeChild(ctx, q)).create !== null);
  });

  void test('normalizeNextTrade: recorded as hex; an unusable key or index is not recorded', () => {
    assert.deepEqual(normalizeNextTrade({ pubkey: nip19.npubEncode(NEXT), index: 4 }), { pubkey: NEXT, index: 4 });
    assert.equal(normalizeNextTrade({ pubkey: 'xyz', index: 4 }), null);
    assert.equal(normalizeNextTrade({ pubkey: NEXT, index: -1 }), null);
    assert.equal(normalizeNextTrade(null), null);
  });
});
