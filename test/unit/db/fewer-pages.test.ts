/**
 * Migration 20261207000000 (fewer pages per new order): the indexes whose column a new order leaves
 * NULL became partial (WHERE column IS NOT NULL), and the publication record a WITHOUT ROWID table.
 * What must hold: every query that used those indexes still does (no table scan), rows written
 * before the migration survive it, and a new order adds no entry to the partial indexes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '../../../src/db/sqlite-driver.js';
import { closeDatabase, openDatabase, type Db } from '../../../src/db/database.js';
import {
  claimPayout,
  findStaleDevFeeClaims,
  getOrderByHash,
  hasPendingTake,
  insertOrder,
  restoreSessionOrders,
} from '../../../src/db/orders.js';
import { recordOrderPublication } from '../../../src/ops/publication-ledger.js';
import { makeOrder } from '../../support/db.js';

const MIGRATIONS = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const THIS = '20261207000000_mostrod_ts_fewer_pages.sql';

const sqliteOf = (db: Db): Database => (db as unknown as { sqlite: Database }).sqlite;

/** The statements `f` prepares, each with its EXPLAIN QUERY PLAN (a fresh connection: nothing cached). */
async function plansOf(db: Db, f: () => Promise<unknown>): Promise<Array<{ sql: string; plan: string }>> {
  const sqlite = sqliteOf(db);
  const seen: string[] = [];
  const original = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    seen.push(source);
    return original(source);
  }) as typeof sqlite.prepare;
  try {
    await f();
  } finally {
    sqlite.prepare = original;
  }
  return seen
    .filter((s) => /\borders\b/.test(s))
    .map((s) => {
      const params = (s.match(/\?/g) ?? []).map(() => null);
      const rows = original(`EXPLAIN QUERY PLAN ${s}`).all(...params) as { detail: string }[];
      return { sql: s, plan: rows.map((r) => r.detail).join(' | ') };
    });
}

function tmpFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mostrod-pages-'));
  return { dir, file: join(dir, 'mostro.db') };
}

