import type { Selectable } from 'kysely';
import { CantDoError } from '../errors.js';
import { compiledOnce, compiledOncePerShape } from './compiled-once.js';
import { assertHexPubkey } from './row-codec.js';
import type { Executor, UsersTable } from './schema.js';
import type { UserRow } from './types.js';

/** mostro-core rating bounds. */
export const MIN_RATING = 1;
export const MAX_RATING = 5;

function userFromDb(r: Selectable<UsersTable>): UserRow {
  return { ...r };
}

// Statements of the new-order path (intake's trade-index gate, the index raise, the maker's row),
// built and compiled by Kysely once (compiled-once.ts).
const SELECT_USER = compiledOnce((db, pubkey: string) =>
  db.selectFrom('users').selectAll().where('pubkey', '=', pubkey).limit(1),
);
const SELECT_LAST_TRADE_INDEX = compiledOnce((db, pubkey: string) =>
  db.selectFrom('users').select('last_trade_index').where('pubkey', '=', pubkey).limit(1),
);
const INSERT_USER = compiledOncePerShape((db, full: UserRow) =>
  db
    .insertInto('users')
    .values(full)
    .onConflict((oc) => oc.column('pubkey').doNothing()),
);
const RAISE_LAST_TRADE_INDEX = compiledOnce((db, pubkey: string, index: number) =>
  db
    .updateTable('users')
    .set({ last_trade_index: index })
    .where('pubkey', '=', pubkey)
    .where('last_trade_index', '<', index)
    .returning(['total_rating', 'total_reviews', 'created_at']),
);

/** The hot statements of this module, for the SQL-equality test. */
export const USER_STATEMENTS = { SELECT_USER, SELECT_LAST_TRADE_INDEX, INSERT_USER, RAISE_LAST_TRADE_INDEX };

export async function getUser(ex: Executor, pubkey: string): Promise<UserRow | undefined> {
  const r = (await SELECT_USER.run(ex, pubkey)).rows[0];
  return r && userFromDb(r);
}

/** The user's stored last_trade_index (what intake's trade-index gate reads), undefined if no row. */
export async function getLastTradeIndex(ex: Executor, pubkey: string): Promise<number | undefined> {
  return (await SELECT_LAST_TRADE_INDEX.run(ex, pubkey)).rows[0]?.last_trade_index;
}

/** Insert a user with defaults (0 / null) for the omitted columns; false if the pubkey exists. */
export async function insertUser(
  ex: Executor,
  row: Partial<UserRow> & { pubkey: string; created_at: number },
): Promise<boolean> {
  const full: UserRow = {
    is_admin: 0,
    admin_password: null,
    is_solver: 0,
    is_banned: 0,
    category: 0,
    last_trade_index: 0,
    total_reviews: 0,
    total_rating: 0,
    last_rating: 0,
    max_rating: 0,
    min_rating: 0,
    ...row,
  };
  const res = await INSERT_USER.run(ex, full);
  return (res.numAffectedRows ?? 0n) > 0n;
}

/**
 * `UPDATE users SET last_trade_index = ? WHERE pubkey = ? [AND last_trade_index = expectOld]`.
 * Validates like mostrod: non-hex pubkey → invalid_pubkey, negative index → invalid_trade_index.
 */
export async function setLastTradeIndex(
  ex: Executor,
  pubkey: string,
  index: number,
  expectOld?: number,
): Promise<boolean> {
  assertHexPubkey(pubkey);
  if (!Number.isSafeInteger(index) || index < 0) throw new CantDoError('invalid_trade_index');
  let q = ex.updateTable('users').set({ last_trade_index: index }).where('pubkey', '=', pubkey);
  if (expectOld !== undefined) q = q.where('last_trade_index', '=', expectOld);
  const res = await q.executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** The reputation columns of a user row (what the 38383 `rating` tag and user-info read). */
export type UserReputation = Pick<UserRow, 'total_rating' | 'total_reviews' | 'created_at'>;

/**
 * `UPDATE users SET last_trade_index = ? WHERE pubkey = ? AND last_trade_index < ?
 * RETURNING total_rating, total_reviews, created_at` — raise the stored trade index, never lower
 * it (HQ-4), in one statement instead of a read then a compare-and-set write. Returns the user's
 * reputation columns when the row was raised; undefined when there is no such user or the stored
 * index is already ≥ `index`. Negative or unsafe index → invalid_trade_index.
 */
export async function raiseLastTradeIndex(ex: Executor, pubkey: string, index: number): Promise<UserReputation | undefined> {
  if (!Number.isSafeInteger(index) || index < 0) throw new CantDoError('invalid_trade_index');
  return (await RAISE_LAST_TRADE_INDEX.run(ex, pubkey, index)).rows[0];
}

/**
 * Make `pubkey` a solver: creates the user (is_solver = 1) or promotes an existing one. mostrod
 * 0.17.1 only inserted, so an existing user could never become a solver (HQ-14).
 */
export async function makeSolver(ex: Executor, pubkey: string, now: number): Promise<'created' | 'promoted' | 'already'> {
  assertHexPubkey(pubkey);
  if (await insertUser(ex, { pubkey, created_at: now, is_solver: 1 })) return 'created';
  const res = await ex
    .updateTable('users')
    .set({ is_solver: 1 })
    .where('pubkey', '=', pubkey)
    .where('is_solver', '=', 0)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n ? 'promoted' : 'already';
}

export async function isSolver(ex: Executor, pubkey: string): Promise<boolean> {
  const r = await ex
    .selectFrom('users')
    .select('pubkey')
    .where('pubkey', '=', pubkey)
    .where('is_solver', '=', 1)
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}

export type RatingPatch = Pick<UserRow, 'total_reviews' | 'total_rating' | 'last_rating' | 'max_rating' | 'min_rating'>;

/** mostrod's `update_user_rating` validation (DAEMON.md §3.6); throws CantDoError. */
export function validateRating(pubkey: string, p: RatingPatch): void {
  assertHexPubkey(pubkey);
  const inRange = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 5;
  const ok =
    inRange(p.last_rating) &&
    inRange(p.min_rating) &&
    inRange(p.max_rating) &&
    p.last_rating >= MIN_RATING &&
    p.last_rating <= MAX_RATING &&
    Number.isInteger(p.total_reviews) &&
    p.total_reviews >= 0 &&
    Number.isFinite(p.total_rating) &&
    p.total_rating >= 0 &&
    p.total_rating <= p.total_reviews * 5 &&
    p.min_rating <= p.last_rating &&
    p.last_rating <= p.max_rating;
  if (!ok) throw new CantDoError('invalid_rating');
}

/**
 * Store a new rating summary iff `total_reviews` still equals `expect.total_reviews` (so two
 * concurrent ratings cannot both be computed from the same old summary). Validates first.
 */
export async function casUpdateUserRating(
  ex: Executor,
  pubkey: string,
  expect: { total_reviews: number },
  patch: RatingPatch,
): Promise<boolean> {
  validateRating(pubkey, patch);
  const res = await ex
    .updateTable('users')
    .set({
      last_rating: patch.last_rating,
      min_rating: patch.min_rating,
      max_rating: patch.max_rating,
      total_reviews: patch.total_reviews,
      total_rating: patch.total_rating,
    })
    .where('pubkey', '=', pubkey)
    .where('total_reviews', '=', expect.total_reviews)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}
