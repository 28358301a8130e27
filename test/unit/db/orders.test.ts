import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import {
  casUpdateOrder,
  claimDevFee,
  findExpiredPending,
  findFailedPayouts,
  findOpenEscrows,
  findOrders,
  findOrdersByIdsForUser,
  findUnverifiedPaidDevFees,
  markDevFeeVerified,
  findPartialDevFees,
  findStaleDevFeeClaims,
  findUnpaidDevFees,
  findWaitingTimedOut,
  getOrder,
  getOrderByHash,
  hasPendingTake,
  insertOrder,
  newOrderRow,
  releaseDevFeeClaim,
  restoreSessionDisputes,
  restoreSessionOrders,
} from '../../../src/db/orders.js';
import { insertDispute } from '../../../src/db/disputes.js';
import { CantDoError } from '../../../src/errors.js';
import { makeOrder, testDb } from '../../support/db.js';

const BUYER = 'b'.repeat(64);
const SELLER = 'c'.repeat(64);
const HASH = 'ab'.repeat(32);

let db: Db;
beforeEach(async () => {
  db = await testDb();
});
afterEach(async () => {
  await closeDatabase(db);
});

void describe('insert / get', () => {
  void test('a full row round-trips, uuid stored as a 16-byte BLOB', async () => {
    const parent = makeOrder();
    const o = makeOrder({
      kind: 'buy',
      hash: HASH,
      preimage: 'cd'.repeat(32),
      buyer_pubkey: BUYER,
      master_buyer_pubkey: 'd'.repeat(64),
      seller_pubkey: SELLER,
      master_seller_pubkey: 'e'.repeat(64),
      status: 'active',
      price_from_api: 1,
      premium: -3,
      min_amount: 10,
      max_amount: 100,
      buyer_dispute: 1,
      fee: 15,
      buyer_invoice: 'lnbcrt1...',
      range_parent_id: parent.id,
      invoice_held_at: 1_700_000_100,
      taken_at: 1_700_000_050,
      payment_attempts: 2,
      failed_payment: 1,
      trade_index_seller: 4,
      trade_index_buyer: 7,
      next_trade_pubkey: 'f'.repeat(64),
      next_trade_index: 8,
      dev_fee: 9,
      dev_fee_paid: 1,
      dev_fee_payment_hash: 'aa'.repeat(32),
      payout_payment_hash: 'bb'.repeat(32),
      payout_claimed_at: 1_700_000_200,
    });
    await insertOrder(db, o);
    assert.deepEqual(await getOrder(db, o.id), o);
    const raw = await sql<{ t: string; n: number; pt: string }>`SELECT typeof(id) AS t, length(id) AS n, typeof(range_parent_id) AS pt FROM orders`.execute(db);
    assert.deepEqual(raw.rows[0], { t: 'blob', n: 16, pt: 'blob' });
  });

  void test('getOrder accepts upper-case text and returns canonical lower-case; unknown/malformed → undefined', async () => {
    const o = makeOrder();
    await insertOrder(db, o);
    assert.equal((await getOrder(db, o.id.toUpperCase()))?.id, o.id);
    assert.equal(await getOrder(db, '00000000-0000-4000-8000-000000000000'), undefined);
    assert.equal(await getOrder(db, 'not-a-uuid'), undefined);
  });

  void test('duplicate id is rejected', async () => {
    const o = makeOrder();
    await insertOrder(db, o);
    await assert.rejects(insertOrder(db, o), /UNIQUE/);
  });

  void test('getOrderByHash: found / not found (case-sensitive like mostrod)', async () => {
    const o = makeOrder({ hash: HASH });
    await insertOrder(db, o);
    assert.equal((await getOrderByHash(db, HASH))?.id, o.id);
    assert.equal(await getOrderByHash(db, HASH.toUpperCase()), undefined);
    assert.equal(await getOrderByHash(db, 'ff'.repeat(32)), undefined);
  });

  void test('newOrderRow fills every optional column with mostrod defaults', () => {
    const o = newOrderRow({
      id: '11111111-1111-4111-8111-111111111111',
      kind: 'sell',
      status: 'pending',
      premium: 0,
      payment_method: 'cash',
      amount: 0,
      fiat_code: 'EUR',
      fiat_amount: 5,
      created_at: 1,
      expires_at: 2,
    });
    assert.equal(o.event_id, '');
    assert.equal(o.hash, null);
    assert.equal(o.dev_fee, 0);
    assert.equal(o.invoice_held_at, 0);
    assert.equal(o.payout_claimed_at, null);
    assert.equal(o.payout_claim_seq, 0);
    assert.equal(o.payout_lost_success_hash, null);
    assert.equal(Object.keys(o).length, 47);
  });
});

