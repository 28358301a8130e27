import { secp256k1 } from '@noble/curves/secp256k1.js';
import { nip19 } from '../crypto/nip19.js';

/**
 * Parse Mostro's secret key as mostrod accepts it: bech32 `nsec1…` or 64 hex chars. Throws an
 * Error whose message never contains the key.
 */
export function parseNodeSecretKey(s: string): Uint8Array {
  const t = s.trim();
  let key: Uint8Array;
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    key = Uint8Array.from(Buffer.from(t, 'hex'));
  } else if (t.toLowerCase().startsWith('nsec1')) {
    let decoded: ReturnType<typeof nip19.decode>;
    try {
      decoded = nip19.decode(t.toLowerCase());
    } catch {
      throw new Error('not a valid nsec (bech32 decoding failed)');
    }
    if (decoded.type !== 'nsec') throw new Error('not a valid nsec');
    key = decoded.data;
  } else {
    throw new Error('expected an nsec1… key or 64 hex characters');
  }
  if (!secp256k1.utils.isValidSecretKey(key)) throw new Error('not a valid secp256k1 secret key');
  return key;
}
