/**
 * UUID text forms accepted by the uuid crate's `Uuid::parse_str` (uuid 1.x, used by mostro-core):
 * 32 hex digits; 36-char hyphenated (8-4-4-4-12); the hyphenated form in braces `{…}`; or
 * `urn:uuid:` (lowercase prefix) + hyphenated. Hex digits may be upper or lower case.
 * Returns the canonical lowercase hyphenated form, or null if the text is not a UUID.
 */
const HEX32 = /^[0-9a-fA-F]{32}$/;
const HYPHENATED = /^([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})$/;

export function normalizeUuid(text: string): string | null {
  if (text.length === 32) {
    if (!HEX32.test(text)) return null;
    const s = text.toLowerCase();
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
  let inner: string;
  if (text.length === 36) inner = text;
  else if (text.length === 38 && text.startsWith('{') && text.endsWith('}')) inner = text.slice(1, -1);
  else if (text.length === 45 && text.startsWith('urn:uuid:')) inner = text.slice(9);
  else return null;
  return HYPHENATED.test(inner) ? inner.toLowerCase() : null;
}

/** True if `text` is already a canonical (lowercase, hyphenated) UUID. */
export function isCanonicalUuid(text: string): boolean {
  return text.length === 36 && normalizeUuid(text) === text;
}
