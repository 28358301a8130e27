import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from '../../../src/db/sqlite-driver.js';
import { pino } from 'pino';
import { closeDatabase, openDatabase } from '../../../src/db/database.js';
import { getOrder, insertOrder } from '../../../src/db/orders.js';
import { BackupJob, compareBackupNames } from '../../../src/ops/backup-job.js';
import { makeOrder } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';

const silent = pino({ level: 'silent' });

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mostrod-backup-job-'));
}

/** Restore = open the copy on its own and read the rows back. */
function restoredOrderIds(file: string): string[] {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    return (db.prepare('SELECT lower(hex(id)) AS id FROM orders ORDER BY created_at').all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

const hexId = (uuid: string) => uuid.replace(/-/g, '');

void describe('scheduled backups', () => {
  void test('each run writes an integrity-checked copy that restores; only the newest `keep` stay', async () => {
    const dir = tmp();
    const db = await openDatabase(join(dir, 'mostro.db'));
    const clock = new FakeClock(1_800_000_000);
    const job = new BackupJob({ settingsDir: dir, settings: { keep: 2 }, clock, logger: silent });
    const ids: string[] = [];
    const written: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const o = makeOrder({ amount: 1000 + i, created_at: clock.now() });
        await insertOrder(db, o);
        ids.push(hexId(o.id));
        const r = await job.runOnce();
        assert.ok(r !== null);
        assert.equal(r.orders, i + 1);
        written.push(r.out);
        clock.advance(3600);
      }
    } finally {
      await closeDatabase(db);
    }
    const kept = readdirSync(job.dir).sort(compareBackupNames);
    assert.deepEqual(kept, ['mostro-20270115T100000Z.db', 'mostro-20270115T110000Z.db']);
    assert.deepEqual(kept.map((f) => join(job.dir, f)), written.slice(2));
    // The newest backup has every order; the one before it all but the last.
    assert.deepEqual(restoredOrderIds(join(job.dir, kept[1]!)), ids);
    assert.deepEqual(restoredOrderIds(join(job.dir, kept[0]!)), ids.slice(0, 3));
    const s = job.status();
    assert.equal(s.runs, 4);
    assert.equal(s.failures, 0);
    assert.equal(s.pruned, 2);
    assert.equal(s.lastError, null);
    assert.equal(s.lastBackup?.out, written[3]);
    assert.equal(s.schedule, null);
    assert.equal(s.nextRunAt, null);
  });

  void test('a failed run is counted, reported and deletes nothing', async () => {
    const dir = tmp();
    const clock = new FakeClock(1_800_000_000);
    const job = new BackupJob({ settingsDir: dir, settings: { keep: 1, dir: 'b' }, clock, logger: silent });
    // No mostro.db in dir: the backup cannot be taken. An older backup sits in the directory.
    const db = await openDatabase(join(dir, 'seed.db'));
    await closeDatabase(db);
    const older = join(dir, 'b');
    mkdirSync(older);
    writeFileSync(join(older, 'mostro-20200101T000000Z.db'), 'old');
    assert.equal(await job.runOnce(), null);
    assert.equal(await job.runOnce(), null);
    const s = job.status();
    assert.equal(s.runs, 2);
    assert.equal(s.failures, 2);
    assert.equal(s.consecutiveFailures, 2);
    assert.match(s.lastError ?? '', /no database at/);
    assert.deepEqual(readdirSync(older), ['mostro-20200101T000000Z.db']);
  });

  void test('runs on its cron schedule (every second) and reports the next run', async () => {
    const dir = tmp();
    const db = await openDatabase(join(dir, 'mostro.db'));
    const o = makeOrder({});
    await insertOrder(db, o);
    assert.ok((await getOrder(db, o.id)) !== undefined);
    await closeDatabase(db);
    const job = new BackupJob({
      settingsDir: dir,
      settings: { schedule: '* * * * * *', keep: 3 },
      clock: { now: () => Math.floor(Date.now() / 1000), nowMs: () => Date.now() },
      logger: silent,
    });
    job.start();
    try {
      assert.ok((job.status().nextRunAt ?? 0) > 0);
      // Wait for the schedule to fire (bounded), then check what it produced.
      for (let i = 0; i < 100 && job.status().lastSuccessAt === null; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await job.stop();
    }
    const s = job.status();
    assert.ok(s.runs >= 1, 'the schedule ran');
    assert.equal(s.failures, 0);
    const files = readdirSync(job.dir);
    assert.ok(files.length >= 1 && files.length <= 3, files.join(','));
    assert.deepEqual(restoredOrderIds(join(job.dir, files[0]!)), [hexId(o.id)]);
  });
});
