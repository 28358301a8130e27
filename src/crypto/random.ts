/**
 * Cryptographically secure random bytes for the hot path, drawn from a per-thread buffer that
 * node:crypto refills 4 KiB at a time.
 *
 * Why: `crypto.randomBytes(32)` costs ≈ 4.6 µs here whatever the size (OpenSSL's DRBG per call, a
 * `getpid` for its fork check, the Buffer), and the node draws six such values for every reply
 * it wraps and every event it signs (the gift wrap's ephemeral key, two NIP-44 nonces, three
 * BIP-340 auxiliary values). One 4 KiB fill costs about the same as one 32-byte draw, so the
 * buffer divides that cost by ~128. Node does the same for `crypto.randomUUID()`.
 *
 * Every byte handed out comes from OpenSSL's CSPRNG, is handed out once, and is zeroed in the
 * buffer as it is taken (the secret keys and nonces do not linger in it). Each thread (the event
 * loop, each crypto worker) has its own buffer: module state is per thread.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
/** Requests above this size go to node:crypto directly (nothing on the hot path is that big). */
const MAX_POOLED = 256;

const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES; // empty: the first draw fills it

/** `n` fresh random bytes (a new array the caller owns). */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`randomBytes: bad length ${String(n)}`);
  const out = new Uint8Array(n);
  if (n > MAX_POOLED) {
    randomFillSync(out);
    return out;
  }
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const end = offset + n;
  out.set(pool.subarray(offset, end));
  pool.fill(0, offset, end);
  offset = end;
  return out;
}
