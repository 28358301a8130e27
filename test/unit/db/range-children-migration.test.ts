/**
 * Migration 20261209000000 (range children): the child lookup by parent searches a partial index,
 * and a live range SELL order carried over from 0.17.1 loses the counterparty's `next_trade` that 0.17.1's
 * fiat-sent stored on it (upstream #891) — a release finished from LND's SETTLED update plans the
 * child from those fields, so they must be the seller's own or none. Buy orders and finished sell
 * orders keep theirs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '../../../src/db/sqlite-driver.js';
import { closeDatabase, openDatabase, type Db } from '../../../src/db/database.js';
import { getOrder, insertOrder } from '../../../src/db/orders.js';
import type { OrderRow } from '../../../src/db/types.js';
import { makeOrder } from '../../support/db.js';

const MIGRATIONS = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const THIS = '20261209000000_mostrod_ts_range_children.sql';
const PLANTED = 'dd'.repeat(32);

const sqliteOf = (db: Db): Database => (db as unknown as { sqlite: Database }).sqlite;

void describe('migration 20261209000000: range children', () => {
  void test('a 0.17.1 buyer’s next_trade on a live sell order is cleared; buy orders and finished trades keep theirs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mostrod-range-'));
    const file = join(dir, 'mostro.db');
    const before = join(dir, 'migrations-before');
    mkdirSync(before);
    for (const f of readdirSync(MIGRATIONS)) if (f.endsWith('.sql') && f < THIS) copyFileSync(join(MIGRATIONS, f), join(before, f));
    const planted = { next_trade_pubkey: PLANTED, next_trade_index: 9, min_amount: 10, max_amount: 50 };
    const rows: Record<string, OrderRow> = {
      sellFiatSent: makeOrder({ kind: 'sell', status: 'fiat-sent', ...planted }),
      sellDispute: makeOrder({ kind: 'sell', status: 'dispute', ...planted }),
      sellActive: makeOrder({ kind: 'sell', status: 'active', ...planted }),
      sellSuccess: makeOrder({ kind: 'sell', status: 'success', ...planted }),
      buyFiatSent: makeOrder({ kind: 'buy', status: 'fiat-sent', ...planted }),
      sellFixed: makeOrder({ kind: 'sell', status: 'fiat-sent', ...planted, min_amount: null, max_amount: null }),
    };
    const old = await openDatabase(file, { migrationsDir: before });
    for (const r of Object.values(rows)) await insertOrder(old, r);
    await closeDatabase(old);

    const db = await openDatabase(file);
    try {
      const next = async (r: OrderRow) => {
        const o = await getOrder(db, r.id);
        return [o?.next_trade_pubkey, o?.next_trade_index];
      };
      assert.deepEqual(await next(rows['sellFiatSent']!), [null, null]);
      assert.deepEqual(await next(rows['sellDispute']!), [null, null]);
      assert.deepEqual(await next(rows['sellActive']!), [null, null]);
      assert.deepEqual(await next(rows['sellSuccess']!), [PLANTED, 9], 'history is not rewritten');
      assert.deepEqual(await next(rows['buyFiatSent']!), [PLANTED, 9], 'a buy maker’s own next_trade is kept');
      assert.deepEqual(await next(rows['sellFixed']!), [PLANTED, 9], 'not a range order: never read, left as it is');
    } finally {
      await closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
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
