/**
 * Dispute change log (table `mostrod_ts_dispute_changes`, migration 20261211000000): one row per
 * dispute whose kind-38386 event may not be on any relay yet. SQLite triggers write it when a
 * dispute is inserted or its status changes (a newer change replaces the row with a higher `seq`);
 * the publisher deletes the row by its `seq` once a relay accepted the event for that status
 * (app/flows/publish.ts publishDispute); the `book-sync` job publishes the event again for the rows
 * left behind (scheduler/jobs/republish-changed-orders.ts). Disputes are few: each accepted event
 * deletes its row on its own, with no batching.
 */
import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';
import { blobToUuid, tryUuidToBlob } from './uuid-blob.js';

export interface DisputeChangesTable {
  seq: number | null;
  dispute_id: Uint8Array;
  status: string;
}

export interface DisputeChange {
  seq: number;
  dispute_id: string;
  status: string;
}

type ChangesDb = Kysely<DbSchema & { mostrod_ts_dispute_changes: DisputeChangesTable }>;

function q(ex: Executor): ChangesDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_dispute_changes: DisputeChangesTable }>();
}

function fromDb(r: { seq: number | null; dispute_id: Uint8Array; status: string }): DisputeChange[] {
  return r.seq === null ? [] : [{ seq: r.seq, dispute_id: blobToUuid(r.dispute_id), status: r.status }];
}

/** The change row of one dispute, if its public event may lag. */
export async function getDisputeChange(ex: Executor, disputeId: string): Promise<DisputeChange | undefined> {
  const blob = tryUuidToBlob(disputeId);
  if (!blob) return undefined;
  const r = await q(ex).selectFrom('mostrod_ts_dispute_changes').selectAll().where('dispute_id', '=', blob).executeTakeFirst();
  return r === undefined ? undefined : fromDb(r)[0];
}

/** Changes with `seq <= upToSeq`, oldest first, at most `limit`. */
export async function listDisputeChanges(ex: Executor, upToSeq: number, limit: number): Promise<DisputeChange[]> {
  const rows = await q(ex).selectFrom('mostrod_ts_dispute_changes').selectAll().where('seq', '<=', upToSeq).orderBy('seq').limit(limit).execute();
  return rows.flatMap(fromDb);
}

/** Highest change number written so far (0 when none). */
export async function lastDisputeChangeSeq(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_dispute_changes')
    .select((eb) => eb.fn.max('seq').as('top'))
    .executeTakeFirst();
  return Number(r?.top ?? 0);
}

/** A relay accepted the event of change `seq`: its row goes (a newer change has another seq). */
export async function clearDisputeChange(ex: Executor, seq: number): Promise<boolean> {
  const r = await q(ex).deleteFrom('mostrod_ts_dispute_changes').where('seq', '=', seq).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

/** How many rows the log holds and its lowest and highest change numbers (the monitor's alert). */
export async function disputeChangeSpan(ex: Executor): Promise<{ count: number; oldest: number | null; newest: number | null }> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_dispute_changes')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('seq').as('lo'), eb.fn.max('seq').as('hi')])
    .executeTakeFirstOrThrow();
  return { count: Number(r.n), oldest: r.lo === null ? null : Number(r.lo), newest: r.hi === null ? null : Number(r.hi) };
}

/** Number of disputes whose public event may lag (metrics, tests). */
export async function countDisputeChanges(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_dispute_changes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
