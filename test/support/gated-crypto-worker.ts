/**
 * A crypto worker that holds every message until the test opens its gate (a shared Int32Array in
 * workerData: 0 = closed, 1 = open), then answers as the real worker does. Used to keep every batch
 * slot of a pool taken for as long as a test needs (crypto-pool.test.ts, the loop helping).
 */
import { workerData } from 'node:worker_threads';
import { cryptoStateFrom, runPoolMessage, type CryptoBatch, type CryptoReply, type CryptoTask } from '../../src/nostr/crypto-tasks.js';

const state = cryptoStateFrom(workerData);
const gate = (workerData as { gate: Int32Array }).gate;

export default function handle(message: CryptoTask | CryptoBatch): CryptoReply | CryptoReply[] {
  while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0, 1000);
  return runPoolMessage(state, message);
}
