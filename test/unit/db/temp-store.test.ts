/**
 * The daemon's connection keeps SQLite's temporary storage (statement journals, transient tables)
 * in memory. With the default, a statement journal that outgrows 64 KiB inside a transaction
 * spills to a new, already unlinked file in the temp directory (`etilqs_*`) — under a closed loop
 * of new orders that was ~70 files created and deleted a second on the event loop (SQLite 3.53,
 * the build Node 20 uses here; 3.54, under Node 22 and 24, did not spill the same transaction).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { closeDatabase, openDatabase } from '../../../src/db/database.js';
import Driver, { type Database } from '../../../src/db/sqlite-driver.js';

/** Open files of this process that are SQLite temp files (Linux: /proc/self/fd). */
function openTempFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes('etilqs_')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * A transaction whose second statement needs a statement journal bigger than 64 KiB: 2,000 rows
 * inserted, then a multi-row UPDATE that a UNIQUE constraint could abort half-way (so SQLite
 * journals every page it changes that the transaction had already changed). Returns the SQLite
 * temp files open while the transaction is still open.
 */
function spillingTransaction(sqlite: Database): string[] {
  sqlite.exec('CREATE TABLE IF NOT EXISTS spill (id INTEGER PRIMARY KEY, v TEXT UNIQUE)');
  sqlite.exec('BEGIN');
  try {
    const ins = sqlite.prepare('INSERT INTO spill (v) VALUES (?)');
    for (let i = 0; i < 2000; i++) ins.run(`${i}-${'x'.repeat(100)}`);
    sqlite.prepare("UPDATE spill SET v = v || 'y'").run();
    return openTempFiles();
  } finally {
    sqlite.exec('ROLLBACK');
  }
}

void describe('SQLite temporary storage', { skip: !existsSync('/proc/self/fd') ? 'needs /proc/self/fd' : false }, () => {
  void test('the checker sees a spilled statement journal on a connection with the default temp_store', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mostrod-temp-store-'));
    const sqlite = new Driver(join(dir, 'plain.db'));
    try {
      sqlite.pragma('journal_mode = WAL');
      const version = (sqlite.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
      // SQLite 3.53 (better-sqlite3-node20, Node 20) spills this journal to a file; 3.54
      // (better-sqlite3 13, Node 22 and 24) kept it in memory by itself — nothing to see there.
      if (spillingTransaction(sqlite).length === 0 && !version.startsWith('3.53.')) {
        t.skip(`SQLite ${version} keeps this statement journal in memory even with the default temp_store`);
        return;
      }
      assert.ok(spillingTransaction(sqlite).length > 0, `SQLite ${version}: the default spills the statement journal to a file`);
    } finally {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('openDatabase: temp_store = MEMORY, and the same transaction opens no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mostrod-temp-store-'));
    try {
      for (const durability of ['barrier', 'commit'] as const) {
        const db = await openDatabase(join(dir, `mostro-${durability}.db`), { durability });
        const sqlite = (db as unknown as { sqlite: Database }).sqlite;
        try {
          assert.equal(sqlite.pragma('temp_store', { simple: true }), 2);
          assert.deepEqual(spillingTransaction(sqlite), []);
        } finally {
          await closeDatabase(db);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
