import { nip19 } from '../crypto/nip19.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * A public key as nostr's `PublicKey::from_str` reads it (what mostrod 0.17.1 parses `next_trade`
 * keys with): 64 hex characters or a bech32 `npub1…`. Returns lowercase hex, or null.
 */
export function parsePubkeyText(text: string): string | null {
  if (HEX64.test(text)) return text.toLowerCase();
  if (!text.startsWith('npub1')) return null;
  try {
    const decoded = nip19.decode(text);
    return decoded.type === 'npub' ? decoded.data : null;
  } catch {
    return null;
  }
}
