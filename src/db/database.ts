import { closeSync, existsSync, openSync, chmodSync, unlinkSync } from 'node:fs';
import BetterSqlite3 from './sqlite-driver.js';
import type { Database, Statement } from './sqlite-driver.js';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Dialect, Driver, KyselyConfig, SqliteDatabase } from 'kysely';
import { LruCache } from '../crypto/lru-cache.js';
import { CommitDurability, openWalBarrier, type DurabilityBarrier, type DurabilityMode } from './durability.js';
import { BACKSTOP_PAGES, WalCheckpointer, type CheckpointRunner, type WalCheckpointerLogger } from './wal-checkpointer.js';
import { loadMigrations, migrate, type MigrationLogger } from './migrator.js';
import type { Db, DbSchema } from './schema.js';

export type { Db, DbSchema, Executor } from './schema.js';

export interface OpenDatabaseOptions {
  logger?: MigrationLogger;
  /** Override the migrations directory (tests). */
  migrationsDir?: string;
  /**
   * How commits reach the disk (durability.ts). `commit` (default): SQLite fsyncs the WAL at every
   * commit (synchronous = FULL). `barrier` (the daemon): commits are only written (synchronous =
   * NORMAL) and `durabilityOf(db).durable()` gates every effect on one shared fdatasync.
   */
  durability?: DurabilityMode;
  /** `barrier` mode: called once when an fdatasync fails (the daemon stops). */
  onDurabilityLost?: (err: Error) => void;
  /**
   * Who checkpoints the WAL (wal-checkpointer.ts). `inline` (default): SQLite, in the committing
   * connection, on this thread. `background` (the daemon): a worker thread; this connection only
   * past `BACKSTOP_PAGES`. Ignored for an in-memory database.
   */
  walCheckpoint?: 'inline' | 'background';
  /** Where the checkpoint thread reports trouble. */
  checkpointLogger?: WalCheckpointerLogger;
  /**
   * Tests only: wraps Kysely's SQLite driver (the money simulation stops a process at a commit:
   * test/support/sim-commit-cuts.ts). Migrations run before, outside Kysely.
   */
  wrapDriver?: (driver: Driver) => Driver;
}

/**
 * The better-sqlite3 handle as Kysely's dialect sees it, with prepared statements kept by SQL text:
 * Kysely compiles a repository query to the same SQL every time, so each distinct statement is
 * prepared once and then only bound and run (preparing was ~3 % of the daemon's busy time). Kysely
 * runs one query at a time on its single connection, so a cached statement is never in use twice.
 */
export class StatementCache implements SqliteDatabase {
  private readonly statements: LruCache<string, Statement>;
  /** Statements prepared so far (misses), for tests and metrics. */
  prepared = 0;

  constructor(
    private readonly db: Database,
    capacity = 500,
  ) {
    this.statements = new LruCache(capacity);
  }

  prepare(source: string): Statement {
    const hit = this.statements.get(source);
    if (hit !== undefined) return hit;
    const stmt = this.db.prepare(source);
    this.prepared++;
    this.statements.set(source, stmt);
    return stmt;
  }

  close(): void {
    this.db.close();
  }

  get size(): number {
    return this.statements.size;
  }
}

/** Kysely instance that also keeps its better-sqlite3 handle (for online backups). */
class SqliteKysely extends Kysely<DbSchema> {
  constructor(
    config: KyselyConfig,
    readonly sqlite: Database,
    readonly statements: StatementCache,
    readonly durability: DurabilityBarrier,
    public checkpointer: WalCheckpointer | null,
    readonly file: string | null,
  ) {
    super(config);
  }
}

/** SQLite page cache per connection, KiB. */
export const SQLITE_CACHE_KIB = 4000;

/**
 * Open (creating if needed) the SQLite database and bring its schema up to date.
 * - new file: created exclusively with mode 0600 (like mostrod); removed again if migrating fails;
 * - WAL journal, synchronous FULL, busy_timeout 5000 ms, foreign_keys on (sqlx's SqlitePool
 *   defaults), 4 MB page cache, temporary storage in memory; `durability: 'barrier'` (the daemon): synchronous NORMAL after the
 *   migrations, with the WAL barrier of durability.ts;
 * - migrations (sqlx-compatible bookkeeping) are applied at every open, not only on creation.
 */