void describe('casUpdateOrder', () => {
  void test('wins once, then the same expectation loses (race)', async () => {
    const o = makeOrder();
    await insertOrder(db, o);
    assert.equal(await casUpdateOrder(db, o.id, { status: 'pending' }, { status: 'waiting-payment', taken_at: 5 }), true);
    assert.equal(await casUpdateOrder(db, o.id, { status: 'pending' }, { status: 'waiting-buyer-invoice' }), false);
    const got = await getOrder(db, o.id);
    assert.equal(got?.status, 'waiting-payment');
    assert.equal(got?.taken_at, 5);
  });

  void test('null expectation means IS NULL; array means IN', async () => {
    const o = makeOrder({ status: 'active' });
    await insertOrder(db, o);
    assert.equal(await casUpdateOrder(db, o.id, { hash: 'x' }, { fee: 1 }), false);
    assert.equal(await casUpdateOrder(db, o.id, { hash: null, status: ['fiat-sent', 'active'] }, { hash: HASH }), true);
    assert.equal(await casUpdateOrder(db, o.id, { hash: null }, { fee: 2 }), false);
    assert.equal(await casUpdateOrder(db, o.id, { status: [] }, { fee: 3 }), false);
    assert.equal(await casUpdateOrder(db, o.id, { buyer_invoice: [null, 'x'] }, { fee: 4 }), true);
    assert.equal((await getOrder(db, o.id))?.fee, 4);
  });

  void test('patch can set null and range_parent_id; other rows untouched', async () => {
    const a = makeOrder({ hash: HASH });
    const b = makeOrder({ hash: 'cd'.repeat(32) });
    await insertOrder(db, a);
    await insertOrder(db, b);
    const parent = makeOrder().id;
    assert.equal(await casUpdateOrder(db, a.id, {}, { hash: null, range_parent_id: parent }), true);
    assert.equal((await getOrder(db, a.id))?.hash, null);
    assert.equal((await getOrder(db, a.id))?.range_parent_id, parent);
    assert.equal((await getOrder(db, b.id))?.hash, 'cd'.repeat(32));
  });

  void test('expect on the uuid column range_parent_id', async () => {
    const parent = makeOrder().id;
    const o = makeOrder({ range_parent_id: parent });
    await insertOrder(db, o);
    assert.equal(await casUpdateOrder(db, o.id, { range_parent_id: makeOrder().id }, { fee: 1 }), false);
    assert.equal(await casUpdateOrder(db, o.id, { range_parent_id: parent }, { fee: 1 }), true);
  });

  void test('unknown id → false; empty patch tests the expectation', async () => {
    const o = makeOrder();
    await insertOrder(db, o);
    assert.equal(await casUpdateOrder(db, makeOrder().id, {}, { fee: 1 }), false);
    assert.equal(await casUpdateOrder(db, o.id, { status: 'pending' }, {}), true);
    assert.equal(await casUpdateOrder(db, o.id, { status: 'active' }, {}), false);
  });

  void test('works inside a transaction and rolls back on throw', async () => {
    const o = makeOrder();
    await insertOrder(db, o);
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        assert.equal(await casUpdateOrder(trx, o.id, { status: 'pending' }, { status: 'canceled' }), true);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal((await getOrder(db, o.id))?.status, 'pending');
  });

  void test('mostrod reset-to-initial-state (timeout republish) as one CAS', async () => {
    const o = makeOrder({
      status: 'waiting-payment',
      hash: HASH,
      preimage: 'cd'.repeat(32),
      buyer_invoice: 'lnbc1',
      taken_at: 10,
      invoice_held_at: 11,
      amount: 5000,
    });
    await insertOrder(db, o);
    const ok = await casUpdateOrder(
      db,
      o.id,
      { status: 'waiting-payment' },
      { status: 'pending', amount: 0, fee: 0, dev_fee: 0, hash: null, preimage: null, buyer_invoice: null, taken_at: 0, invoice_held_at: 0 },
    );
    assert.equal(ok, true);
    const r = await getOrder(db, o.id);
    assert.deepEqual(
      [r?.status, r?.amount, r?.hash, r?.preimage, r?.buyer_invoice, r?.taken_at, r?.invoice_held_at],
      ['pending', 0, null, null, null, 0, 0],
    );
  });
});

