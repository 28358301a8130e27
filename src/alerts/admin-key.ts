import { nip19 } from '../crypto/nip19.js';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The operator's public key from `[alerts] admin_npub`: a bech32 `npub1…` or 64 hex characters
 * (x-only key). Returns lowercase hex, or null when `text` is neither.
 */
export function parseAdminPubkey(text: string): string | null {
  const t = text.trim().toLowerCase();
  if (HEX64.test(t)) return t;
  if (!t.startsWith('npub1')) return null;
  try {
    const decoded = nip19.decode(t);
    return decoded.type === 'npub' ? decoded.data : null;
  } catch {
    return null;
  }
}
