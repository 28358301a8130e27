import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';
import { tryUuidToBlob, uuidToBlob } from './uuid-blob.js';

/**
 * The seller's release of a range order (table `mostrod_ts_range_releases`, migration
 * 20261209000000): written with the release's claim, it says that the order's remainder is due
 * as a child order once the escrow is settled (after a release, not after admin-settle), and keeps
 * a sell maker's next trade key from the release message (a buy maker's is on the order, from
 * fiat-sent). The child is created with the payout-started mark — by the release, by the payout
 * reconciliation resuming a release cut short, or by LND's SETTLED update finishing a release whose
 * claim was reverted — which deletes the row. admin-settle's claim deletes it (no child).
 */
interface RangeReleasesTable {
  order_id: Uint8Array;
  next_trade_pubkey: string | null;
  next_trade_index: number | null;
  released_at: number;
}

export interface RangeRelease {
  /** The sell maker's next trade key and index from the release message (hex), when given. */
  nextTrade: { pubkey: string; index: number } | null;
  releasedAt: number;
}

type RangeReleasesDb = Kysely<DbSchema & { mostrod_ts_range_releases: RangeReleasesTable }>;

function q(ex: Executor): RangeReleasesDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_range_releases: RangeReleasesTable }>();
}

/** Record (or replace) the release of `orderId`. */
export async function recordRangeRelease(
  ex: Executor,
  orderId: string,
  nextTrade: { pubkey: string; index: number } | null,
  now: number,
): Promise<void> {
  await q(ex)
    .insertInto('mostrod_ts_range_releases')
    .values({
      order_id: uuidToBlob(orderId),
      next_trade_pubkey: nextTrade?.pubkey ?? null,
      next_trade_index: nextTrade?.index ?? null,
      released_at: now,
    })
    .onConflict((oc) =>
      oc.column('order_id').doUpdateSet({
        next_trade_pubkey: nextTrade?.pubkey ?? null,
        next_trade_index: nextTrade?.index ?? null,
        released_at: now,
      }),
    )
    .execute();
}

/** The recorded release of `orderId`, if any. */
export async function getRangeRelease(ex: Executor, orderId: string): Promise<RangeRelease | undefined> {
  const blob = tryUuidToBlob(orderId);
  if (blob === undefined) return undefined;
  const r = await q(ex).selectFrom('mostrod_ts_range_releases').selectAll().where('order_id', '=', blob).executeTakeFirst();
  if (r === undefined) return undefined;
  return {
    nextTrade: r.next_trade_pubkey !== null && r.next_trade_index !== null ? { pubkey: r.next_trade_pubkey, index: r.next_trade_index } : null,
    releasedAt: r.released_at,
  };
}

/** Forget the release of `orderId` (its child was handled, or an admin decided instead). */
export async function deleteRangeRelease(ex: Executor, orderId: string): Promise<void> {
  const blob = tryUuidToBlob(orderId);
  if (blob === undefined) return;
  await q(ex).deleteFrom('mostrod_ts_range_releases').where('order_id', '=', blob).execute();
}

/**
 * Delete the records of orders that can no longer finish a release (neither `fiat-sent`,
 * `dispute` nor `settled-hold-invoice`: canceled or completed after a release whose settle failed),
 * or that no longer exist. One statement; returns how many went.
 */
export async function pruneRangeReleases(ex: Executor): Promise<number> {
  const db = q(ex);
  const r = await db
    .deleteFrom('mostrod_ts_range_releases')
    .where('order_id', 'not in', db.selectFrom('orders').select('id').where('status', 'in', ['fiat-sent', 'dispute', 'settled-hold-invoice']))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