void describe('scheduler queries', () => {
  void test('findExpiredPending: only pending with expires_at < now', async () => {
    const now = 1000;
    const due = makeOrder({ expires_at: 999 });
    await insertOrder(db, due);
    await insertOrder(db, makeOrder({ expires_at: 1000 }));
    await insertOrder(db, makeOrder({ expires_at: 10, status: 'active' }));
    assert.deepEqual((await findExpiredPending(db, now)).map((o) => o.id), [due.id]);
  });

  void test('findWaitingTimedOut: both waiting states, taken_at < cutoff', async () => {
    const a = makeOrder({ status: 'waiting-payment', taken_at: 100 });
    const b = makeOrder({ status: 'waiting-buyer-invoice', taken_at: 199 });
    await insertOrder(db, a);
    await insertOrder(db, b);
    await insertOrder(db, makeOrder({ status: 'waiting-payment', taken_at: 200 }));
    await insertOrder(db, makeOrder({ status: 'active', taken_at: 1 }));
    const ids = (await findWaitingTimedOut(db, 200)).map((o) => o.id).sort();
    assert.deepEqual(ids, [a.id, b.id].sort());
  });

  void test('findOpenEscrows: hash present and escrow status', async () => {
    const statuses = ['waiting-payment', 'waiting-buyer-invoice', 'active', 'fiat-sent', 'dispute', 'settled-hold-invoice'] as const;
    const want: string[] = [];
    for (const status of statuses) {
      const o = makeOrder({ status, hash: `${status}`.padEnd(64, '0') });
      want.push(o.id);
      await insertOrder(db, o);
    }
    await insertOrder(db, makeOrder({ status: 'active', hash: null }));
    await insertOrder(db, makeOrder({ status: 'success', hash: HASH }));
    await insertOrder(db, makeOrder({ status: 'canceled', hash: 'ee'.repeat(32) }));
    assert.deepEqual((await findOpenEscrows(db)).map((o) => o.id).sort(), want.sort());
  });

  void test('findFailedPayouts: failed_payment = 1 in settled-hold-invoice only', async () => {
    const a = makeOrder({ status: 'settled-hold-invoice', failed_payment: 1 });
    await insertOrder(db, a);
    await insertOrder(db, makeOrder({ status: 'settled-hold-invoice', failed_payment: 0 }));
    await insertOrder(db, makeOrder({ status: 'active', failed_payment: 1 }));
    assert.deepEqual((await findFailedPayouts(db)).map((o) => o.id), [a.id]);
  });

  void test('findOrders with limit and orderBy', async () => {
    for (const created_at of [30, 10, 20]) await insertOrder(db, makeOrder({ created_at }));
    const r = await findOrders(db, { status: 'pending' }, { orderBy: 'created_at', limit: 2 });
    assert.deepEqual(r.map((o) => o.created_at), [10, 20]);
  });
});

void describe('user-facing queries', () => {
  void test('findOrdersByIdsForUser: only the user’s orders, in request order; empty input → []', async () => {
    const mine1 = makeOrder({ master_buyer_pubkey: BUYER });
    const mine2 = makeOrder({ master_seller_pubkey: BUYER });
    const other = makeOrder({ master_buyer_pubkey: SELLER });
    for (const o of [mine1, mine2, other]) await insertOrder(db, o);
    const r = await findOrdersByIdsForUser(db, [mine2.id, other.id, mine1.id.toUpperCase()], BUYER);
    assert.deepEqual(r.map((o) => o.id), [mine2.id, mine1.id]);
    assert.deepEqual(await findOrdersByIdsForUser(db, [], BUYER), []);
  });

  void test('hasPendingTake: buyer in waiting-buyer-invoice, seller in waiting-payment', async () => {
    await insertOrder(db, makeOrder({ master_buyer_pubkey: BUYER, status: 'waiting-buyer-invoice' }));
    await insertOrder(db, makeOrder({ master_seller_pubkey: SELLER, status: 'waiting-payment' }));
    await insertOrder(db, makeOrder({ master_buyer_pubkey: SELLER, status: 'active' }));
    assert.equal(await hasPendingTake(db, BUYER, 'buyer'), true);
    assert.equal(await hasPendingTake(db, BUYER, 'seller'), false);
    assert.equal(await hasPendingTake(db, SELLER, 'seller'), true);
    assert.equal(await hasPendingTake(db, SELLER, 'buyer'), false);
  });

  void test('hasPendingTake rejects a non-hex key with invalid_pubkey', async () => {
    await assert.rejects(hasPendingTake(db, 'z'.repeat(64), 'buyer'), (e) => e instanceof CantDoError && e.reason === 'invalid_pubkey');
  });
});

