/**
 * An online, consistent copy of mostro.db that is safe while the daemon runs: the engine of
 * mostrod-backup (src/tools/backup.ts) and of the daemon's backup schedule (backup-job.ts).
 *
 * Uses SQLite's backup API (better-sqlite3 `backup()`), which copies pages under SQLite's own
 * locking, so committed WAL content is included and a concurrent writer never leaves a torn copy.
 * The copy is written to `OUT.db.partial` (mode 0600: it holds trade data), checked with
 * `PRAGMA integrity_check`, switched out of WAL mode (one self-contained file) and renamed into place.
 * The live database is never migrated or written.
 */
import { chmodSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3, { type Database as SqliteDatabase } from '../db/sqlite-driver.js';
import { systemClock, type Clock } from '../clock.js';
import { databasePath } from '../config/settings.js';

export interface BackupOptions {
  /** The mostrod settings directory (holds mostro.db). */
  dir: string;
  /** Destination file; default `<dir>/backups/mostro-<UTC timestamp>.db`. */
  out?: string;
  /** Replace an existing destination file. */
  force?: boolean;
  clock?: Clock;
}

export interface BackupResult {
  out: string;
  bytes: number;
  /** Rows per trade table in the copy (a quick plausibility check for the operator). */
  orders: number;
  disputes: number;
  users: number;
}

function timestamp(clock: Clock): string {
  // 2024-05-01T12:34:56.000Z → 20240501T123456Z
  return new Date(clock.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function count(db: SqliteDatabase, table: string): number {
  const row = db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number } | undefined;
  return row?.n ?? 0;
}

/** Take the backup. Throws (with a message fit for the operator) on any failure; never leaves a partial OUT. */
export async function runBackup(opts: BackupOptions): Promise<BackupResult> {
  const clock = opts.clock ?? systemClock;
  const source = databasePath(opts.dir);
  if (!existsSync(source)) throw new Error(`no database at ${source}`);
  const out = resolve(opts.out ?? join(opts.dir, 'backups', `mostro-${timestamp(clock)}.db`));
  if (resolve(source) === out || (existsSync(out) && realpathSync(out) === realpathSync(source))) {
    throw new Error('the backup destination is the live database');
  }
  if (existsSync(out) && opts.force !== true) throw new Error(`${out} exists (use --force to overwrite)`);
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });

  const partial = `${out}.partial`;
  for (const f of [partial, `${partial}-wal`, `${partial}-shm`, `${partial}-journal`]) rmSync(f, { force: true });

  // Not readonly: a read-only handle cannot join a WAL database whose -shm does not exist yet.
  // Nothing is written through it (no migrations, no pragmas that persist).
  const live = new BetterSqlite3(source, { fileMustExist: true });
  try {
    live.pragma('busy_timeout = 5000');
    await live.backup(partial);
  } finally {
    live.close();
  }

  try {
    chmodSync(partial, 0o600);
    const copy = new BetterSqlite3(partial);
    let result: Omit<BackupResult, 'out' | 'bytes'>;
    try {
      const check = copy.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new Error(`backup failed its integrity check: ${String(check)}`);
      // A self-contained file: no -wal/-shm to forget when copying it off the machine.
      copy.pragma('journal_mode = DELETE');
      result = { orders: count(copy, 'orders'), disputes: count(copy, 'disputes'), users: count(copy, 'users') };
    } finally {
      copy.close();
    }
    renameSync(partial, out);
    return { out, bytes: statSync(out).size, ...result };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}
