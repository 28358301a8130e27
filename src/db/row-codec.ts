import { sql } from 'kysely';
import type { RawBuilder, SqlBool } from 'kysely';
import { CantDoError } from '../errors.js';

/**
 * One WHERE fragment per `expect` entry: value → `=`, null → `IS NULL`, array → `IN (…)` (an
 * array containing null also matches NULL; an empty array matches nothing). `encode` converts a
 * domain value to its stored form (uuid text → BLOB). Undefined entries are ignored.
 */
export function expectConditions(
  expect: Readonly<Record<string, unknown>>,
  encode: (column: string, value: unknown) => unknown,
): RawBuilder<SqlBool>[] {
  const out: RawBuilder<SqlBool>[] = [];
  for (const [column, value] of Object.entries(expect)) {
    if (value === undefined) continue;
    const ref = sql.ref(column);
    if (value === null) {
      out.push(sql<SqlBool>`${ref} IS NULL`);
    } else if (Array.isArray(value)) {
      const values: unknown[] = value;
      const nonNull = values.filter((v) => v !== null).map((v) => encode(column, v));
      const hasNull = nonNull.length !== values.length;
      if (nonNull.length === 0) {
        out.push(hasNull ? sql<SqlBool>`${ref} IS NULL` : sql<SqlBool>`0 = 1`);
      } else {
        const inList = sql<SqlBool>`${ref} IN (${sql.join(nonNull)})`;
        out.push(hasNull ? sql<SqlBool>`(${inList} OR ${ref} IS NULL)` : inList);
      }
    } else {
      out.push(sql<SqlBool>`${ref} = ${encode(column, value)}`);
    }
  }
  return out;
}

/** AND of the fragments (TRUE when there are none). */
export function andAll(parts: RawBuilder<SqlBool>[]): RawBuilder<SqlBool> {
  return parts.length === 0 ? sql<SqlBool>`1 = 1` : sql<SqlBool>`(${sql.join(parts, sql` AND `)})`;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** mostrod's pubkey check before user/order-by-key queries: 64 hex chars, else `invalid_pubkey`. */
export function assertHexPubkey(pubkey: string): void {
  if (!HEX64.test(pubkey)) throw new CantDoError('invalid_pubkey');
}
