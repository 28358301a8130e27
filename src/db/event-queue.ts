import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';

/**
 * Durable queue of public events waiting to be published (table `mostrod_ts_event_queue`, migration
 * 20261102000000). mostrod 0.17.1 kept queued kind-38384 rating events in memory only, so a restart
 * lost them (QUIRK Q26). A producer writes the row in the same transaction as the state change that
 * produced the event; a publisher CLAIMS it (compare-and-set on claimed_at), publishes, and deletes
 * it. A claim left behind by a crash becomes claimable again after a grace period, so an event is
 * published at least once (addressable events replace themselves, so a rare duplicate is harmless).
 */
export interface EventQueueTable {
  id: number | null;
  kind: number;
  /** JSON text: string[][] */
  tags: string;
  content: string;
  created_at: number;
  queued_at: number;
  claimed_at: number | null;
}

export interface QueuedEvent {
  id: number;
  kind: number;
  tags: string[][];
  content: string;
  created_at: number;
  queued_at: number;
  claimed_at: number | null;
}

type QueueDb = Kysely<DbSchema & { mostrod_ts_event_queue: EventQueueTable }>;

function q(ex: Executor): QueueDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_event_queue: EventQueueTable }>();
}

function parseTags(text: string, id: number): string[][] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((t) => Array.isArray(t) && t.every((v) => typeof v === 'string'))) {
    throw new TypeError(`queued event ${id}: tags are not an array of string arrays`);
  }
  return parsed as string[][];
}

/** Queue an event (its created_at is kept). Returns the row id. */
export async function enqueueEvent(
  ex: Executor,
  event: { kind: number; tags: string[][]; content: string; created_at: number },
  now: number,
): Promise<number> {
  const r = await q(ex)
    .insertInto('mostrod_ts_event_queue')
    .values({
      kind: event.kind,
      tags: JSON.stringify(event.tags),
      content: event.content,
      created_at: event.created_at,
      queued_at: now,
      claimed_at: null,
    })
    .executeTakeFirstOrThrow();
  if (r.insertId === undefined) throw new Error('event queue insert returned no id');
  return Number(r.insertId);
}

/** One queued event by id. */
export async function getQueuedEvent(ex: Executor, id: number): Promise<QueuedEvent | undefined> {
  const r = await q(ex).selectFrom('mostrod_ts_event_queue').selectAll().where('id', '=', id).executeTakeFirst();
  if (r === undefined || r.id === null) return undefined;
  return { ...r, id: r.id, tags: parseTags(r.tags, r.id) };
}

/**
 * Events a publisher may take: unclaimed, or claimed before `staleBefore` (a crashed publisher),
 * oldest first.
 */
export async function listClaimableEvents(ex: Executor, staleBefore: number, limit = 500): Promise<QueuedEvent[]> {
  const rows = await q(ex)
    .selectFrom('mostrod_ts_event_queue')
    .selectAll()
    .where((eb) => eb.or([eb('claimed_at', 'is', null), eb('claimed_at', '<', staleBefore)]))
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.flatMap((r) => (r.id === null ? [] : [{ ...r, id: r.id, tags: parseTags(r.tags, r.id) }]));
}

/** Claim a row whose claimed_at is still `expectClaimedAt` (null = unclaimed). True iff claimed. */
export async function claimQueuedEvent(
  ex: Executor,
  id: number,
  expectClaimedAt: number | null,
  now: number,
): Promise<boolean> {
  const res = await q(ex)
    .updateTable('mostrod_ts_event_queue')
    .set({ claimed_at: now })
    .where('id', '=', id)
    .where('claimed_at', expectClaimedAt === null ? 'is' : '=', expectClaimedAt)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** Give a claim back (publication failed): claimed_at := NULL iff it is still `claimedAt`. */
export async function releaseQueuedEvent(ex: Executor, id: number, claimedAt: number): Promise<boolean> {
  const res = await q(ex)
    .updateTable('mostrod_ts_event_queue')
    .set({ claimed_at: null })
    .where('id', '=', id)
    .where('claimed_at', '=', claimedAt)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** Remove a published row. True iff it existed. */
export async function deleteQueuedEvent(ex: Executor, id: number): Promise<boolean> {
  const res = await q(ex).deleteFrom('mostrod_ts_event_queue').where('id', '=', id).executeTakeFirst();
  return res.numDeletedRows === 1n;
}

/** Number of queued rows (metrics, tests). */
export async function countQueuedEvents(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_event_queue')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
