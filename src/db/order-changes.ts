import type { Kysely } from 'kysely';
import { compiledOnce } from './compiled-once.js';
import type { DbSchema, Executor } from './schema.js';
import { blobToUuid, tryUuidToBlob } from './uuid-blob.js';

/**
 * Order change log (table `mostrod_ts_order_changes`, migration 20261204000000). SQLite triggers
 * write one row per order when it is inserted or its status changes (a newer change replaces the
 * row with a higher `seq`); the order-event publisher deletes the row once the kind-38383 event for
 * that status is out. What is left is exactly the set of orders whose public event lags the DB, so
 * republishing costs what changed, not the size of the book.
 */
export interface OrderChangesTable {
  seq: number | null;
  order_id: Uint8Array;
  status: string;
}

export interface OrderChange {
  seq: number;
  order_id: string;
  status: string;
}

type ChangesDb = Kysely<DbSchema & { mostrod_ts_order_changes: OrderChangesTable }>;

function q(ex: Executor): ChangesDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_order_changes: OrderChangesTable }>();
}

function fromDb(r: { seq: number | null; order_id: Uint8Array; status: string }): OrderChange[] {
  return r.seq === null ? [] : [{ seq: r.seq, order_id: blobToUuid(r.order_id), status: r.status }];
}

/** Changes with `seq <= upToSeq`, oldest first, at most `limit`. */
export async function listOrderChanges(ex: Executor, upToSeq: number, limit: number): Promise<OrderChange[]> {
  const rows = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .selectAll()
    .where('seq', '<=', upToSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.flatMap(fromDb);
}

/** The change row of one order, if its public event lags. */
export async function getOrderChange(ex: Executor, orderId: string): Promise<OrderChange | undefined> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return undefined;
  const r = await q(ex).selectFrom('mostrod_ts_order_changes').selectAll().where('order_id', '=', blob).executeTakeFirst();
  return r === undefined ? undefined : fromDb(r)[0];
}

/** Highest change number written so far (0 when none). */
export async function lastOrderChangeSeq(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .select((eb) => eb.fn.max('seq').as('top'))
    .executeTakeFirst();
  return Number(r?.top ?? 0);
}

// Run by every order publication (new-order's path): built and compiled by Kysely once (compiled-once.ts).
const CLEAR_ORDER_CHANGE = compiledOnce((db, blob: Uint8Array, status: string) =>
  q(db).deleteFrom('mostrod_ts_order_changes').where('order_id', '=', blob).where('status', '=', status),
);

/** The hot statements of this module, for the SQL-equality test. */
export const ORDER_CHANGE_STATEMENTS = { CLEAR_ORDER_CHANGE };

/**
 * The order's event for `status` is published (or `status` is not a public one): delete its change
 * row iff it still records that status. True iff a row was deleted.
 */
export async function clearOrderChange(ex: Executor, orderId: string, status: string): Promise<boolean> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return false;
  return (await CLEAR_ORDER_CHANGE.run(ex, blob, status)).numAffectedRows === 1n;
}

/** Number of orders whose public event lags (metrics, tests). */
export async function countOrderChanges(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
