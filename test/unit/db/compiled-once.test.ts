import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledQuery } from 'kysely';
import { closeDatabase, statementCacheOf, type Db } from '../../../src/db/database.js';
import { compiledOnce, compiledOncePerShape } from '../../../src/db/compiled-once.js';
import { ORDER_CHANGE_STATEMENTS } from '../../../src/db/order-changes.js';
import { ORDER_STATEMENTS, getOrder, insertOrder, orderToDb, setOrderEventId } from '../../../src/db/orders.js';
import type { UserRow } from '../../../src/db/types.js';
import { TRANSPORT_STATEMENTS, getKeyTransport, setKeyTransport, type TransportTable } from '../../../src/db/transports.js';
import { sql } from 'kysely';
import { USER_STATEMENTS, getLastTradeIndex, getUser, insertUser, raiseLastTradeIndex } from '../../../src/db/users.js';
import { andAll, expectConditions } from '../../../src/db/row-codec.js';
import { uuidToBlob } from '../../../src/db/uuid-blob.js';
import { PUBLICATION_LEDGER_STATEMENTS } from '../../../src/ops/publication-ledger.js';
import { opsDb } from '../../../src/ops/tables.js';
import type { Kysely } from 'kysely';
import type { DbSchema } from '../../../src/db/schema.js';
import type { OrderChangesTable } from '../../../src/db/order-changes.js';
import { makeOrder, testDb } from '../../support/db.js';

const PK = 'a1'.repeat(32);
let db: Db;
beforeEach(async () => {
  db = await testDb();
});
afterEach(async () => {
  await closeDatabase(db);
});

function assertSame(hot: CompiledQuery, reference: CompiledQuery): void {
  assert.equal(hot.sql, reference.sql);
  assert.deepEqual(hot.parameters, reference.parameters);
}

/** insertUser's row: mostrod's defaults, then the caller's fields (in the caller's key order). */
function fullUser(row: Partial<UserRow> & { pubkey: string; created_at: number }): UserRow {
  return {
    is_admin: 0,
    admin_password: null,
    is_solver: 0,
    is_banned: 0,
    category: 0,
    last_trade_index: 0,
    total_reviews: 0,
    total_rating: 0,
    last_rating: 0,
    max_rating: 0,
    min_rating: 0,
    ...row,
  };
}

/** A new-order row with its keys in the new-order handler's order (src/app/handlers/new-order.ts). */
function handlerShapedOrder(): ReturnType<typeof makeOrder> {
  const o = makeOrder({ buyer_invoice: 'lnbcrt1', min_amount: 10, max_amount: 20, trade_index_seller: 3 });
  const keys = [
    'id', 'kind', 'event_id', 'hash', 'preimage', 'creator_pubkey', 'cancel_initiator_pubkey', 'buyer_pubkey',
    'master_buyer_pubkey', 'seller_pubkey', 'master_seller_pubkey', 'status', 'price_from_api', 'premium',
    'payment_method', 'amount', 'min_amount', 'max_amount', 'buyer_dispute', 'seller_dispute',
    'buyer_cooperativecancel', 'seller_cooperativecancel', 'fee', 'routing_fee', 'fiat_code', 'fiat_amount',
    'buyer_invoice', 'range_parent_id', 'invoice_held_at', 'taken_at', 'created_at', 'buyer_sent_rate',
    'seller_sent_rate', 'payment_attempts', 'failed_payment', 'expires_at', 'trade_index_seller', 'trade_index_buyer',
    'next_trade_pubkey', 'next_trade_index', 'dev_fee', 'dev_fee_paid', 'dev_fee_payment_hash', 'payout_payment_hash',
    'payout_claimed_at', 'payout_claim_seq', 'payout_lost_success_hash',
  ] as const;
  assert.equal(keys.length, Object.keys(o).length);
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as unknown as ReturnType<typeof makeOrder>;
}

