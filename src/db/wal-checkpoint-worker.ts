/**
 * The WAL checkpointer's thread (wal-checkpointer.ts; a one-thread piscina pool): its own SQLite
 * connection to the daemon's file, on which each task runs `PRAGMA wal_checkpoint(PASSIVE)`.
 * PASSIVE copies what it can without waiting for the daemon's connection (SQLite's WAL lets a
 * checkpoint run beside a writer) and fsyncs the WAL and the database file here, not on the
 * event loop.
 */
import { workerData } from 'node:worker_threads';
import Driver, { type Database } from './sqlite-driver.js';

export interface CheckpointWorkerData {
  file: string;
}

/** One pass: frames in the WAL, and how many of them are in the database file after it. */
export interface CheckpointReport {
  frames: number;
  checkpointed: number;
  busy: boolean;
}

export type CheckpointTask = 'checkpoint' | 'close';

const { file } = workerData as CheckpointWorkerData;
let db: Database | null = null;

function connection(): Database {
  if (db !== null) return db;
  const c = new Driver(file, { fileMustExist: true });
  // A checkpoint syncs the WAL before copying it and the database file after, unless synchronous
  // is OFF on the connection that runs it; NORMAL is what the daemon's connection uses.
  c.pragma('synchronous = NORMAL');
  c.pragma('busy_timeout = 1000');
  // A checkpoint copies pages through its own buffer, not the page cache: keep the cache small
  // (better-sqlite3 compiles SQLite with 16 MB per connection; this thread counts in the RSS).
  c.pragma('cache_size = -256');
  db = c;
  return c;
}

export default function run(task: CheckpointTask): CheckpointReport | null {
  if (task === 'close') {
    db?.close();
    db = null;
    return null;
  }
  const row = (connection().pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>)[0];
  return { frames: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0, busy: (row?.busy ?? 0) !== 0 };
}
