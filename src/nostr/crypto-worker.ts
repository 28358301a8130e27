/**
 * Worker-thread entry of the crypto pool (crypto-pool.ts), loaded by piscina: one CryptoState per
 * thread, built from workerData (the node key and the conversation-key cache size). This module is
 * the thread's composition root, so its state lives here; the main thread never imports it.
 */
import { workerData } from 'node:worker_threads';
import { cryptoStateFrom, runPoolMessage, type CryptoBatch, type CryptoReply, type CryptoState, type CryptoTask } from './crypto-tasks.js';

const state: CryptoState = cryptoStateFrom(workerData);

export default function handle(message: CryptoTask | CryptoBatch): CryptoReply | CryptoReply[] {
  return runPoolMessage(state, message);
}