void describe('hot statements compiled once: the same SQL and parameters as the Kysely builders they replace', () => {
  // Each reference below is the repository's builder code as it was before (per call), on the
  // daemon's own database handle.
  void test('transports: the key upsert of every v2 first contact', () => {
    const now = 1_700_000_000;
    for (const transport of ['nip44', 'gift-wrap'] as const) {
      assertSame(
        TRANSPORT_STATEMENTS.UPSERT_KEY_TRANSPORT.compile(PK, transport, now),
        db
          .withTables<{ mostrod_ts_transport: TransportTable }>()
          .insertInto('mostrod_ts_transport')
          .values({ pubkey: PK, transport, first_seen_at: now, updated_at: now, last_seen_at: now })
          .onConflict((oc) =>
            oc
              .column('pubkey')
              .doUpdateSet({
                transport,
                updated_at: sql<number>`CASE WHEN mostrod_ts_transport.transport = ${transport} THEN mostrod_ts_transport.updated_at ELSE ${now} END`,
                last_seen_at: sql<number>`max(mostrod_ts_transport.last_seen_at, ${now})`,
              })
              .where((eb) =>
                eb.or([eb('mostrod_ts_transport.transport', '!=', transport), eb('mostrod_ts_transport.last_seen_at', '<', now)]),
              ),
          )
          .compile(),
      );
    }
  });

  void test('transports: the compiled upsert still reports whether a row changed (insert, no-op, switch, later day, never back)', async () => {
    const t = 1_700_000_000;
    assert.equal(await setKeyTransport(db, PK, 'nip44', t), true, 'new key inserted');
    assert.equal(await setKeyTransport(db, PK, 'nip44', t), false, 'same transport, same time: nothing changes');
    assert.equal(await setKeyTransport(db, PK, 'nip44', t - 100), false, 'last_seen_at never moves back');
    assert.equal(await setKeyTransport(db, PK, 'gift-wrap', t + 10), true, 'transport switched');
    assert.equal(await getKeyTransport(db, PK), 'gift-wrap');
    assert.equal(await setKeyTransport(db, PK, 'gift-wrap', t + 86_400), true, 'activity on a later day');
    const row = await db
      .withTables<{ mostrod_ts_transport: TransportTable }>()
      .selectFrom('mostrod_ts_transport')
      .selectAll()
      .where('pubkey', '=', PK)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { pubkey: PK, transport: 'gift-wrap', first_seen_at: t, updated_at: t + 10, last_seen_at: t + 86_400 });
  });

  void test('users: select *, the trade-index gate read, the index raise', () => {
    assertSame(
      USER_STATEMENTS.SELECT_USER.compile(PK),
      db.selectFrom('users').selectAll().where('pubkey', '=', PK).limit(1).compile(),
    );
    assertSame(
      USER_STATEMENTS.SELECT_LAST_TRADE_INDEX.compile(PK),
      db.selectFrom('users').select('last_trade_index').where('pubkey', '=', PK).limit(1).compile(),
    );
    assertSame(
      USER_STATEMENTS.RAISE_LAST_TRADE_INDEX.compile(PK, 7),
      db
        .updateTable('users')
        .set({ last_trade_index: 7 })
        .where('pubkey', '=', PK)
        .where('last_trade_index', '<', 7)
        .returning(['total_rating', 'total_reviews', 'created_at'])
        .compile(),
    );
  });

  void test('users: insert … on conflict do nothing, for each caller key order', () => {
    for (const full of [
      fullUser({ pubkey: PK, last_trade_index: 4, created_at: 100 }), // intake's createUser
      fullUser({ pubkey: PK, created_at: 100, is_solver: 1 }), // makeSolver
      fullUser({ pubkey: PK, created_at: 100 }),
    ]) {
      assertSame(
        USER_STATEMENTS.INSERT_USER.compile(full),
        db
          .insertInto('users')
          .values(full)
          .onConflict((oc) => oc.column('pubkey').doNothing())
          .compile(),
      );
    }
  });

  void test('orders: insert (new-order handler row, newOrderRow row, other key orders, undefined left out)', () => {
    const rows = [handlerShapedOrder(), makeOrder(), makeOrder({ range_parent_id: makeOrder().id })];
    const reversed = Object.fromEntries(Object.entries(orderToDb(makeOrder())).reverse()) as ReturnType<typeof orderToDb>;
    const withUndefined = { ...orderToDb(makeOrder()), hash: undefined, buyer_invoice: undefined };
    for (const values of [...rows.map(orderToDb), reversed, withUndefined]) {
      assertSame(ORDER_STATEMENTS.INSERT_ORDER.compile(values), db.insertInto('orders').values(values).compile());
    }
  });

  void test("orders: publishOrder's event-id update equals casUpdateOrder(id, { status }, { event_id })", () => {
    const id = makeOrder().id;
    const blob = uuidToBlob(id);
    assertSame(
      ORDER_STATEMENTS.SET_EVENT_ID.compile(blob, 'pending', 'f'.repeat(64)),
      // casUpdateOrder's builder: set(patchToDb(patch)).where('id', '=', blob).where(andAll(expectConditions(expect)))
      db
        .updateTable('orders')
        .set({ event_id: 'f'.repeat(64) })
        .where('id', '=', blob)
        .where(andAll(expectConditions({ status: 'pending' }, (_column, value) => value)))
        .compile(),
    );
    // The exact text casUpdateOrder compiles to for that shape (andAll wraps the conditions in parentheses).
    assert.equal(
      ORDER_STATEMENTS.SET_EVENT_ID.compile(blob, 'pending', 'x').sql,
      'update "orders" set "event_id" = ? where "id" = ? and ("status" = ?)',
    );
  });

  void test('order change log: the delete after a publication, and the change a publication finishes', () => {
    const blob = uuidToBlob(makeOrder().id);
    const changes = (db as Kysely<DbSchema>).withTables<{ mostrod_ts_order_changes: OrderChangesTable }>();
    assertSame(
      ORDER_CHANGE_STATEMENTS.CLEAR_ORDER_CHANGE.compile(blob, 'pending'),
      changes.deleteFrom('mostrod_ts_order_changes').where('order_id', '=', blob).where('status', '=', 'pending').compile(),
    );
    assertSame(
      ORDER_CHANGE_STATEMENTS.SELECT_ORDER_CHANGE.compile(blob),
      changes.selectFrom('mostrod_ts_order_changes').selectAll().where('order_id', '=', blob).compile(),
    );
  });

  void test('publication ledger: the upsert', () => {
    const id = makeOrder().id;
    assertSame(
      PUBLICATION_LEDGER_STATEMENTS.UPSERT_ORDER_PUBLICATION.compile(id, 'pending', 'e'.repeat(64), 10, 11),
      opsDb(db)
        .insertInto('mostrod_ts_order_publications')
        .values({ order_id: id, status: 'pending', event_id: 'e'.repeat(64), created_at: 10, recorded_at: 11 })
        .onConflict((oc) =>
          oc
            .column('order_id')
            .doUpdateSet((eb) => ({
              status: eb.ref('excluded.status'),
              event_id: eb.ref('excluded.event_id'),
              created_at: eb.ref('excluded.created_at'),
              recorded_at: eb.ref('excluded.recorded_at'),
            }))
            .where('mostrod_ts_order_publications.created_at', '<=', (eb) => eb.ref('excluded.created_at')),
        )
        .compile(),
    );
  });
});

