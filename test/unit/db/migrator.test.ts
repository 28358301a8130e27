import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database, { type Database as SqliteDatabase } from '../../../src/db/sqlite-driver.js';
import { backupDatabase, closeDatabase, openDatabase } from '../../../src/db/database.js';
import { MigrationError } from '../../../src/db/migrator.js';
import { casUpdateOrder, getOrder, insertOrder } from '../../../src/db/orders.js';
import { getDispute } from '../../../src/db/disputes.js';
import { getUser } from '../../../src/db/users.js';
import { DISPUTES, ORDERS, UPSTREAM_MIGRATIONS, USERS } from '../../fixtures/db/fixture-data.js';
import { makeOrder } from '../../support/db.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/db/mostrod-0.17.1.db', import.meta.url));
const MIGRATIONS = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const OURS = 20261101000000;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mostrod-db-'));
}
function fixtureCopy(): string {
  const file = join(tmp(), 'mostro.db');
  copyFileSync(FIXTURE, file);
  return file;
}
interface MigRow {
  version: number;
  description: string;
  installed_on: string;
  success: number;
  checksum: Buffer;
  execution_time: number;
}
function migrationRows(file: string): MigRow[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM _sqlx_migrations ORDER BY version').all() as MigRow[];
  } finally {
    db.close();
  }
}
const sha384 = (file: string): Buffer => createHash('sha384').update(readFileSync(join(MIGRATIONS, file))).digest();
const ERR = (re: RegExp) => (e: unknown) => e instanceof MigrationError && re.test(e.message);

