/**
 * The first-contact lane's known-sender set (protocol v2): loaded from the database (trade keys of
 * live orders, disputed ones included; solvers of open disputes; every solver; the node key),
 * refreshed by reload(), and a key accepted meanwhile is kept.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import { insertDispute } from '../../../src/db/disputes.js';
import { casUpdateOrder, insertOrder } from '../../../src/db/orders.js';
import { insertUser } from '../../../src/db/users.js';
import { ActiveKeys } from '../../../src/nostr/active-keys.js';
import { makeOrder, testDb } from '../../support/db.js';

const k = (c: string) => c.repeat(64);
const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await closeDatabase(db);
});

void describe('ActiveKeys', () => {
  void test('live orders (dispute included), open-dispute solvers, solvers and the node key are known; finished trades are not', async () => {
    const db = await testDb();
    dbs.push(db);
    await insertOrder(db, makeOrder({ status: 'active', creator_pubkey: k('1'), seller_pubkey: k('1'), buyer_pubkey: k('2') }));
    const disputed = makeOrder({ status: 'dispute', creator_pubkey: k('3'), buyer_pubkey: k('3'), seller_pubkey: k('4') });
    await insertOrder(db, disputed);
    await insertDispute(db, { id: randomUUID(), order_id: disputed.id, status: 'in-progress', order_previous_status: 'active', solver_pubkey: k('5'), created_at: 1, taken_at: 2 });
    await insertOrder(db, makeOrder({ status: 'success', creator_pubkey: k('6'), seller_pubkey: k('6'), buyer_pubkey: k('7') }));
    await insertUser(db, { pubkey: k('8'), is_solver: 1, created_at: 1 });
    await insertUser(db, { pubkey: k('9'), created_at: 1 });
    const keys = new ActiveKeys(db, [k('f')]);
    assert.equal(await keys.reload(), 6);
    for (const c of ['1', '2', '3', '4', '5', '8', 'f']) assert.ok(keys.has(k(c)), c);
    for (const c of ['6', '7', '9', 'e']) assert.equal(keys.has(k(c)), false, c);
  });

  void test('a key added is known at once; a reload drops keys of trades that ended and keeps keys added during it', async () => {
    const db = await testDb();
    dbs.push(db);
    const o = makeOrder({ status: 'active', creator_pubkey: k('1'), seller_pubkey: k('1'), buyer_pubkey: k('2') });
    await insertOrder(db, o);
    const keys = new ActiveKeys(db);
    await keys.reload();
    keys.add(k('a'));
    assert.ok(keys.has(k('a')));
    assert.ok(await casUpdateOrder(db, o.id, { status: 'active' }, { status: 'success' }));
    const pending = keys.reload();
    keys.add(k('b'));
    await pending;
    assert.equal(keys.has(k('1')), false, 'finished trade left the set');
    assert.equal(keys.has(k('a')), false, 'an added key without a live order leaves at the next reload');
    assert.ok(keys.has(k('b')), 'added while the reload ran: kept');
  });
});