export async function openDatabase(file: string, opts: OpenDatabaseOptions = {}): Promise<Db> {
  const memory = file === ':memory:';
  let created = false;
  if (!memory && !existsSync(file)) {
    closeSync(openSync(file, 'wx', 0o600));
    chmodSync(file, 0o600);
    created = true;
  }
  let sqlite: Database;
  try {
    sqlite = new BetterSqlite3(file);
  } catch (e) {
    if (created) unlinkSync(file);
    throw e;
  }
  try {
    if (!memory) sqlite.pragma('journal_mode = WAL');
    // Explicit: better-sqlite3 builds SQLite with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so a file
    // already in WAL mode opens with synchronous = NORMAL (no fsync at commit) while a new one gets
    // FULL. mostrod (sqlx) always sets FULL. Barrier mode lowers it below, after the migrations.
    if (!memory) sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    // Page cache 4 MB (better-sqlite3 compiles SQLite with 16 MB): the daemon's per-request and
    // per-job queries touch a few index pages each, and the file stays in the OS page cache; the
    // 16 MB fill up as the database grows and stay in the daemon's RSS (PERFORMANCE.md, Memory).
    sqlite.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
    // Statement journals and transient tables in memory. With the default (files), a statement
    // journal that outgrows 64 KiB within a transaction spills to a new file in /var/tmp: under a
    // closed loop of new orders the daemon created, unlinked and closed ~70 such files a second
    // (stat, access ×2, open, unlink, close each, all on the event loop). Nothing in them is needed
    // after a crash (the WAL is the journal), so memory loses nothing.
    sqlite.pragma('temp_store = MEMORY');
    migrate(sqlite, loadMigrations(opts.migrationsDir), opts.logger);
  } catch (e) {
    sqlite.close();
    if (created) {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) unlinkSync(f);
    }
    throw e;
  }
  if (created) opts.logger?.info(`Successfully created database file at ${file}`);
  let durability: DurabilityBarrier = new CommitDurability();
  if (opts.durability === 'barrier' && !memory) {
    // Migrations above were committed with FULL; from here on a commit is only written.
    sqlite.pragma('synchronous = NORMAL');
    try {
      durability = openWalBarrier(sqlite, file, opts.onDurabilityLost);
    } catch (e) {
      sqlite.close();
      throw e;
    }
  }
  let checkpointer: WalCheckpointer | null = null;
  if (opts.walCheckpoint === 'background' && !memory) {
    // The checkpoints' copying and fsyncs on a thread of their own; this connection only past the
    // backstop (should that thread fall behind or die).
    sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    checkpointer = new WalCheckpointer({ file, ...(opts.checkpointLogger !== undefined ? { logger: opts.checkpointLogger } : {}) });
  }
  const statements = new StatementCache(sqlite);
  const sqliteDialect = new SqliteDialect({ database: statements });
  const wrap = opts.wrapDriver;
  const dialect: Dialect =
    wrap === undefined
      ? sqliteDialect
      : {
          createAdapter: () => sqliteDialect.createAdapter(),
          createDriver: () => wrap(sqliteDialect.createDriver()),
          createIntrospector: (db) => sqliteDialect.createIntrospector(db),
          createQueryCompiler: () => sqliteDialect.createQueryCompiler(),
        };
  return new SqliteKysely({ dialect }, sqlite, statements, durability, checkpointer, memory ? null : file);
}

const COMMIT_DURABLE = new CommitDurability();

/** The durability barrier of a database opened here (commit-durable for any other Kysely). */
export function durabilityOf(db: Db): DurabilityBarrier {
  return db instanceof SqliteKysely ? db.durability : COMMIT_DURABLE;
}

/** The statement cache of a database opened here (undefined for any other Kysely). */
export function statementCacheOf(db: Db): StatementCache | undefined {
  return db instanceof SqliteKysely ? db.statements : undefined;
}

/** The WAL checkpointer of a database opened here (`walCheckpoint: 'background'` or attached). */
export function checkpointerOf(db: Db): WalCheckpointer | null {
  return db instanceof SqliteKysely ? db.checkpointer : null;
}

/**
 * Checkpoint the WAL of a database opened here (with `walCheckpoint: 'inline'`) on `runner`'s
 * thread from now on — the daemon's crypto pool (`MOSTROD_DB_CHECKPOINT=auto`), which exists only
 * after the database is open. Its connection then checkpoints only past the backstop. Null (and
 * nothing changed) for an in-memory database, a Kysely not made here, or one that already has a
 * checkpointer.
 */
export function attachWalCheckpointer(db: Db, runner: CheckpointRunner, logger?: WalCheckpointerLogger): WalCheckpointer | null {
  if (!(db instanceof SqliteKysely) || db.file === null || db.checkpointer !== null) return null;
  db.sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  db.checkpointer = new WalCheckpointer({ file: db.file, runner, ...(logger !== undefined ? { logger } : {}) });
  return db.checkpointer;
}

/** Close the database (waits for Kysely's connection to be released). */
export async function closeDatabase(db: Db): Promise<void> {
  // The last sync first (its waiters are effects still leaving), then the checkpoint thread (so
  // that this connection is the last one and SQLite checkpoints and removes the WAL as it closes),
  // then the connection.
  await durabilityOf(db).close();
  await checkpointerOf(db)?.close();
  await db.destroy();
}

/**
 * Online backup to `destFile`, consistent and safe while the daemon runs (WAL). Uses SQLite's
 * backup API through better-sqlite3; falls back to `VACUUM INTO` for a Kysely not made here.
 */
export async function backupDatabase(db: Db, destFile: string): Promise<void> {
  if (db instanceof SqliteKysely) {
    await db.sqlite.backup(destFile);
    return;
  }
  await sql`VACUUM INTO ${destFile}`.execute(db);
}
