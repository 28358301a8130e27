import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';

/**
 * The durable outbox of notices (table `mostrod_ts_notices`, migration 20261208000000): messages
 * whose sending a durable mark records (a release's payout-started mark, a payout's end, a finished
 * escrow cancel). A row is written in the transaction of its mark, gets the wrapped event before
 * the event's first hand-off to the relays, and is deleted once a relay accepted it
 * (app/flows/notices.ts).
 */
export interface NoticesTable {
  id: number;
  order_id: string | null;
  recipient: string;
  /** The message as the handler built it (serializeMessage). */
  message: string;
  queued_at: number;
  /** The wrapped event (JSON) once made; re-sent as is after a restart. */
  event: string | null;
}

export interface NoticeRow {
  id: number;
  order_id: string | null;
  recipient: string;
  message: string;
  queued_at: number;
  event: string | null;
}

type NoticesDb = Kysely<DbSchema & { mostrod_ts_notices: Omit<NoticesTable, 'id'> & { id: number | undefined } }>;

function q(ex: Executor): NoticesDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_notices: Omit<NoticesTable, 'id'> & { id: number | undefined } }>();
}

/** Insert the notices (in order); returns their rows with the ids given. */
export async function insertNotices(
  ex: Executor,
  notices: ReadonlyArray<{ orderId: string | null; recipient: string; message: string }>,
  now: number,
): Promise<NoticeRow[]> {
  const rows: NoticeRow[] = [];
  for (const n of notices) {
    const r = await q(ex)
      .insertInto('mostrod_ts_notices')
      .values({ order_id: n.orderId, recipient: n.recipient, message: n.message, queued_at: now, event: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    rows.push({ id: Number(r.id), order_id: n.orderId, recipient: n.recipient, message: n.message, queued_at: now, event: null });
  }
  return rows;
}

/** Record the wrapped event of a notice that has none yet; false when the row is gone or already has one. */
export async function recordNoticeEvent(ex: Executor, id: number, event: string): Promise<boolean> {
  const res = await q(ex).updateTable('mostrod_ts_notices').set({ event }).where('id', '=', id).where('event', 'is', null).executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

export async function getNotice(ex: Executor, id: number): Promise<NoticeRow | undefined> {
  const r = await q(ex).selectFrom('mostrod_ts_notices').selectAll().where('id', '=', id).executeTakeFirst();
  return r === undefined ? undefined : { ...r, id: Number(r.id) };
}

export async function deleteNotice(ex: Executor, id: number): Promise<void> {
  await q(ex).deleteFrom('mostrod_ts_notices').where('id', '=', id).execute();
}

/** Every notice not yet accepted by a relay, oldest first (at most `limit`). */
export async function listNotices(ex: Executor, limit = 10_000): Promise<NoticeRow[]> {
  const rows = await q(ex).selectFrom('mostrod_ts_notices').selectAll().orderBy('id').limit(limit).execute();
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

/** Notices waiting (operator view, metrics). */
export async function countNotices(ex: Executor): Promise<number> {
  const r = await q(ex).selectFrom('mostrod_ts_notices').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}
