import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from '../../../src/db/sqlite-driver.js';
import { closeDatabase, openDatabase } from '../../../src/db/database.js';
import { casUpdateOrder, getOrder, insertOrder } from '../../../src/db/orders.js';
import { parseBackupArgs, runBackup } from '../../../src/tools/backup.js';
import { makeOrder } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';

const run = promisify(execFile);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mostrod-backup-'));
}

void describe('mostrod-backup', () => {
  void test('copies committed WAL content while the daemon holds the database open, and leaves the live DB alone', async () => {
    const dir = tmp();
    const db = await openDatabase(join(dir, 'mostro.db'));
    const orders = Array.from({ length: 50 }, (_, i) => makeOrder({ amount: 1000 + i }));
    for (const o of orders) await insertOrder(db, o);
    const first = orders[0]!;
    assert.ok(await casUpdateOrder(db, first.id, { status: 'pending' }, { status: 'active' }));
    // The rows are still in mostro.db-wal (no checkpoint yet): the backup must include them.
    assert.ok(existsSync(join(dir, 'mostro.db-wal')));

    const out = join(dir, 'copy', 'b.db');
    const r = await runBackup({ dir, out });
    assert.equal(r.out, out);
    assert.equal(r.orders, 50);
    assert.equal(r.disputes, 0);
    assert.ok(r.bytes > 0);
    assert.equal(statSync(out).mode & 0o777, 0o600, 'backup is private');
    assert.equal(existsSync(`${out}.partial`), false);
    assert.equal(existsSync(`${out}-wal`), false, 'self-contained file');

    const raw = new BetterSqlite3(out, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'delete');
    assert.equal((raw.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number }).n, 50);
    raw.close();

    // The daemon keeps writing after the backup; the copy is a snapshot.
    await insertOrder(db, makeOrder());
    const copy = await openDatabase(out);
    assert.equal((await getOrder(copy, first.id))?.status, 'active');
    assert.deepEqual(await getOrder(copy, orders[49]!.id), orders[49]);
    await closeDatabase(copy);
    assert.equal((await getOrder(db, first.id))?.status, 'active');
    await closeDatabase(db);

  });

  void test('default destination is DIR/backups/mostro-<UTC timestamp>.db; never overwrites without --force', async () => {
    const dir = tmp();
    const db = await openDatabase(join(dir, 'mostro.db'));
    await insertOrder(db, makeOrder());
    const clock = new FakeClock(1_714_566_896); // 2024-05-01T12:34:56Z
    const r = await runBackup({ dir, clock });
    assert.equal(r.out, join(dir, 'backups', 'mostro-20240501T123456Z.db'));
    await assert.rejects(runBackup({ dir, clock }), /exists \(use --force/);
    await insertOrder(db, makeOrder());
    const again = await runBackup({ dir, clock, force: true });
    assert.equal(again.orders, 2);
    assert.deepEqual(readdirSync(join(dir, 'backups')), ['mostro-20240501T123456Z.db']);
    await closeDatabase(db);
  });

  void test('refuses a missing database and the live file as destination; a corrupt source leaves no partial file', async () => {
    const dir = tmp();
    await assert.rejects(runBackup({ dir, out: join(dir, 'x.db') }), /no database at/);
    const db = await openDatabase(join(dir, 'mostro.db'));
    await assert.rejects(runBackup({ dir, out: join(dir, 'mostro.db'), force: true }), /live database/);
    await closeDatabase(db);

    const bad = tmp();
    writeFileSync(join(bad, 'mostro.db'), 'this is not a database, just text '.repeat(200));
    await assert.rejects(runBackup({ dir: bad, out: join(bad, 'b.db') }));
    assert.equal(existsSync(join(bad, 'b.db')), false);
    assert.equal(existsSync(join(bad, 'b.db.partial')), false);
  });

  void test('argument parsing', () => {
    assert.deepEqual(parseBackupArgs(['-d', '/srv/m', 'out.db']), { opts: { dir: '/srv/m', out: 'out.db', force: false } });
    assert.deepEqual(parseBackupArgs(['--dirsettings=/srv/m', '--force']), { opts: { dir: '/srv/m', force: true } });
    assert.deepEqual(parseBackupArgs([], () => '/home/op'), { opts: { dir: '/home/op/.mostro', force: false } });
    const help = parseBackupArgs(['-h']);
    assert.ok('exit' in help && help.exit === 0 && help.output.includes('Usage: mostrod-backup'));
    for (const bad of [['-d'], ['--bogus'], ['a.db', 'b.db'], ['-d', 'x', '-d', 'y']]) {
      const r = parseBackupArgs(bad);
      assert.ok('exit' in r && r.exit === 2, `usage error for ${bad.join(' ')}`);
    }
  });

  void test('runs as a command: prints the summary, exit 0; exit 1 with a message on failure', async () => {
    const dir = tmp();
    const db = await openDatabase(join(dir, 'mostro.db'));
    await insertOrder(db, makeOrder());
    const script = new URL('../../../src/tools/backup.ts', import.meta.url).pathname;
    const ok = await run(process.execPath, ['--import', 'tsx', script, '-d', dir, join(dir, 'cli.db')]);
    assert.match(ok.stdout, /backup written to .*cli\.db \(\d+ bytes; 1 orders, 0 disputes, 0 users\)/);
    await closeDatabase(db);
    await assert.rejects(run(process.execPath, ['--import', 'tsx', script, '-d', join(dir, 'nope')]), (err: unknown) => {
      const e = err as { code?: number; stderr?: string };
      assert.equal(e.code, 1);
      assert.match(e.stderr ?? '', /mostrod-backup: no database at/);
      return true;
    });
  });
});