void describe('restore session', () => {
  void test('orders: both sides, excluded statuses (real hyphenated spellings) left out, NULL index → 0', async () => {
    const asBuyer = makeOrder({ master_buyer_pubkey: BUYER, trade_index_buyer: 3, status: 'active' });
    const asSeller = makeOrder({ master_seller_pubkey: BUYER, trade_index_seller: 5, status: 'waiting-payment' });
    const nullIndex = makeOrder({ master_buyer_pubkey: BUYER, trade_index_buyer: null, status: 'pending' });
    await insertOrder(db, asBuyer);
    await insertOrder(db, asSeller);
    await insertOrder(db, nullIndex);
    for (const status of ['expired', 'success', 'canceled', 'dispute', 'canceled-by-admin', 'completed-by-admin', 'settled-by-admin', 'cooperatively-canceled'] as const) {
      await insertOrder(db, makeOrder({ master_buyer_pubkey: BUYER, status }));
    }
    await insertOrder(db, makeOrder({ master_buyer_pubkey: SELLER, status: 'active' }));
    const r = await restoreSessionOrders(db, BUYER);
    const byId = new Map(r.map((x) => [x.order_id, x]));
    assert.equal(r.length, 3);
    assert.deepEqual(byId.get(asBuyer.id), { order_id: asBuyer.id, trade_index: 3, status: 'active' });
    assert.deepEqual(byId.get(asSeller.id), { order_id: asSeller.id, trade_index: 5, status: 'waiting-payment' });
    assert.deepEqual(byId.get(nullIndex.id), { order_id: nullIndex.id, trade_index: 0, status: 'pending' });
  });

  void test('disputes: open only, side-dependent trade index and initiator', async () => {
    const o1 = makeOrder({ master_buyer_pubkey: BUYER, trade_index_buyer: 2, status: 'dispute', buyer_dispute: 1 });
    const o2 = makeOrder({ master_seller_pubkey: BUYER, trade_index_seller: 9, status: 'dispute', seller_dispute: 1, buyer_dispute: 1 });
    const o3 = makeOrder({ master_seller_pubkey: BUYER, status: 'dispute', seller_dispute: 1 });
    for (const o of [o1, o2, o3]) await insertOrder(db, o);
    const d1 = { id: makeOrder().id, order_id: o1.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: 1, taken_at: 0 } as const;
    const d2 = { ...d1, id: makeOrder().id, order_id: o2.id, status: 'in-progress' } as const;
    const d3 = { ...d1, id: makeOrder().id, order_id: o3.id, status: 'settled' } as const;
    for (const d of [d1, d2, d3]) await insertDispute(db, d);
    const r = await restoreSessionDisputes(db, BUYER);
    const byId = new Map(r.map((x) => [x.dispute_id, x]));
    assert.equal(r.length, 2);
    assert.deepEqual(byId.get(d1.id), { dispute_id: d1.id, order_id: o1.id, trade_index: 2, status: 'initiated', initiator: 'buyer' });
    assert.deepEqual(byId.get(d2.id), { dispute_id: d2.id, order_id: o2.id, trade_index: 9, status: 'in-progress', initiator: null });
  });

  void test('invalid key → invalid_pubkey', async () => {
    await assert.rejects(restoreSessionOrders(db, 'short'), (e) => e instanceof CantDoError && e.reason === 'invalid_pubkey');
    await assert.rejects(restoreSessionDisputes(db, 'short'), (e) => e instanceof CantDoError && e.reason === 'invalid_pubkey');
  });
});

