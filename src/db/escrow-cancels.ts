import type { Kysely } from 'kysely';
import type { Status } from '../protocol/types.js';
import { orderFromDb } from './orders.js';
import type { DbSchema, Executor } from './schema.js';
import type { OrderRow } from './types.js';

/**
 * Durable cancel decisions (table `mostrod_ts_escrow_cancels`, migration 20261201000100).
 * A row is written in the same transaction as the order status change that decides to refund the
 * seller's escrow, and marked done once LND reports the invoice CANCELED (or unknown). Rows whose
 * `done_at` is NULL are finished at boot and by the escrow deadline job (issue 12, defect 2).
 */
export interface EscrowCancelsTable {
  hash: string;
  order_id: string;
  reason: string;
  decided_at: number;
  done_at: number | null;
  notices: string | null;
}

/** Which path decided the refund. */
export type CancelReason =
  | 'cancel'
  | 'taker-cancel'
  | 'cooperative-cancel'
  | 'waiting-timeout'
  | 'admin-cancel'
  | 'escrow-deadline'
  | 'accepted-after-cancel';

export interface EscrowCancelRow {
  hash: string;
  order_id: string;
  reason: string;
  decided_at: number;
  done_at: number | null;
  /** JSON text `[[recipient, message JSON], ...]`, or null. */
  notices: string | null;
}

type CancelsDb = Kysely<DbSchema & { mostrod_ts_escrow_cancels: EscrowCancelsTable }>;

function q(ex: Executor): CancelsDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_escrow_cancels: EscrowCancelsTable }>();
}

/**
 * Record (or re-open) the decision to cancel `hash`. An existing row for the hash is replaced by
 * the new decision (done_at back to NULL): a later decision on the same escrow must be finished too.
 */
export async function recordCancelDecision(
  ex: Executor,
  row: { hash: string; order_id: string; reason: CancelReason; notices: string | null },
  now: number,
): Promise<void> {
  await q(ex)
    .insertInto('mostrod_ts_escrow_cancels')
    .values({ ...row, decided_at: now, done_at: null })
    .onConflict((oc) =>
      oc.column('hash').doUpdateSet({ order_id: row.order_id, reason: row.reason, decided_at: now, done_at: null, notices: row.notices }),
    )
    .execute();
}

export async function getCancelDecision(ex: Executor, hash: string): Promise<EscrowCancelRow | undefined> {
  return q(ex).selectFrom('mostrod_ts_escrow_cancels').selectAll().where('hash', '=', hash).executeTakeFirst();
}

/** Unfinished decisions taken at or before `decidedBy`, oldest first. */
export async function listOpenCancelDecisions(ex: Executor, decidedBy: number): Promise<EscrowCancelRow[]> {
  return q(ex)
    .selectFrom('mostrod_ts_escrow_cancels')
    .selectAll()
    .where('done_at', 'is', null)
    .where('decided_at', '<=', decidedBy)
    .orderBy('decided_at')
    .execute();
}

/** Mark the decision done (LND confirmed) and drop its notices. True iff it was still open. */
export async function markCancelDone(ex: Executor, hash: string, now: number): Promise<boolean> {
  const res = await q(ex)
    .updateTable('mostrod_ts_escrow_cancels')
    .set({ done_at: now, notices: null })
    .where('hash', '=', hash)
    .where('done_at', 'is', null)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** Drop an unfinished decision (its status change was reverted). True iff it existed. */
export async function dropCancelDecision(ex: Executor, hash: string): Promise<boolean> {
  const res = await q(ex)
    .deleteFrom('mostrod_ts_escrow_cancels')
    .where('hash', '=', hash)
    .where('done_at', 'is', null)
    .executeTakeFirst();
  return res.numDeletedRows === 1n;
}

/**
 * Orders in one of `statuses` that still carry an escrow hash and were taken (or their escrow held)
 * at or after `since` (unix s).
 */
export async function findCanceledOrdersWithEscrow(ex: Executor, statuses: readonly Status[], since: number): Promise<OrderRow[]> {
  const rows = await (ex as Kysely<DbSchema>)
    .selectFrom('orders')
    .selectAll()
    .where('hash', 'is not', null)
    .where('status', 'in', [...statuses])
    .where((eb) => eb.or([eb('taken_at', '>=', since), eb('invoice_held_at', '>=', since)]))
    .execute();
  return rows.map(orderFromDb);
}