void describe('migration 20261207000000: partial indexes, publication record WITHOUT ROWID', () => {
  void test('the queries that read the changed indexes still search them', async () => {
    const { dir, file } = tmpFile();
    const db = await openDatabase(file);
    try {
      const identity = 'b'.repeat(64);
      const cases: Array<[string, () => Promise<unknown>, string]> = [
        ['getOrderByHash', () => getOrderByHash(db, 'c'.repeat(64)), 'idx_orders_hash'],
        ['findStaleDevFeeClaims', () => findStaleDevFeeClaims(db), 'idx_orders_dev_fee_claim_prefix'],
        ['hasPendingTake buyer', () => hasPendingTake(db, identity, 'buyer'), 'idx_orders_master_buyer_pubkey'],
        ['hasPendingTake seller', () => hasPendingTake(db, identity, 'seller'), 'idx_orders_master_seller_pubkey'],
        ['restoreSessionOrders', () => restoreSessionOrders(db, identity), 'idx_orders_master_buyer_pubkey'],
        [
          'claimPayout (no other order holds the hash)',
          () => claimPayout(db, '00000000-0000-4000-8000-000000000000', { buyer_invoice: null, payout_claim_seq: 0 }, 'd'.repeat(64), 1),
          'idx_orders_payout_payment_hash',
        ],
      ];
      for (const [name, f, index] of cases) {
        const plans = await plansOf(db, f);
        assert.ok(plans.length > 0, `${name}: prepared a statement on orders`);
        const all = plans.map((p) => p.plan).join(' || ');
        assert.match(all, new RegExp(`USING (COVERING )?INDEX ${index}\\b`), `${name} uses ${index}: ${all}`);
        assert.doesNotMatch(all, /SCAN (orders|other)\b/, `${name}: no scan of orders: ${all}`);
      }
    } finally {
      await closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('a new order adds no entry to the partial indexes; a taken one does', async () => {
    const db = await openDatabase(':memory:');
    try {
      const columnOf: Record<string, string> = {
        idx_orders_hash: 'hash',
        idx_orders_payout_payment_hash: 'payout_payment_hash',
        idx_orders_master_buyer_pubkey: 'master_buyer_pubkey',
        idx_orders_master_seller_pubkey: 'master_seller_pubkey',
        idx_orders_dev_fee_claim_prefix: 'dev_fee_payment_hash',
      };
      // Rows SQLite finds through the index itself (INDEXED BY fails if it cannot use it).
      const entries = (index: string): number =>
        (sqliteOf(db).prepare(`SELECT count(*) AS n FROM orders INDEXED BY ${index} WHERE ${columnOf[index]!} IS NOT NULL`).get() as { n: number }).n;
      for (let i = 0; i < 20; i++) await insertOrder(db, makeOrder({ master_seller_pubkey: 'a'.repeat(64) }));
      await insertOrder(db, makeOrder({ status: 'active', hash: 'e'.repeat(64), master_buyer_pubkey: 'f'.repeat(64), master_seller_pubkey: 'a'.repeat(64) }));
      // The partial indexes hold exactly the rows whose column is set (SQLite's own count through each index).
      assert.equal(entries('idx_orders_hash'), 1);
      assert.equal(entries('idx_orders_master_buyer_pubkey'), 1);
      assert.equal(entries('idx_orders_master_seller_pubkey'), 21);
      assert.equal(entries('idx_orders_payout_payment_hash'), 0);
      assert.equal(entries('idx_orders_dev_fee_claim_prefix'), 0);
      const partial = sqliteOf(db)
        .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ('idx_orders_hash', 'idx_orders_payout_payment_hash', 'idx_orders_master_buyer_pubkey', 'idx_orders_master_seller_pubkey', 'idx_orders_dev_fee_claim_prefix')`)
        .all() as Array<{ name: string; sql: string }>;
      assert.equal(partial.length, 5);
      for (const { name, sql } of partial) assert.match(sql, /WHERE \w+ IS NOT NULL$/, `${name} is partial`);
      const table = sqliteOf(db).prepare(`SELECT sql FROM sqlite_master WHERE name = 'mostrod_ts_order_publications'`).get() as { sql: string };
      assert.match(table.sql, /WITHOUT ROWID$/);
    } finally {
      await closeDatabase(db);
    }
  });

  void test('publication rows written before the migration survive it, and upserts behave as before', async () => {
    const { dir, file } = tmpFile();
    const before = join(dir, 'migrations-before');
    mkdirSync(before);
    for (const f of readdirSync(MIGRATIONS)) if (f.endsWith('.sql') && f < THIS) copyFileSync(join(MIGRATIONS, f), join(before, f));
    const old = await openDatabase(file, { migrationsDir: before });
    const rows = Array.from({ length: 50 }, (_, i) => ({
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      status: i % 2 === 0 ? 'pending' : 'success',
      eventId: String(i % 10).repeat(64),
      createdAt: 1_700_000_000 + i,
      recordedAt: 1_700_000_100 + i,
    }));
    for (const r of rows) await recordOrderPublication(old, r);
    await closeDatabase(old);

    const db = await openDatabase(file);
    try {
      const read = () =>
        sqliteOf(db).prepare('SELECT order_id, status, event_id, created_at, recorded_at FROM mostrod_ts_order_publications ORDER BY order_id').all() as Array<Record<string, unknown>>;
      assert.deepEqual(
        read(),
        rows.map((r) => ({ order_id: r.orderId, status: r.status, event_id: r.eventId, created_at: r.createdAt, recorded_at: r.recordedAt })),
      );
      // A newer event replaces the row; an older one does not.
      const first = rows[0]!;
      await recordOrderPublication(db, { ...first, status: 'canceled', eventId: 'a'.repeat(64), createdAt: first.createdAt + 10 });
      await recordOrderPublication(db, { ...first, status: 'active', eventId: 'b'.repeat(64), createdAt: first.createdAt + 5 });
      const now = read().find((r) => r['order_id'] === first.orderId);
      assert.equal(now?.['status'], 'canceled');
      assert.equal(read().length, 50);
    } finally {
      await closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
