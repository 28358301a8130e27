/**
 * mostrod (sqlx 0.6) stores `uuid::Uuid` values as 16-byte BLOBs even though the columns are
 * declared `char(36)` (DAEMON.md §3.4). These helpers convert between that encoding and the
 * canonical lowercase hyphenated text the app uses.
 */
const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** True iff `s` is a UUID in hyphenated or simple (32 hex) form. */
export function isUuidText(s: string): boolean {
  return UUID_RE.test(s);
}

/** Text UUID → 16-byte BLOB. Throws TypeError on malformed input. */
export function uuidToBlob(s: string): Buffer {
  if (!UUID_RE.test(s)) throw new TypeError(`invalid uuid: ${JSON.stringify(s)}`);
  return Buffer.from(s.replace(/-/g, ''), 'hex');
}

/** Text UUID → BLOB, or undefined when the text is not a UUID (such a row cannot exist). */
export function tryUuidToBlob(s: string): Buffer | undefined {
  return UUID_RE.test(s) ? Buffer.from(s.replace(/-/g, ''), 'hex') : undefined;
}

/**
 * Stored value → canonical text. Accepts the 16-byte BLOB mostrod writes; a text value (never
 * written by mostrod, but possible after manual edits) is normalised to lowercase.
 */
export function blobToUuid(v: Uint8Array | string): string {
  if (typeof v === 'string') return v.toLowerCase();
  if (v.length !== 16) throw new TypeError(`uuid blob must be 16 bytes, got ${v.length}`);
  const h = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