void describe('dev fee (ported from mostrod db.rs / dev_fee.rs tests)', () => {
  const fee = (partial: Parameters<typeof makeOrder>[0]) => makeOrder({ status: 'success', dev_fee: 30, ...partial });

  void test('findUnpaidDevFees: success and settled-hold-invoice, unpaid, no hash or empty hash', async () => {
    const a = fee({});
    const b = fee({ status: 'settled-hold-invoice' });
    const c = fee({ dev_fee_payment_hash: '' });
    for (const o of [a, b, c]) await insertOrder(db, o);
    await insertOrder(db, fee({ dev_fee_paid: 1 }));
    await insertOrder(db, fee({ dev_fee_payment_hash: HASH }));
    await insertOrder(db, fee({ dev_fee_payment_hash: 'PENDING-x-1700000000' }));
    for (const status of ['active', 'pending', 'expired'] as const) await insertOrder(db, fee({ status }));
    await insertOrder(db, fee({ dev_fee: 0 }));
    assert.deepEqual((await findUnpaidDevFees(db)).map((o) => o.id).sort(), [a.id, b.id, c.id].sort());
  });

  void test('claim: succeeds once (also on empty hash), not for paid or unknown orders', async () => {
    const a = fee({});
    const e = fee({ dev_fee_payment_hash: '' });
    const paid = fee({ dev_fee_paid: 1 });
    for (const o of [a, e, paid]) await insertOrder(db, o);
    assert.equal(await claimDevFee(db, a.id, 'PENDING-1'), true);
    assert.equal((await getOrder(db, a.id))?.dev_fee_payment_hash, 'PENDING-1');
    assert.equal(await claimDevFee(db, a.id, 'PENDING-2'), false);
    assert.equal((await getOrder(db, a.id))?.dev_fee_payment_hash, 'PENDING-1');
    assert.equal(await claimDevFee(db, e.id, 'PENDING-3'), true);
    assert.equal(await claimDevFee(db, paid.id, 'PENDING-4'), false);
    assert.equal(await claimDevFee(db, makeOrder().id, 'PENDING-5'), false);
  });

  void test('release clears only the exact marker', async () => {
    const a = fee({ dev_fee_payment_hash: 'PENDING-abc-1700000000' });
    await insertOrder(db, a);
    assert.equal(await releaseDevFeeClaim(db, a.id, 'PENDING-other-1700000000'), false);
    assert.equal((await getOrder(db, a.id))?.dev_fee_payment_hash, 'PENDING-abc-1700000000');
    assert.equal(await releaseDevFeeClaim(db, a.id, 'PENDING-abc-1700000000'), true);
    assert.equal((await getOrder(db, a.id))?.dev_fee_payment_hash, null);
  });

  void test('stale claims (any status), paid-with-hash and partial queries', async () => {
    const stale = fee({ status: 'canceled', dev_fee_payment_hash: 'PENDING-a-1' });
    const staleLower = fee({ dev_fee_payment_hash: 'pending-b' });
    const paid = fee({ dev_fee_paid: 1, dev_fee_payment_hash: HASH });
    const partial = fee({ dev_fee_payment_hash: 'cd'.repeat(32), status: 'settled-hold-invoice' });
    for (const o of [stale, staleLower, paid, partial]) await insertOrder(db, o);
    await insertOrder(db, fee({ dev_fee_paid: 1, dev_fee_payment_hash: HASH, status: 'active' }));
    await insertOrder(db, fee({ dev_fee_paid: 1, dev_fee_payment_hash: null }));
    await insertOrder(db, fee({ dev_fee_payment_hash: 'ee'.repeat(32), dev_fee: 0 }));
    assert.deepEqual((await findStaleDevFeeClaims(db)).map((o) => o.id).sort(), [stale.id, staleLower.id].sort());
    assert.deepEqual((await findUnverifiedPaidDevFees(db, 0, 10)).map((o) => [o.id, o.hash]), [[paid.id, HASH]]);
    assert.deepEqual((await findPartialDevFees(db)).map((o) => o.id), [partial.id]);
    // Verified once: never listed again; a second mark (or one for another hash) changes nothing.
    assert.equal(await markDevFeeVerified(db, paid.id, 'ff'.repeat(32), 1_000), false);
    assert.equal(await markDevFeeVerified(db, paid.id, HASH, 1_000), true);
    assert.equal(await markDevFeeVerified(db, paid.id, HASH, 2_000), false);
    assert.deepEqual(await findUnverifiedPaidDevFees(db, 0, 10), []);
  });

  void test('unverified paid dev fees come in rowid batches after a cursor', async () => {
    const paid = [];
    for (let i = 0; i < 5; i++) {
      const o = fee({ dev_fee_paid: 1, dev_fee_payment_hash: i.toString(16).padStart(2, '0').repeat(32) });
      await insertOrder(db, o);
      paid.push(o.id);
    }
    const first = await findUnverifiedPaidDevFees(db, 0, 2);
    const second = await findUnverifiedPaidDevFees(db, first[1]?.rowid ?? 0, 2);
    const third = await findUnverifiedPaidDevFees(db, second[1]?.rowid ?? 0, 2);
    assert.deepEqual([...first, ...second, ...third].map((o) => o.id), paid);
    assert.equal(third.length, 1);
  });
});
