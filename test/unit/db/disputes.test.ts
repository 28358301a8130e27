import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeDatabase, type Db } from '../../../src/db/database.js';
import {
  DuplicateDisputeError,
  casUpdateDispute,
  findDisputes,
  getDispute,
  getDisputeByOrder,
  insertDispute,
  isAssignedSolver,
} from '../../../src/db/disputes.js';
import type { DisputeRow } from '../../../src/db/types.js';
import { testDb } from '../../support/db.js';

const SOLVER = '5'.repeat(64);
let db: Db;
beforeEach(async () => {
  db = await testDb();
});
afterEach(async () => {
  await closeDatabase(db);
});

const dispute = (p: Partial<DisputeRow> = {}): DisputeRow => ({
  id: randomUUID(),
  order_id: randomUUID(),
  status: 'initiated',
  order_previous_status: 'active',
  solver_pubkey: null,
  created_at: 1_700_000_000,
  taken_at: 0,
  ...p,
});

void test('insert and read back by id and by order id', async () => {
  const d = dispute();
  await insertDispute(db, d);
  assert.deepEqual(await getDispute(db, d.id), d);
  assert.deepEqual(await getDisputeByOrder(db, d.order_id), d);
  assert.equal(await getDispute(db, d.order_id), undefined);
  assert.equal(await getDisputeByOrder(db, 'nope'), undefined);
});

void test('a second dispute for the same order throws DuplicateDisputeError', async () => {
  const d = dispute();
  await insertDispute(db, d);
  await assert.rejects(insertDispute(db, dispute({ order_id: d.order_id })), (e) => e instanceof DuplicateDisputeError && e.orderId === d.order_id);
  // a duplicate primary key is not a "duplicate dispute"
  await assert.rejects(insertDispute(db, { ...d, order_id: randomUUID() }), (e) => !(e instanceof DuplicateDisputeError));
});

void test('take a dispute with CAS: only one solver wins', async () => {
  const d = dispute();
  await insertDispute(db, d);
  const take = (solver: string) =>
    casUpdateDispute(db, d.id, { status: 'initiated' }, { status: 'in-progress', solver_pubkey: solver, taken_at: 5 });
  assert.equal(await take(SOLVER), true);
  assert.equal(await take('6'.repeat(64)), false);
  const got = await getDispute(db, d.id);
  assert.equal(got?.status, 'in-progress');
  assert.equal(got?.solver_pubkey, SOLVER);
  assert.equal(got?.taken_at, 5);
  assert.equal(await isAssignedSolver(db, SOLVER, d.order_id), true);
  assert.equal(await isAssignedSolver(db, '6'.repeat(64), d.order_id), false);
});

void test('findDisputes by status list and solver', async () => {
  const a = dispute({ status: 'in-progress', solver_pubkey: SOLVER });
  const b = dispute({ status: 'settled', solver_pubkey: SOLVER });
  await insertDispute(db, a);
  await insertDispute(db, b);
  await insertDispute(db, dispute());
  assert.deepEqual((await findDisputes(db, { solver_pubkey: SOLVER, status: ['initiated', 'in-progress'] })).map((d) => d.id), [a.id]);
  assert.equal((await findDisputes(db, { solver_pubkey: null })).length, 1);
});
