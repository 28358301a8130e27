/**
 * The WAL checkpoint passes, on a thread that is not the event loop: a connection of its own to the
 * daemon's file, on which each task runs `PRAGMA wal_checkpoint(PASSIVE)`. PASSIVE copies what it
 * can without waiting for the daemon's connection (SQLite's WAL lets a checkpoint run beside a
 * writer) and fsyncs the WAL and the database file here, not on the event loop.
 *
 * Two hosts load it (wal-checkpointer.ts): a crypto-pool thread, through the `walCheckpoint` export
 * of crypto-worker.ts (the default: no thread of its own), or a one-thread piscina pool of its own
 * (`MOSTROD_DB_CHECKPOINT=background`), through the default export here, whose workerData names
 * the file.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import Driver, { type Database, type Statement } from './sqlite-driver.js';

export interface CheckpointWorkerData {
  file: string;
}

/** One pass: frames in the WAL, and how many of them are in the database file after it. */
export interface CheckpointReport {
  frames: number;
  checkpointed: number;
  busy: boolean;
}

export type CheckpointOp = 'checkpoint' | 'close';

/** A task naming its file (the crypto-pool host serves whatever file it is asked for). */
export interface CheckpointFileTask {
  op: CheckpointOp;
  file: string;
}

/**
 * This thread's connections, by file (one in practice), each with its pass statement prepared
 * once. better-sqlite3 13 (Node 22 and 24) frees a collected statement (≈ 3.7 KB) from a later
 * turn of the thread's event loop, and a crypto thread (piscina, waiting on Atomics) barely turns
 * its loop: `pragma()` prepares a statement per call, so a pass every 200 ms grew this thread's
 * malloc arena by ≈ 1 MB a minute (docs/PERFORMANCE.md, session 19). better-sqlite3 12 (Node 20)
 * frees them during the collection.
 */
const connections = new Map<string, { db: Database; pass: Statement }>();

function connection(file: string): { db: Database; pass: Statement } {
  const open = connections.get(file);
  if (open !== undefined) return open;
  const c = new Driver(file, { fileMustExist: true });
  // A checkpoint syncs the WAL before copying it and the database file after, unless synchronous
  // is OFF on the connection that runs it; NORMAL is what the daemon's connection uses.
  c.pragma('synchronous = NORMAL');
  c.pragma('busy_timeout = 1000');
  // A checkpoint copies pages through its own buffer, not the page cache: keep the cache small
  // (better-sqlite3 compiles SQLite with 16 MB per connection; this thread counts in the RSS).
  c.pragma('cache_size = -256');
  const entry = { db: c, pass: c.prepare('PRAGMA wal_checkpoint(PASSIVE)') };
  connections.set(file, entry);
  return entry;
}

/** Run one task on this thread: a pass over `file`'s WAL, or close this thread's connection to it. */
export function runCheckpointTask(task: CheckpointFileTask): CheckpointReport | null {
  if (task.op === 'close') {
    connections.get(task.file)?.db.close();
    connections.delete(task.file);
    return null;
  }
  const row = connection(task.file).pass.get() as { busy: number; log: number; checkpointed: number } | undefined;
  return { frames: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0, busy: (row?.busy ?? 0) !== 0 };
}

/** Entry of the checkpointer's own thread (`background`): the file comes from workerData. */
const ownFile = isMainThread ? undefined : (workerData as Partial<CheckpointWorkerData> | undefined)?.file;

export default function run(op: CheckpointOp): CheckpointReport | null {
  if (ownFile === undefined) throw new Error('wal-checkpoint-worker: no file in workerData');
  return runCheckpointTask({ op, file: ownFile });
}
