import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import {
  casUpdateUserRating,
  getUser,
  insertUser,
  isSolver,
  makeSolver,
  setLastTradeIndex,
} from '../../../src/db/users.js';
import { CantDoError } from '../../../src/errors.js';
import { testDb } from '../../support/db.js';

const PK = 'a1'.repeat(32);
let db: Db;
beforeEach(async () => {
  db = await testDb();
});
afterEach(async () => {
  await closeDatabase(db);
});

const cantDo = (reason: string) => (e: unknown) => e instanceof CantDoError && e.reason === reason;

void test('insertUser fills defaults and refuses a second insert', async () => {
  assert.equal(await insertUser(db, { pubkey: PK, created_at: 100, last_trade_index: 2 }), true);
  assert.deepEqual(await getUser(db, PK), {
    pubkey: PK,
    is_admin: 0,
    admin_password: null,
    is_solver: 0,
    is_banned: 0,
    category: 0,
    last_trade_index: 2,
    total_reviews: 0,
    total_rating: 0,
    last_rating: 0,
    max_rating: 0,
    min_rating: 0,
    created_at: 100,
  });
  assert.equal(await insertUser(db, { pubkey: PK, created_at: 200 }), false);
  assert.equal((await getUser(db, PK))?.created_at, 100);
  assert.equal(await getUser(db, 'b'.repeat(64)), undefined);
});

void describe('setLastTradeIndex (mostrod update_user_trade_index)', () => {
  void test('valid update returns true; unknown user false', async () => {
    await insertUser(db, { pubkey: PK, created_at: 1 });
    assert.equal(await setLastTradeIndex(db, PK, 5), true);
    assert.equal((await getUser(db, PK))?.last_trade_index, 5);
    assert.equal(await setLastTradeIndex(db, 'c'.repeat(64), 5), false);
  });
  void test('expectOld makes it compare-and-set', async () => {
    await insertUser(db, { pubkey: PK, created_at: 1, last_trade_index: 3 });
    assert.equal(await setLastTradeIndex(db, PK, 4, 2), false);
    assert.equal(await setLastTradeIndex(db, PK, 4, 3), true);
    assert.equal((await getUser(db, PK))?.last_trade_index, 4);
  });
  void test('short / non-hex pubkey → invalid_pubkey; negative → invalid_trade_index', async () => {
    await assert.rejects(setLastTradeIndex(db, 'abc', 1), cantDo('invalid_pubkey'));
    await assert.rejects(setLastTradeIndex(db, 'g'.repeat(64), 1), cantDo('invalid_pubkey'));
    await assert.rejects(setLastTradeIndex(db, PK, -1), cantDo('invalid_trade_index'));
  });
});

void describe('solvers (HQ-14: existing users can be promoted)', () => {
  void test('created → already; existing user promoted', async () => {
    assert.equal(await makeSolver(db, PK, 10), 'created');
    assert.equal(await isSolver(db, PK), true);
    assert.equal(await makeSolver(db, PK, 11), 'already');
    const other = 'd'.repeat(64);
    await insertUser(db, { pubkey: other, created_at: 1, total_reviews: 3 });
    assert.equal(await isSolver(db, other), false);
    assert.equal(await makeSolver(db, other, 12), 'promoted');
    assert.equal(await isSolver(db, other), true);
    assert.equal((await getUser(db, other))?.total_reviews, 3, 'promotion keeps the user row');
  });
  void test('invalid pubkey rejected', async () => {
    await assert.rejects(makeSolver(db, 'xyz', 1), cantDo('invalid_pubkey'));
  });
});

void describe('casUpdateUserRating (mostrod update_user_rating validation)', () => {
  const valid = { last_rating: 4, min_rating: 3, max_rating: 5, total_reviews: 10, total_rating: 4.0 };
  void test('valid values stored exactly, guarded by total_reviews', async () => {
    await insertUser(db, { pubkey: PK, created_at: 1, total_reviews: 9 });
    assert.equal(await casUpdateUserRating(db, PK, { total_reviews: 8 }, valid), false);
    assert.equal(await casUpdateUserRating(db, PK, { total_reviews: 9 }, valid), true);
    const u = await getUser(db, PK);
    assert.deepEqual([u?.last_rating, u?.min_rating, u?.max_rating, u?.total_reviews, u?.total_rating], [4, 3, 5, 10, 4.0]);
  });
  const bad: Array<[string, Partial<typeof valid>]> = [
    ['last rating 6', { last_rating: 6, max_rating: 6 }],
    ['last rating -1', { last_rating: -1, min_rating: -1 }],
    ['last rating 0', { last_rating: 0, min_rating: 0 }],
    ['negative reviews', { total_reviews: -1 }],
    ['total exceeds 5 × reviews', { total_reviews: 2, total_rating: 11 }],
    ['min > last', { min_rating: 3, last_rating: 2 }],
    ['last > max', { last_rating: 5, max_rating: 4 }],
  ];
  for (const [name, p] of bad) {
    void test(`rejects ${name}`, async () => {
      await insertUser(db, { pubkey: PK, created_at: 1 });
      await assert.rejects(casUpdateUserRating(db, PK, { total_reviews: 0 }, { ...valid, ...p }), cantDo('invalid_rating'));
    });
  }
  void test('invalid pubkey', async () => {
    await assert.rejects(casUpdateUserRating(db, 'ab', { total_reviews: 0 }, valid), cantDo('invalid_pubkey'));
  });
});
