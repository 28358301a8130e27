/**
 * Migration 20261209000000 (range children): the release record table, and the child lookup by
 * parent searching a partial index.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../src/db/sqlite-driver.js';
import { closeDatabase, openDatabase, type Db } from '../../../src/db/database.js';
import { insertOrder } from '../../../src/db/orders.js';
import { deleteRangeRelease, getRangeRelease, pruneRangeReleases, recordRangeRelease } from '../../../src/db/range-releases.js';
import { makeOrder } from '../../support/db.js';

const sqliteOf = (db: Db): Database => (db as unknown as { sqlite: Database }).sqlite;
const ID = '00000000-0000-4000-8000-000000000001';
const KEY = 'c3'.repeat(32);

void describe('migration 20261209000000: range children', () => {
  void test('a release record is written, replaced by a later release, read back and deleted', async () => {
    const db = await openDatabase(':memory:');
    try {
      assert.equal(await getRangeRelease(db, ID), undefined);
      await recordRangeRelease(db, ID, { pubkey: KEY, index: 3 }, 100);
      assert.deepEqual(await getRangeRelease(db, ID), { nextTrade: { pubkey: KEY, index: 3 }, releasedAt: 100 });
      await recordRangeRelease(db, ID, null, 200);
      assert.deepEqual(await getRangeRelease(db, ID), { nextTrade: null, releasedAt: 200 });
      await deleteRangeRelease(db, ID);
      assert.equal(await getRangeRelease(db, ID), undefined);
      assert.equal(await getRangeRelease(db, 'not-a-uuid'), undefined);
    } finally {
      await closeDatabase(db);
    }
  });

  void test('records of orders that can no longer finish a release are pruned; the others stay', async () => {
    const db = await openDatabase(':memory:');
    try {
      const statuses = ['fiat-sent', 'dispute', 'settled-hold-invoice', 'canceled', 'success', 'active'] as const;
      const orders = statuses.map((status) => makeOrder({ status }));
      for (const o of orders) {
        await insertOrder(db, o);
        await recordRangeRelease(db, o.id, null, 100);
      }
      await recordRangeRelease(db, ID, null, 100); // an order that does not exist
      assert.equal(await pruneRangeReleases(db), 4);
      const kept = [];
      for (const o of orders) if ((await getRangeRelease(db, o.id)) !== undefined) kept.push(o.status);
      assert.deepEqual(kept, ['fiat-sent', 'dispute', 'settled-hold-invoice']);
      assert.equal(await pruneRangeReleases(db), 0);
    } finally {
      await closeDatabase(db);
    }
  });

  void test('the child lookup by parent searches the partial index', async () => {
    const db = await openDatabase(':memory:');
    try {
      const plan = sqliteOf(db)
        .prepare('EXPLAIN QUERY PLAN SELECT * FROM "orders" WHERE "range_parent_id" = ?')
        .all(Buffer.alloc(16)) as { detail: string }[];
      const detail = plan.map((p) => p.detail).join(' | ');
      assert.match(detail, /USING INDEX idx_orders_range_parent_id\b/, detail);
    } finally {
      await closeDatabase(db);
    }
  });
});
