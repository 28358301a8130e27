/**
 * Identity keys the operator banned from starting trades: `users.is_banned = 1` (mostrod's own
 * column, which mostrod 0.17.1 and 0.18 create and never read, so the same database keeps the bans
 * across a swap in either direction).
 *
 * A banned identity's `new-order`, `take-sell` and `take-buy` are refused (cant-do `not_authorized`,
 * which a 0.8-era client receives as `invalid_pubkey`: protocol/v1-compat.ts). Everything else it
 * sends goes on as before — its trades in progress (fiat-sent, release, cancel, dispute, invoices),
 * ratings, session restore — so a ban never strands an escrow or a counterparty.
 *
 * The keys are kept in memory (read at start, after every ban or unban the operator commits through
 * the OperatorService, and every minute by the expire-pending-orders job), so the check costs one
 * Set lookup on the request path. A row changed in the database behind the daemon's back (sqlite3,
 * the Rust daemon) is seen within a minute. The read is one partial index (migration
 * 20261213000000), however many users the node has.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/schema.js';
import { insertUser } from '../db/users.js';

/** The actions a banned identity may not send: each one would start a trade. */
export const BANNED_ACTIONS: ReadonlySet<string> = new Set(['new-order', 'take-sell', 'take-buy']);

export class BanList {
  private keys: ReadonlySet<string> = new Set();
  private refusals = 0;

  /** Whether `identity` (lowercase hex) is banned. */
  has(identity: string): boolean {
    return this.keys.has(identity);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Requests refused because their identity is banned, since start (`mostrod_banned_requests_total`). */
  get refused(): number {
    return this.refusals;
  }

  /** Count one refused request (the router). */
  noteRefused(): void {
    this.refusals++;
  }

  /** The banned keys, sorted. */
  list(): string[] {
    return [...this.keys].sort();
  }

  /** Read the banned keys from the database (at start, and after each change). Returns how many. */
  async load(db: Executor): Promise<number> {
    await this.refresh(db);
    return this.keys.size;
  }

  /** Read the banned keys again; returns the keys banned and unbanned since the last read. */
  async refresh(db: Executor): Promise<{ added: string[]; removed: string[] }> {
    // The literal `!= 0` (not a bound parameter) lets SQLite use the partial index idx_users_banned.
    const rows = await db.selectFrom('users').select('pubkey').where(sql<boolean>`is_banned != 0`).execute();
    const next = new Set(rows.map((r) => r.pubkey));
    const added = [...next].filter((k) => !this.keys.has(k));
    const removed = [...this.keys].filter((k) => !next.has(k));
    this.keys = next;
    return { added, removed };
  }

  /**
   * Mark `pubkey` banned in `trx` (a user row is created for a key the node has not seen). Returns
   * false when it already was. The in-memory set changes only at the next `load`, after the commit.
   */
  static async markBanned(trx: Executor, pubkey: string, now: number): Promise<boolean> {
    if (await insertUser(trx, { pubkey, created_at: now, is_banned: 1 })) return true;
    const res = await trx.updateTable('users').set({ is_banned: 1 }).where('pubkey', '=', pubkey).where('is_banned', '=', 0).executeTakeFirst();
    return (res.numUpdatedRows ?? 0n) > 0n;
  }

  /** Clear `pubkey`'s ban in `db`. Returns false when it was not banned. */
  static async markUnbanned(db: Executor, pubkey: string): Promise<boolean> {
    const res = await db.updateTable('users').set({ is_banned: 0 }).where('pubkey', '=', pubkey).where('is_banned', '!=', 0).executeTakeFirst();
    return (res.numUpdatedRows ?? 0n) > 0n;
  }
}