void describe('a database written by mostrod 0.17.1 (fixture)', () => {
  void test('opens without re-running the upstream migrations; ours is applied and recorded', async () => {
    const file = fixtureCopy();
    const before = migrationRows(file);
    assert.equal(before.length, 4);
    const db = await openDatabase(file);
    await closeDatabase(db);
    const after = migrationRows(file);
    assert.deepEqual(after.slice(0, 4), before, 'upstream rows untouched (same installed_on / execution_time)');
    const ours = after[4];
    assert.ok(ours);
    assert.equal(ours.version, OURS);
    assert.equal(ours.description, 'mostrod ts payouts');
    assert.equal(ours.success, 1);
    assert.deepEqual(Buffer.from(ours.checksum), sha384('20261101000000_mostrod_ts_payouts.sql'));
    assert.ok(ours.execution_time > 0);
    assert.match(ours.installed_on, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  void test('every fixture row reads back exactly through the repositories', async () => {
    const db = await openDatabase(fixtureCopy());
    try {
      for (const o of ORDERS) assert.deepEqual(await getOrder(db, o.id), o);
      for (const d of DISPUTES) assert.deepEqual(await getDispute(db, d.id), d);
      for (const u of USERS) assert.deepEqual(await getUser(db, u.pubkey), u);
    } finally {
      await closeDatabase(db);
    }
  });

  void test('a row we write is readable the way the Rust daemon reads it (BLOB id, SELECT *)', async () => {
    const file = fixtureCopy();
    const db = await openDatabase(file);
    const o = makeOrder({ range_parent_id: ORDERS[0]!.id, status: 'pending' });
    await insertOrder(db, o);
    assert.equal(await casUpdateOrder(db, o.id, { status: 'pending' }, { status: 'waiting-payment', hash: 'ab'.repeat(32) }), true);
    await closeDatabase(db);

    const raw = new Database(file);
    const row = raw.prepare('SELECT * FROM orders WHERE id = ?').get(Buffer.from(o.id.replace(/-/g, ''), 'hex')) as Record<string, unknown>;
    assert.ok(row, 'found by BLOB id');
    assert.equal(row['status'], 'waiting-payment');
    assert.equal(row['hash'], 'ab'.repeat(32));
    assert.deepEqual(row['range_parent_id'], Buffer.from(ORDERS[0]!.id.replace(/-/g, ''), 'hex'));
    assert.equal(row['dispute_initiator_pubkey'], null);
    // every column the Rust model decodes as non-Option is non-NULL
    for (const c of ['invoice_held_at', 'taken_at', 'buyer_sent_rate', 'seller_sent_rate', 'payment_attempts', 'failed_payment', 'dev_fee', 'dev_fee_paid']) {
      assert.equal(typeof row[c], 'number', c);
    }
    // text ids never match (mostrod binds BLOBs)
    assert.equal(raw.prepare('SELECT count(*) AS n FROM orders WHERE id = ?').get(o.id) !== undefined, true);
    assert.deepEqual(raw.prepare('SELECT count(*) AS n FROM orders WHERE id = ?').get(o.id), { n: 0 });
    // mostrod's whole-row CRUD update still works on our row (our extra columns are left alone)
    raw.prepare('UPDATE orders SET status = ?, fee = ? WHERE id = ?').run('active', 7, Buffer.from(o.id.replace(/-/g, ''), 'hex'));
    raw.close();
    const db2 = await openDatabase(file);
    const back = await getOrder(db2, o.id);
    await closeDatabase(db2);
    assert.equal(back?.status, 'active');
    assert.equal(back?.fee, 7);
  });

  void test('reopening is a no-op', async () => {
    const file = fixtureCopy();
    await closeDatabase(await openDatabase(file));
    const once = migrationRows(file);
    await closeDatabase(await openDatabase(file));
    assert.deepEqual(migrationRows(file), once);
  });
});

void describe('a database we create', () => {
  void test('has the same sqlx rows as mostrod for the upstream migrations, the same schema, mode 0600, WAL', async () => {
    const dir = tmp();
    const file = join(dir, 'mostro.db');
    const db = await openDatabase(file);
    await closeDatabase(db);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const rows = migrationRows(file);
    assert.deepEqual(
      rows.slice(0, 4).map((r) => [r.version, r.description, r.success, Buffer.from(r.checksum).toString('hex')]),
      UPSTREAM_MIGRATIONS.map((m) => [m.version, m.description, 1, sha384(m.file).toString('hex')]),
    );
    assert.deepEqual(
      migrationRows(FIXTURE).map((r) => [r.version, r.description, r.success, Buffer.from(r.checksum).toString('hex')]),
      rows.slice(0, 4).map((r) => [r.version, r.description, r.success, Buffer.from(r.checksum).toString('hex')]),
    );
    const ours = new Database(file, { readonly: true });
    const upstream = new Database(FIXTURE, { readonly: true });
    try {
      for (const t of ['orders', 'disputes', 'users', '_sqlx_migrations']) {
        const cols = (d: SqliteDatabase) => d.prepare(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`).all(t);
        const mine = cols(ours);
        const theirs = cols(upstream);
        assert.deepEqual(mine.slice(0, theirs.length), theirs, `${t}: same columns in the same order`);
        // orders: payout_payment_hash, payout_claimed_at (20261101), payout_claim_seq, payout_lost_success_hash (20261201),
        // dev_fee_verified_at (20261205000100)
        assert.equal(mine.length - theirs.length, t === 'orders' ? 5 : 0, `${t}: extra columns`);
      }
      assert.equal(ours.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      ours.close();
      upstream.close();
    }
  });

  void test('a failing migration on a new file removes the file; on an existing DB the failed one is not recorded', async () => {
    const dir = tmp();
    const migDir = join(dir, 'migrations');
    mkdirSync(migDir);
    copyFileSync(join(MIGRATIONS, '20221222153301_orders.sql'), join(migDir, '20221222153301_orders.sql'));
    writeFileSync(join(migDir, '20221222153302_broken.sql'), 'CREATE TABLE ok_table (x int);\nTHIS IS NOT SQL;');
    const file = join(dir, 'mostro.db');
    await assert.rejects(openDatabase(file, { migrationsDir: migDir }), ERR(/20221222153302 \(broken\) failed/));
    assert.equal(existsSync(file), false);

    // existing file: the first migration stays applied, the broken one rolled back entirely
    const raw = new Database(file);
    raw.close();
    await assert.rejects(openDatabase(file, { migrationsDir: migDir }), ERR(/broken/));
    assert.equal(existsSync(file), true);
    const rows = migrationRows(file);
    assert.deepEqual(rows.map((r) => r.version), [20221222153301]);
    const check = new Database(file, { readonly: true });
    assert.equal(check.prepare("SELECT name FROM sqlite_master WHERE name = 'ok_table'").get(), undefined);
    check.close();
  });
});

void describe('refusals', () => {
  void test('checksum mismatch names the migration', async () => {
    const file = fixtureCopy();
    const raw = new Database(file);
    raw.prepare('UPDATE _sqlx_migrations SET checksum = ? WHERE version = 20230928145530').run(Buffer.alloc(48, 1));
    raw.close();
    await assert.rejects(openDatabase(file), ERR(/migration 20230928145530 \(disputes\) was applied from a different file/));
  });

  void test('dirty (success = 0) migration', async () => {
    const file = fixtureCopy();
    const raw = new Database(file);
    raw.prepare('UPDATE _sqlx_migrations SET success = 0 WHERE version = 20251126120000').run();
    raw.close();
    await assert.rejects(openDatabase(file), ERR(/20251126120000 \(dev fee\) is recorded as failed/));
  });

  void test('a migration from a newer daemon', async () => {
    const file = fixtureCopy();
    const raw = new Database(file);
    raw.prepare("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (20990101000000, 'future', 1, x'00', 1)").run();
    raw.close();
    await assert.rejects(openDatabase(file), ERR(/20990101000000 \(future\).*newer daemon/));
  });
});

void describe('legacy upgrades', () => {
  void test('old DB: dev-fee columns added by hand (no migration row) are recorded, not re-added', async () => {
    const file = join(tmp(), 'mostro.db');
    const raw = new Database(file);
    raw.exec(readFileSync(join(MIGRATIONS, '20221222153301_orders.sql'), 'utf8'));
    raw.exec(readFileSync(join(MIGRATIONS, '20230928145530_disputes.sql'), 'utf8'));
    raw.exec(readFileSync(join(MIGRATIONS, '20231005195154_users.sql'), 'utf8'));
    raw.exec('ALTER TABLE orders ADD COLUMN dev_fee INTEGER DEFAULT 0; ALTER TABLE orders ADD COLUMN dev_fee_paid INTEGER NOT NULL DEFAULT 0; ALTER TABLE orders ADD COLUMN dev_fee_payment_hash CHAR(64);');
    raw.close();
    const db = await openDatabase(file);
    await closeDatabase(db);
    const ourVersions = readdirSync(MIGRATIONS)
      .map((f) => /^(\d+)_mostrod_ts_.+\.sql$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    assert.equal(ourVersions[0], OURS);
    assert.deepEqual(migrationRows(file).map((r) => r.version), [...UPSTREAM_MIGRATIONS.map((m) => m.version), ...ourVersions]);
  });

  void test('old DB without dev-fee columns gets them', async () => {
    const file = join(tmp(), 'mostro.db');
    const raw = new Database(file);
    raw.exec(readFileSync(join(MIGRATIONS, '20221222153301_orders.sql'), 'utf8'));
    raw.close();
    const db = await openDatabase(file);
    await closeDatabase(db);
    const check = new Database(file, { readonly: true });
    const cols = (check.prepare("SELECT name FROM pragma_table_info('orders')").all() as { name: string }[]).map((c) => c.name);
    check.close();
    assert.ok(cols.includes('dev_fee_payment_hash') && cols.includes('payout_claimed_at'));
  });

  void test('legacy buyer_token / seller_token dispute columns are dropped, rows kept', async () => {
    const file = join(tmp(), 'mostro.db');
    const raw = new Database(file);
    raw.exec(`CREATE TABLE disputes (
  id char(36) primary key not null, order_id char(36) unique not null, status varchar(10) not null,
  order_previous_status varchar(10) not null, solver_pubkey char(64), created_at integer not null,
  taken_at integer default 0, buyer_token integer, seller_token integer)`);
    const d = DISPUTES[0]!;
    raw.prepare('INSERT INTO disputes VALUES (?, ?, ?, ?, ?, ?, ?, 11, 22)').run(
      Buffer.from(d.id.replace(/-/g, ''), 'hex'), Buffer.from(d.order_id.replace(/-/g, ''), 'hex'),
      d.status, d.order_previous_status, d.solver_pubkey, d.created_at, d.taken_at);
    raw.close();
    const db = await openDatabase(file);
    assert.deepEqual(await getDispute(db, d.id), d);
    await closeDatabase(db);
    const check = new Database(file, { readonly: true });
    const cols = (check.prepare("SELECT name FROM pragma_table_info('disputes')").all() as { name: string }[]).map((c) => c.name);
    check.close();
    assert.equal(cols.includes('buyer_token') || cols.includes('seller_token'), false);
  });
});

void test('backupDatabase writes a consistent, openable copy while the DB is open', async () => {
  const dir = tmp();
  const db = await openDatabase(join(dir, 'mostro.db'));
  const o = makeOrder();
  await insertOrder(db, o);
  await backupDatabase(db, join(dir, 'backup.db'));
  await closeDatabase(db);
  const copy = await openDatabase(join(dir, 'backup.db'));
  assert.deepEqual(await getOrder(copy, o.id), o);
  await closeDatabase(copy);
});
