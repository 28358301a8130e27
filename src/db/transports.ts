import { sql, type Kysely } from 'kysely';
import { compiledOnce } from './compiled-once.js';
import type { DbSchema, Executor } from './schema.js';

/**
 * The transport each trade key speaks (table `mostrod_ts_transport`, migrations 20261202000000 and
 * 20261206000000). One row per key; written when a key is first seen, switches transport, or is
 * active on a later day than its `last_seen_at` (at most once per day per key). Rows of keys the
 * node will not message any more are deleted by the transport-prune job (deleteIdleKeys).
 */
export interface TransportTable {
  pubkey: string;
  transport: 'gift-wrap' | 'nip44';
  first_seen_at: number;
  updated_at: number;
  /**
   * Unix seconds of the key's last activity — a request from it or a message to it (written at
   * most once a day), or the prune job finding it still in use (refreshKeptKeys).
   */
  last_seen_at: number;
}

export type KeyTransport = TransportTable['transport'];

type TransportDb = Kysely<DbSchema & { mostrod_ts_transport: TransportTable }>;

function q(ex: Executor): TransportDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_transport: TransportTable }>();
}

export interface RememberedKey {
  pubkey: string;
  transport: KeyTransport;
  last_seen_at: number;
}

/** Every remembered key with its transport and last activity. */
export async function loadKeyTransports(ex: Executor): Promise<RememberedKey[]> {
  return q(ex).selectFrom('mostrod_ts_transport').select(['pubkey', 'transport', 'last_seen_at']).execute();
}

export async function getKeyTransport(ex: Executor, pubkey: string): Promise<KeyTransport | null> {
  const row = await q(ex).selectFrom('mostrod_ts_transport').select('transport').where('pubkey', '=', pubkey).executeTakeFirst();
  return row?.transport ?? null;
}

// Built once (compiled-once.ts): every v2 first contact writes its key here, and Kysely compiling
// this upsert per call cost the event loop more than running it.
const UPSERT_KEY_TRANSPORT = compiledOnce((db, pubkey: string, transport: KeyTransport, now: number) =>
  db
    .withTables<{ mostrod_ts_transport: TransportTable }>()
    .insertInto('mostrod_ts_transport')
    .values({ pubkey, transport, first_seen_at: now, updated_at: now, last_seen_at: now })
    .onConflict((oc) =>
      oc
        .column('pubkey')
        .doUpdateSet({
          transport,
          updated_at: sql<number>`CASE WHEN mostrod_ts_transport.transport = ${transport} THEN mostrod_ts_transport.updated_at ELSE ${now} END`,
          last_seen_at: sql<number>`max(mostrod_ts_transport.last_seen_at, ${now})`,
        })
        .where((eb) =>
          eb.or([eb('mostrod_ts_transport.transport', '!=', transport), eb('mostrod_ts_transport.last_seen_at', '<', now)]),
        ),
    ),
);

/**
 * Remember `pubkey` on `transport`, active at `now`. Compare-and-set upsert: inserts a new key (or
 * one the prune job deleted meanwhile); updates a row whose transport differs (`updated_at` = when
 * the transport last changed) or whose `last_seen_at` is older (it never moves back). Returns
 * whether a row changed (false = it was already so).
 */
export async function setKeyTransport(ex: Executor, pubkey: string, transport: KeyTransport, now: number): Promise<boolean> {
  const r = await UPSERT_KEY_TRANSPORT.run(ex, pubkey, transport, now);
  return Number(r.numAffectedRows ?? 0n) > 0;
}

/**
 * The finished statuses, spelled exactly as in the partial indexes of migration 20261206000000:
 * SQLite uses a partial index only when the query repeats its WHERE terms word for word, and bound
 * parameters would not match, so this is a literal. Same set as findActiveKeys' terminal statuses
 * (RESTORE_EXCLUDED_STATUSES without `dispute`; a test keeps the two equal).
 */
export const FINISHED_STATUSES_SQL =
  "('expired', 'success', 'canceled', 'canceled-by-admin', 'completed-by-admin', 'settled-by-admin', 'cooperatively-canceled')";

/** Open dispute statuses (a solver of one is kept). */
const OPEN_DISPUTE_STATUSES = ['initiated', 'in-progress'] as const;

export interface IdleKey {
  /** Position in the walk (rowid: stable while the job runs). */
  rowid: number;
  pubkey: string;
  last_seen_at: number;
}

/**
 * Up to `limit` keys last active before `cutoff`, oldest first, after `after` (the previous batch's
 * last key; null = from the start): one range of idx_mostrod_ts_transport_last_seen. They are only
 * candidates — deleteIdleKeys decides.
 */
