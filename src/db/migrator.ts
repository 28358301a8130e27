import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database } from './sqlite-driver.js';
import { packageFile } from '../package-root.js';

/**
 * A small sqlx-compatible migrator.
 *
 * mostrod 0.17.1 runs sqlx 0.6's embedded migrator only when it creates the DB file; this port
 * applies missing migrations at every start (DAEMON.md Q2), but records them exactly as sqlx does,
 * so a DB created here looks to sqlx/mostrod like one it created, and a DB created by mostrod opens
 * here without re-running anything:
 *   _sqlx_migrations(version, description, installed_on, success, checksum, execution_time)
 *   description = file name part after "<version>_" with '_' → ' ' (sqlx's rule)
 *   checksum    = SHA-384 of the file bytes
 *   execution_time = nanoseconds
 * Every migration runs in its own transaction together with its bookkeeping row.
 */

export interface Migration {
  version: number;
  description: string;
  sql: string;
  checksum: Buffer;
}

export interface MigrationLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/** The package's migrations/ directory. */
export function defaultMigrationsDir(): string {
  return fileURLToPath(packageFile('migrations/'));
}

/** sqlx-core 0.6 `ensure_migrations_table` for SQLite, verbatim schema. */
const CREATE_SQLX_TABLE = `
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
`;

const FILE_RE = /^(\d+)_(.+)\.sql$/;

export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const name of readdirSync(dir)) {
    const m = FILE_RE.exec(name);
    if (!m) continue;
    const [, version, desc] = m;
    if (version === undefined || desc === undefined) continue;
    const bytes = readFileSync(`${dir}/${name}`);
    // sqlx skips ".down.sql" files for simple migrations and strips ".up" — we ship neither.
    out.push({
      version: Number(version),
      description: desc.replace(/_/g, ' '),
      sql: bytes.toString('utf8'),
      checksum: createHash('sha384').update(bytes).digest(),
    });
  }
  out.sort((a, b) => a.version - b.version);
  return out;
}

function columnNames(db: Database, table: string): Set<string> {
  const rows = db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

/**
 * Migrations that only add columns: if an operator already added the columns by hand (the advice
 * for old mostrod installs, DAEMON.md Q2), the ALTERs would fail with "duplicate column"; in that
 * case the migration is recorded as applied without running it. Partially present → error.
 */
const ADDED_COLUMNS: Record<number, { table: string; columns: string[] }> = {
  20251126120000: { table: 'orders', columns: ['dev_fee', 'dev_fee_paid', 'dev_fee_payment_hash'] },
};

interface AppliedRow {
  version: number;
  description: string;
  success: number;
  checksum: Buffer;
}

export interface MigrateResult {
  applied: number[];
  skippedExisting: number[];
  tokenColumnsDropped: string[];
}

/**
 * Bring `db` up to date with `migrations`. Throws MigrationError (naming the migration) when a
 * recorded checksum differs, a migration is recorded as failed (dirty), or the DB has a migration
 * this build does not know (a newer daemon wrote it).
 */
export function migrate(db: Database, migrations: Migration[], log?: MigrationLogger): MigrateResult {
  db.exec(CREATE_SQLX_TABLE);
  const appliedRows = db
    .prepare('SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version')
    .all() as AppliedRow[];
  const known = new Map(migrations.map((m) => [m.version, m]));
  const applied = new Map<number, AppliedRow>();
  for (const row of appliedRows) {
    const version = Number(row.version);
    applied.set(version, row);
    const m = known.get(version);
    if (!m) {
      throw new MigrationError(
        `database has migration ${version} (${row.description}) which this mostrod does not know; ` +
          'it was written by a newer daemon — refusing to start',
      );
    }
    if (!row.success) {
      throw new MigrationError(
        `migration ${version} (${m.description}) is recorded as failed (dirty) in _sqlx_migrations; ` +
          'fix the schema by hand and the row, then restart',
      );
    }
    if (!Buffer.from(row.checksum).equals(m.checksum)) {
      throw new MigrationError(
        `migration ${version} (${m.description}) was applied from a different file: checksum in ` +
          `_sqlx_migrations ${Buffer.from(row.checksum).toString('hex').slice(0, 16)}… != ` +
          `${m.checksum.toString('hex').slice(0, 16)}… of migrations/${version}_${m.description.replace(/ /g, '_')}.sql`,
      );
    }
  }

  const result: MigrateResult = { applied: [], skippedExisting: [], tokenColumnsDropped: [] };
  const insert = db.prepare(
    'INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?, ?, TRUE, ?, ?)',
  );
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    const added = ADDED_COLUMNS[m.version];
    let skip = false;
    if (added) {
      const cols = columnNames(db, added.table);
      const present = added.columns.filter((c) => cols.has(c));
      if (present.length === added.columns.length) skip = true;
      else if (present.length > 0) {
        throw new MigrationError(
          `migration ${m.version} (${m.description}) cannot run: ${added.table} already has ` +
            `${present.join(', ')} but not all of ${added.columns.join(', ')}`,
        );
      }
    }
    const started = process.hrtime.bigint();
    try {
      db.transaction(() => {
        if (!skip) db.exec(m.sql);
        const ns = process.hrtime.bigint() - started;
        insert.run(m.version, m.description, m.checksum, ns);
      })();
    } catch (e) {
      throw new MigrationError(
        `migration ${m.version} (${m.description}) failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (skip) {
      result.skippedExisting.push(m.version);
      log?.warn(`migration ${m.version} (${m.description}): columns already present, recorded without running`);
    } else {
      result.applied.push(m.version);
      log?.info(`applied migration ${m.version} (${m.description})`);
    }
  }

  result.tokenColumnsDropped = dropLegacyDisputeTokenColumns(db, log);
  return result;
}

/**
 * mostrod's legacy step (DAEMON.md §3.2): remove `buyer_token` / `seller_token` from disputes if a
 * very old schema still has them. Uses DROP COLUMN (SQLite ≥ 3.35) in a transaction, falling back
 * to a table rebuild (also in a transaction, unlike mostrod).
 */
export function dropLegacyDisputeTokenColumns(db: Database, log?: MigrationLogger): string[] {
  const cols = columnNames(db, 'disputes');
  const present = ['buyer_token', 'seller_token'].filter((c) => cols.has(c));
  if (present.length === 0) return [];
  try {
    db.transaction(() => {
      for (const c of present) db.exec(`ALTER TABLE disputes DROP COLUMN ${c}`);
    })();
  } catch (e) {
    log?.warn(`DROP COLUMN on disputes failed (${e instanceof Error ? e.message : String(e)}); rebuilding table`);
    db.transaction(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS disputes_temp (
  id char(36) primary key not null,
  order_id char(36) unique not null,
  status varchar(10) not null,
  order_previous_status varchar(10) not null,
  solver_pubkey char(64),
  created_at integer not null,
  taken_at integer default 0
)`);
      db.exec(`INSERT INTO disputes_temp (id, order_id, status, order_previous_status, solver_pubkey, created_at, taken_at)
SELECT id, order_id, status, order_previous_status, solver_pubkey, created_at, taken_at FROM disputes`);
      db.exec('DROP TABLE disputes');
      db.exec('ALTER TABLE disputes_temp RENAME TO disputes');
      db.exec('CREATE INDEX IF NOT EXISTS idx_disputes_solver_pubkey ON disputes (solver_pubkey)');
    })();
  }
  log?.info(`removed legacy dispute columns: ${present.join(', ')}`);
  return present;
}
