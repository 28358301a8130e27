import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeDatabase, statementCacheOf } from '../../../src/db/database.js';
import { casUpdateOrder, getOrder, insertOrder } from '../../../src/db/orders.js';
import { makeOrder, testDb } from '../../support/db.js';

void describe('statement cache (Kysely over better-sqlite3)', () => {
  void test('a repository query is prepared once and then reused, with fresh bindings each time', async () => {
    const db = await testDb();
    const cache = statementCacheOf(db);
    assert.ok(cache);
    const orders = Array.from({ length: 5 }, (_, i) => makeOrder({ fiat_amount: 10 + i }));
    for (const o of orders) await insertOrder(db, o);
    const afterInserts = cache.prepared;
    for (const o of orders) assert.equal((await getOrder(db, o.id))?.fiat_amount, o.fiat_amount);
    const afterFirstRound = cache.prepared;
    for (let round = 0; round < 3; round++) {
      for (const o of orders) assert.equal((await getOrder(db, o.id))?.id, o.id);
    }
    assert.equal(cache.prepared, afterFirstRound, 'no statement prepared again');
    assert.equal(afterFirstRound - afterInserts, 1, 'one statement for every getOrder');
    // Writes through a cached statement report their own row counts (compare-and-set still works).
    assert.equal(await casUpdateOrder(db, orders[0]!.id, { status: 'pending' }, { status: 'canceled' }), true);
    assert.equal(await casUpdateOrder(db, orders[1]!.id, { status: 'pending' }, { status: 'canceled' }), true);
    assert.equal(await casUpdateOrder(db, orders[0]!.id, { status: 'pending' }, { status: 'canceled' }), false);
    assert.equal((await getOrder(db, orders[0]!.id))?.status, 'canceled');
    // Transactions go through the same cache.
    await db.transaction().execute(async (trx) => {
      await casUpdateOrder(trx, orders[2]!.id, { status: 'pending' }, { status: 'expired' });
    });
    assert.equal((await getOrder(db, orders[2]!.id))?.status, 'expired');
    await closeDatabase(db);
  });
});