export async function findIdleKeys(
  ex: Executor,
  cutoff: number,
  after: Pick<IdleKey, 'rowid' | 'last_seen_at'> | null,
  limit: number,
): Promise<IdleKey[]> {
  return idleKeysSelect(ex, cutoff, after, limit).execute();
}

/** The SELECT of findIdleKeys, not executed (its query plan is checked by a test). */
export function idleKeysSelect(ex: Executor, cutoff: number, after: Pick<IdleKey, 'rowid' | 'last_seen_at'> | null, limit: number) {
  let query = q(ex)
    .selectFrom('mostrod_ts_transport')
    .select([sql<number>`rowid`.as('rowid'), 'pubkey', 'last_seen_at'])
    .where('last_seen_at', '<', cutoff);
  if (after !== null) query = query.where(sql<boolean>`(last_seen_at, rowid) > (${after.last_seen_at}, ${after.rowid})`);
  return query.orderBy('last_seen_at').orderBy(sql`rowid`).limit(limit);
}

/**
 * Delete the rows of `rowids` whose key the node will not message any more, and return them.
 * The whole condition is re-checked in the DELETE itself (compare-and-set: a key that spoke since
 * it was listed has a fresh `last_seen_at`, an order or a dispute created meanwhile is seen):
 *  - last active before `cutoff`;
 *  - not in `keep` (the node's own key);
 *  - not the buyer, seller or named next trade key of an order in a non-terminal status (an order
 *    under dispute is in status `dispute`; the creator's key is the maker side's buyer/seller key);
 *  - not the solver of an open dispute, nor a user flagged solver or admin.
 * Every check is an index lookup (the partial live-order indexes, disputes.solver_pubkey,
 * users.pubkey), so a batch costs what it holds, not the size of the order book.
 */
export async function deleteIdleKeys(
  ex: Executor,
  rowids: readonly number[],
  cutoff: number,
  keep: readonly string[],
): Promise<Array<{ pubkey: string; last_seen_at: number }>> {
  if (rowids.length === 0) return [];
  return idleKeysDelete(ex, rowids, cutoff, keep).execute();
}

/** The DELETE of deleteIdleKeys, not executed (its query plan is checked by a test). */
export function idleKeysDelete(ex: Executor, rowids: readonly number[], cutoff: number, keep: readonly string[]) {
  const liveOn = (column: 'buyer_pubkey' | 'seller_pubkey' | 'next_trade_pubkey') =>
    sql<boolean>`NOT EXISTS (SELECT 1 FROM orders o WHERE o.${sql.ref(column)} = mostrod_ts_transport.pubkey AND o.status NOT IN ${sql.raw(FINISHED_STATUSES_SQL)})`;
  let query = q(ex)
    .deleteFrom('mostrod_ts_transport')
    .where(sql<boolean>`rowid IN (${sql.join([...rowids])})`)
    .where('last_seen_at', '<', cutoff)
    .where(liveOn('buyer_pubkey'))
    .where(liveOn('seller_pubkey'))
    .where(liveOn('next_trade_pubkey'))
    .where(
      sql<boolean>`NOT EXISTS (SELECT 1 FROM disputes d WHERE d.solver_pubkey = mostrod_ts_transport.pubkey AND d.status IN (${sql.join(OPEN_DISPUTE_STATUSES)}))`,
    )
    .where(
      sql<boolean>`NOT EXISTS (SELECT 1 FROM users u WHERE u.pubkey = mostrod_ts_transport.pubkey AND (u.is_solver = 1 OR u.is_admin = 1))`,
    );
  if (keep.length > 0) query = query.where('pubkey', 'not in', [...keep]);
  return query.returning(['pubkey', 'last_seen_at']);
}

/**
 * The keys of `rowids` still idle before `cutoff` after deleteIdleKeys are the ones it kept (on a
 * live order, a solver…): their `last_seen_at` moves to `now`, so they leave the idle range and
 * are looked at again only after another retention period — a pass costs the keys that went idle
 * since the last one, not every long-lived key again each hour. Returns how many.
 */
export async function refreshKeptKeys(ex: Executor, rowids: readonly number[], cutoff: number, now: number): Promise<number> {
  if (rowids.length === 0) return 0;
  const r = await q(ex)
    .updateTable('mostrod_ts_transport')
    .set({ last_seen_at: now })
    .where(sql<boolean>`rowid IN (${sql.join([...rowids])})`)
    .where('last_seen_at', '<', cutoff)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** The compiled-once statements of this module (test/unit/db/compiled-once.test.ts). */
export const TRANSPORT_STATEMENTS = { UPSERT_KEY_TRANSPORT };
