/**
 * NIP-13 proof of work: difficulty = number of leading zero bits of the event id.
 */
import { createHash } from 'node:crypto';
import type { UnsignedEvent } from '../crypto/event.js';

/** Leading zero bits of a hex id (non-hex characters end the count). */
export function leadingZeroBits(idHex: string): number {
  let bits = 0;
  for (let i = 0; i < idHex.length; i++) {
    const nibble = parseInt(idHex[i]!, 16);
    if (Number.isNaN(nibble)) return bits;
    if (nibble === 0) {
      bits += 4;
      continue;
    }
    // nibble in 1..15: count its leading zeros within 4 bits
    bits += Math.clz32(nibble) - 28;
    return bits;
  }
  return bits;
}

/**
 * Mine a nonce so the id has at least `bits` leading zero bits. Appends `["nonce", n, bits]`
 * (replacing an existing nonce tag) and returns the event with its id. Synchronous: keep `bits`
 * modest (each extra bit doubles the expected work; 16 bits ≈ 65k hashes).
 */
export function minePow<T extends UnsignedEvent>(event: T, bits: number): T & { id: string } {
  if (!Number.isInteger(bits) || bits < 0 || bits > 256) throw new RangeError('pow bits must be an integer in 0..256');
  const tags = event.tags.filter((t) => t[0] !== 'nonce');
  const target = String(bits);
  // serialization = head + nonce + tail, with the nonce tag last in the tags array
  const tagsHead = JSON.stringify(tags).slice(0, -1); // drop the closing ']'
  const head =
    `[0,${JSON.stringify(event.pubkey)},${event.created_at},${event.kind},` +
    `${tagsHead}${tags.length > 0 ? ',' : ''}["nonce","`;
  const tail = `",${JSON.stringify(target)}]],${JSON.stringify(event.content)}]`;
  for (let nonce = 0; ; nonce++) {
    const id = createHash('sha256').update(head + String(nonce) + tail).digest('hex');
    if (leadingZeroBits(id) >= bits) {
      return { ...event, tags: [...tags, ['nonce', String(nonce), target]], id };
    }
  }
}
