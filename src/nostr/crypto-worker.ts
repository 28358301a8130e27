/**
 * Worker-thread entry of the crypto pool (crypto-pool.ts), loaded by piscina: one CryptoState per
 * thread, built from workerData (the node key and the conversation-key cache size). This module is
 * the thread's composition root, so its state lives here; the main thread never imports it.
 */
import { workerData } from 'node:worker_threads';
import { runCheckpointTask, type CheckpointFileTask, type CheckpointReport } from '../db/wal-checkpoint-worker.js';
import { threadProfilerFromEnv } from '../observability/thread-profiler.js';
import { cryptoStateFrom, runPoolMessage, type CryptoBatch, type CryptoReply, type CryptoState, type CryptoTask } from './crypto-tasks.js';

const state: CryptoState = cryptoStateFrom(workerData);
const profiler = threadProfilerFromEnv();

export default function handle(message: CryptoTask | CryptoBatch): CryptoReply | CryptoReply[] {
  profiler?.tick();
  return runPoolMessage(state, message);
}

/**
 * The database's WAL checkpoints (db/wal-checkpointer.ts), when they run on a crypto thread (the
 * default with crypto threads): a pass over the file the task names, on this thread's own
 * connection, opened at the first pass.
 */
export function walCheckpoint(task: CheckpointFileTask): CheckpointReport | null {
  profiler?.tick(); // passes come every 200 ms, so a profile ends on time after the load stops
  return runCheckpointTask(task);
}
