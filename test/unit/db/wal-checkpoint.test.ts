/**
 * WAL checkpoints off the event loop (src/db/wal-checkpointer.ts): with `walCheckpoint:
 * 'background'` a worker thread with its own connection checkpoints the WAL, the daemon's
 * connection only past the backstop; what was written stays readable, after a restart too; a
 * thread that dies is replaced.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { pino } from 'pino';
import { attachWalCheckpointer, checkpointerOf, closeDatabase, openDatabase } from '../../../src/db/database.js';
import type { Db } from '../../../src/db/schema.js';
import { BACKSTOP_PAGES, WalCheckpointer, walCheckpointFromEnv } from '../../../src/db/wal-checkpointer.js';
import { runCheckpointTask } from '../../../src/db/wal-checkpoint-worker.js';
import Driver from '../../../src/db/sqlite-driver.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { verifyEvent } from '../../../src/crypto/event.js';
import { createCryptoExecutor, WorkerCrypto } from '../../../src/nostr/crypto-pool.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wal-checkpoint-'));
  dirs.push(dir);
  return join(dir, 'mostro.db');
}

/** `n` transactions of 50 rows of 1 KB each on the daemon's connection (≈ 13 pages a transaction). */
async function write(db: Db, n: number, from = 0): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, v BLOB)`.execute(db);
  for (let t = 0; t < n; t++) {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < 50; i++) await sql`INSERT INTO scratch (id, v) VALUES (${from + t * 50 + i}, randomblob(1000))`.execute(trx);
    });
  }
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function autocheckpoint(db: Db): Promise<number> {
  const r = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(db);
  return r.rows[0]!.wal_autocheckpoint;
}

void describe('WAL checkpoints', () => {
  void test('the mode comes from MOSTROD_DB_CHECKPOINT (default auto); a bad value names the variable', () => {
    assert.equal(walCheckpointFromEnv({}), 'auto');
    assert.equal(walCheckpointFromEnv({ MOSTROD_DB_CHECKPOINT: 'Background' }), 'background');
    assert.equal(walCheckpointFromEnv({ MOSTROD_DB_CHECKPOINT: 'inline' }), 'inline');
    assert.equal(walCheckpointFromEnv({ MOSTROD_DB_CHECKPOINT: 'auto' }), 'auto');
    assert.throws(() => walCheckpointFromEnv({ MOSTROD_DB_CHECKPOINT: 'sometimes' }), /MOSTROD_DB_CHECKPOINT: expected "auto", "background" or "inline"/);
  });

  void test('on a crypto thread (auto): the passes run there beside crypto tasks, uncounted by the inline policy; the WAL is gone after the close', async () => {
    const file = tempFile();
    const db = await openDatabase(file, { durability: 'barrier' });
    const sk = generateSecretKey();
    const keys = { secretKey: sk, pubkey: getPublicKey(sk) };
    const pool = new WorkerCrypto({ threads: 1, keys, logger: pino({ level: 'silent' }) });
    let closed = false;
    try {
      const cp = attachWalCheckpointer(db, pool.checkpointRunner());
      assert.ok(cp !== null);
      assert.equal(cp.stats().where, 'crypto-thread');
      assert.equal(checkpointerOf(db), cp);
      assert.equal(await autocheckpoint(db), BACKSTOP_PAGES);
      // attached once only
      assert.equal(attachWalCheckpointer(db, pool.checkpointRunner()), null);
      // Crypto tasks and checkpoint passes share the thread: both get done.
      const signing = (async () => {
        for (let i = 0; i < 50; i++) {
          const e = await pool.run({ op: 'sign-event', kind: 38383, tags: [['d', String(i)]], content: '', created_at: 1_700_000_000 });
          assert.ok(verifyEvent(e));
        }
      })();
      await write(db, 200);
      await signing;
      await until('a checkpoint pass of the whole WAL on the crypto thread', () => {
        const s = cp.stats();
        return s.lastFrames > 0 && s.lastCheckpointed === s.lastFrames;
      });
      assert.equal(cp.stats().failures, 0);
      assert.equal(pool.inFlight(), 0, 'passes are not crypto tasks in flight');
      // The daemon's order: checkpoints, then the crypto pool, then the database.
      await cp.close();
      await pool.close();
      closed = true;
      await closeDatabase(db);
      assert.equal(existsSync(`${file}-wal`), false, 'the crypto thread closed its connection: this one was the last');
    } finally {
      if (!closed) {
        await pool.close();
        await closeDatabase(db);
      }
    }
  });

  void test('on a crypto thread: a thread that dies is replaced by the pool and the passes go on there', async () => {
    const file = tempFile();
    const db = await openDatabase(file, { durability: 'barrier' });
    const sk = generateSecretKey();
    const pool = new WorkerCrypto({ threads: 1, keys: { secretKey: sk, pubkey: getPublicKey(sk) }, logger: pino({ level: 'silent' }) });
    const cp = attachWalCheckpointer(db, pool.checkpointRunner());
    assert.ok(cp !== null);
    // WorkerCrypto keeps its piscina pool private; the test reaches in to kill the thread.
    const threads = (): Array<{ terminate(): Promise<number> }> => (pool as unknown as { pool: { threads: Array<{ terminate(): Promise<number> }> } }).pool.threads;
    try {
      await write(db, 20);
      await until('a first pass', () => cp.stats().passes > 0);
      const first = threads()[0];
      assert.ok(first !== undefined);
      await first.terminate();
      await until('a new thread', () => threads().length === 1 && threads()[0] !== first);
      const before = cp.stats().passes;
      await write(db, 100, 20 * 50);
      await until('passes on the new thread that checkpoint the whole WAL', () => {
        const s = cp.stats();
        return s.passes > before && s.lastFrames > 0 && s.lastCheckpointed === s.lastFrames;
      });
      // the pool still does its own work
      const e = await pool.run({ op: 'sign-event', kind: 38383, tags: [], content: '', created_at: 1_700_000_000 });
      assert.ok(verifyEvent(e));
    } finally {
      await cp.close();
      await pool.close();
      await closeDatabase(db);
    }
  });

  void test('auto without crypto threads, and an in-memory database: nothing attached, SQLite checkpoints inline', async () => {
    const sk = generateSecretKey();
    const keys = { secretKey: sk, pubkey: getPublicKey(sk) };
    const none = createCryptoExecutor({ threads: 0, keys, logger: pino({ level: 'silent' }) });
    assert.equal(none.checkpointRunner?.() ?? null, null);
    const pool = new WorkerCrypto({ threads: 1, keys, logger: pino({ level: 'silent' }) });
    const memory = await openDatabase(':memory:');
    try {
      assert.equal(attachWalCheckpointer(memory, pool.checkpointRunner()), null);
      assert.equal(checkpointerOf(memory), null);
    } finally {
      await closeDatabase(memory);
      await pool.close();
    }
  });

  void test('a pass prepares nothing: its statement is prepared once per connection (better-sqlite3 13 keeps every statement until the close)', async (t) => {
    const file = tempFile();
    const db = await openDatabase(file);
    try {
      await write(db, 4);
      assert.ok(runCheckpointTask({ op: 'checkpoint', file }) !== null); // opens this thread's connection
      const prepare = t.mock.method(Driver.prototype, 'prepare');
      const pragma = t.mock.method(Driver.prototype, 'pragma');
      let last = null;
      for (let i = 0; i < 50; i++) {
        await write(db, 1, 1_000 + i * 50);
        last = runCheckpointTask({ op: 'checkpoint', file });
      }
      assert.equal(prepare.mock.callCount() + pragma.mock.callCount(), 0, 'no statement prepared by 50 passes');
      assert.ok(last !== null && last.frames > 0 && last.checkpointed === last.frames && !last.busy, JSON.stringify(last));
      t.mock.restoreAll();
      assert.equal(runCheckpointTask({ op: 'close', file }), null);
      // closed: the next pass opens a new connection and prepares its statement again
      const again = t.mock.method(Driver.prototype, 'prepare');
      assert.ok(runCheckpointTask({ op: 'checkpoint', file }) !== null);
      assert.equal(again.mock.callCount(), 1);
    } finally {
      runCheckpointTask({ op: 'close', file });
      await closeDatabase(db);
    }
  });

  void test('inline (the default of openDatabase): SQLite checkpoints in this connection, no thread', async () => {
    const db = await openDatabase(tempFile(), { durability: 'barrier' });
    try {
      assert.equal(checkpointerOf(db), null);
      assert.equal(await autocheckpoint(db), 1000);
    } finally {
      await closeDatabase(db);
    }
  });

  void test('background: the thread copies the WAL into the database file; this connection only past the backstop; nothing lost across a reopen', async () => {
    const file = tempFile();
    const db = await openDatabase(file, { durability: 'barrier', walCheckpoint: 'background' });
    const cp = checkpointerOf(db);
    assert.ok(cp !== null);
    assert.equal(await autocheckpoint(db), BACKSTOP_PAGES);
    // ≈ 2,600 pages: past SQLite's default of 1,000, far from the backstop.
    await write(db, 200);
    await until('a checkpoint pass of the whole WAL', () => {
      const s = cp.stats();
      return s.lastFrames > 0 && s.lastCheckpointed === s.lastFrames;
    });
    assert.ok(cp.stats().passes > 0);
    assert.equal(cp.stats().failures, 0);
    // The WAL is reused from its start once checkpointed: the next writes go on, readable as ever.
    await write(db, 20, 200 * 50);
    const count = await sql<{ n: number }>`SELECT count(*) AS n FROM scratch`.execute(db);
    assert.equal(count.rows[0]!.n, 220 * 50);
    await closeDatabase(db);
    // This connection closed last: SQLite checkpointed and removed the WAL.
    assert.equal(existsSync(`${file}-wal`), false);
    const again = await openDatabase(file, { durability: 'barrier', walCheckpoint: 'background' });
    try {
      const n = await sql<{ n: number }>`SELECT count(*) AS n FROM scratch`.execute(again);
      assert.equal(n.rows[0]!.n, 220 * 50);
    } finally {
      await closeDatabase(again);
    }
  });

  void test('a checkpoint thread that dies is replaced, and the replacement checkpoints', async () => {
    const file = tempFile();
    const db = await openDatabase(file, { durability: 'barrier' });
    const warnings: string[] = [];
    const cp = new WalCheckpointer({ file, intervalMs: 20, logger: { warn: (_o, msg) => warnings.push(msg) } });
    try {
      await write(db, 20);
      await until('a first pass', () => cp.stats().passes > 0);
      const first = cp.thread;
      assert.ok(first !== null);
      await first.terminate();
      await until('a new thread', () => cp.stats().restarts === 1 && cp.thread !== null && cp.thread !== first);
      const before = cp.stats().passes;
      await write(db, 20, 20 * 50);
      await until('a pass of the new thread', () => cp.stats().passes > before);
    } finally {
      await cp.close();
      await closeDatabase(db);
    }
  });
});
