/**
 * A crypto worker that dies once, mid-task: it does the task's work and then exits its thread
 * before answering — the first time any thread of its pool gets a task (a shared flag in
 * workerData decides which). Used to show that the pool replaces the thread and the task is
 * neither lost nor answered twice (a batch of tasks dies, and is run again, as a whole).
 */
import { workerData } from 'node:worker_threads';
import { cryptoStateFrom, runPoolMessage, type CryptoBatch, type CryptoReply, type CryptoTask } from '../../src/nostr/crypto-tasks.js';

const state = cryptoStateFrom(workerData);
const crashOnce = (workerData as { crashOnce: Int32Array }).crashOnce;

export default function handle(message: CryptoTask | CryptoBatch): CryptoReply | CryptoReply[] {
  const reply = runPoolMessage(state, message);
  if (Atomics.compareExchange(crashOnce, 0, 0, 1) === 0) process.exit(70);
  return reply;
}
