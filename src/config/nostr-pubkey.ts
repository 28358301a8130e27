import { secp256k1 } from '@noble/curves/secp256k1.js';
import { nip19 } from '../crypto/nip19.js';

/**
 * A Nostr public key as an operator may write it (64 hex characters or `npub1…`), returned as
 * lower-case hex, or null when it is not a key (bad encoding or not an x coordinate on secp256k1).
 */
export function decodeNostrPubkey(s: string): string | null {
  const t = s.trim().toLowerCase();
  let hex: string;
  if (/^[0-9a-f]{64}$/.test(t)) {
    hex = t;
  } else if (t.startsWith('npub1')) {
    try {
      const decoded = nip19.decode(t);
      if (decoded.type !== 'npub') return null;
      hex = decoded.data;
    } catch {
      return null;
    }
  } else {
    return null;
  }
  try {
    secp256k1.Point.fromHex(`02${hex}`);
  } catch {
    return null;
  }
  return hex;
}