void describe('compiledOnce', () => {
  void test('an argument the builder does not pass as a value is refused at the first compilation', () => {
    const q = compiledOnce((d, pubkey: string, _unused: number) => d.selectFrom('users').selectAll().where('pubkey', '=', pubkey));
    assert.throws(() => q.compile(PK, 1), /not parameters/);
    const coerced = compiledOnce((d, n: number) => d.selectFrom('users').selectAll().limit(n + 1));
    assert.throws(() => coerced.compile(1), TypeError);
  });

  void test('one statement prepared, fresh bindings each call', async () => {
    const cache = statementCacheOf(db);
    assert.ok(cache);
    for (let i = 1; i <= 5; i++) await insertUser(db, { pubkey: i.toString(16).padStart(64, '0'), created_at: i, last_trade_index: i });
    const before = cache.prepared;
    for (let i = 1; i <= 5; i++) assert.equal(await getLastTradeIndex(db, i.toString(16).padStart(64, '0')), i);
    assert.equal(await getLastTradeIndex(db, PK), undefined);
    assert.equal(cache.prepared - before, 1);
    const a = USER_STATEMENTS.SELECT_LAST_TRADE_INDEX.compile(PK);
    const b = USER_STATEMENTS.SELECT_LAST_TRADE_INDEX.compile('b'.repeat(64));
    assert.equal(a.sql, b.sql);
    assert.deepEqual(b.parameters, ['b'.repeat(64), 1]);
  });

  void test('runs inside a transaction (rolled back with it) and waits for another one (the connection mutex)', async () => {
    await insertUser(db, { pubkey: PK, created_at: 1, last_trade_index: 1 });
    const o = makeOrder();
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        assert.deepEqual(await raiseLastTradeIndex(trx, PK, 2), { total_rating: 0, total_reviews: 0, created_at: 1 });
        await insertOrder(trx, o);
        assert.equal(await setOrderEventId(trx, o.id, 'pending', 'f'.repeat(64)), true);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await getLastTradeIndex(db, PK), 1);
    assert.equal(await getOrder(db, o.id), undefined);

    // A statement on the database while a transaction is open elsewhere does not run inside it.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const trxDone = db.transaction().execute(async (trx) => {
      await raiseLastTradeIndex(trx, PK, 9);
      await gate;
      throw new Error('roll back');
    });
    await new Promise((resolve) => setImmediate(resolve));
    const outside = getUser(db, PK);
    release();
    await assert.rejects(trxDone, /roll back/);
    assert.equal((await outside)?.last_trade_index, 1);
  });

  void test('per shape: a bounded number of row shapes is kept; more are still correct', async () => {
    const q = compiledOncePerShape((d, row: Record<string, unknown>) => d.selectFrom('users').selectAll().where('pubkey', 'in', Object.values(row) as string[]));
    // Not an insert, but the same mechanism: 20 shapes (beyond the kept 16) compile like the builder.
    for (let n = 1; n <= 20; n++) {
      const row = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));
      const ref = db.selectFrom('users').selectAll().where('pubkey', 'in', Object.values(row) as string[]).compile();
      assertSame(q.compile(row), ref);
      assert.deepEqual((await q.run(db, row)).rows, []);
    }
  });
});
