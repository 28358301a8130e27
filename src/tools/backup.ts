#!/usr/bin/env node
/**
 * mostrod-backup: an online, consistent copy of mostro.db that is safe while the daemon runs.
 *
 *   mostrod-backup [-d DIR] [--force] [OUT.db]
 *
 * Uses SQLite's backup API (better-sqlite3 `backup()`), which copies pages under SQLite's own
 * locking, so committed WAL content is included and a concurrent writer never leaves a torn copy.
 * The copy is written to `OUT.db.partial` (mode 0600: it holds trade data), checked with
 * `PRAGMA integrity_check`, switched out of WAL mode (one self-contained file) and renamed into place.
 * The tool never migrates or writes the live database.
 */
import { chmodSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export type BackupArgs = { opts: BackupOptions } | { exit: number; output: string };

const USAGE = [
  'Online backup of the mostrod database (safe while the daemon runs).',
  '',
  'Usage: mostrod-backup [-d DIR] [--force] [OUT.db]',
  '',
  'Options:',
  '  -d, --dirsettings <DIR>  Directory with settings.toml and mostro.db [default: ~/.mostro]',
  '  -f, --force              Overwrite OUT.db if it exists',
  '  -h, --help               Print help',
  '',
  'OUT.db defaults to DIR/backups/mostro-<UTC timestamp>.db.',
  '',
].join('\n');

export function backupUsage(): string {
  return USAGE;
}

/** Parse the command line (argv without node and script). */
export function parseBackupArgs(argv: string[], home: () => string = homedir): BackupArgs {
  let dir: string | undefined;
  let out: string | undefined;
  let force = false;
  const usageError = (msg: string): BackupArgs => ({
    exit: 2,
    output: `error: ${msg}\n\nUsage: mostrod-backup [-d DIR] [--force] [OUT.db]\n`,
  });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-h' || a === '--help') return { exit: 0, output: USAGE };
    if (a === '-f' || a === '--force') {
      force = true;
    } else if (a === '-d' || a === '--dirsettings' || a.startsWith('--dirsettings=')) {
      const v = a.startsWith('--dirsettings=') ? a.slice('--dirsettings='.length) : argv[++i];
      if (v === undefined || v === '') return usageError(`a value is required for '${a.split('=')[0] ?? a} <DIR>'`);
      if (dir !== undefined) return usageError(`the argument '--dirsettings <DIR>' cannot be used multiple times`);
      dir = v;
    } else if (a.startsWith('-') && a !== '-') {
      return usageError(`unexpected argument '${a}' found`);
    } else {
      if (out !== undefined) return usageError(`unexpected argument '${a}' found`);
      out = a;
    }
  }
  if (dir === undefined) {
    const h = home();
    if (!h) return { exit: 1, output: 'Error: Could not find home directory\n' };
    dir = join(h, '.mostro');
  }
  return { opts: { dir, ...(out !== undefined ? { out } : {}), force } };
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

async function main(argv: string[]): Promise<number> {
  const parsed = parseBackupArgs(argv);
  if ('exit' in parsed) {
    (parsed.exit === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.exit;
  }
  try {
    const r = await runBackup(parsed.opts);
    process.stdout.write(
      `backup written to ${r.out} (${r.bytes} bytes; ${r.orders} orders, ${r.disputes} disputes, ${r.users} users)\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`mostrod-backup: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`mostrod-backup: fatal: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
