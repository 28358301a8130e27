/**
 * Repository of mostrod_ts_alert_incidents (migration 20261203000100). Every state change is a
 * compare-and-set that reports whether it won, so two checks racing (or a restart mid-check) never
 * record a notification twice.
 */
import type { Kysely } from 'kysely';
import type { Db, DbSchema } from '../db/schema.js';

export type AlertKind =
  | 'payout-stranded'
  | 'escrow-deadline'
  | 'lnd-down'
  | 'relays-down'
  | 'price-stale'
  | 'backup-failed'
  | 'intake-overloaded'
  | 'order-events-unaccepted'
  | 'dispute-events-unaccepted';

export const ALERT_KINDS: readonly AlertKind[] = [
  'payout-stranded',
  'escrow-deadline',
  'lnd-down',
  'relays-down',
  'price-stale',
  'backup-failed',
  'intake-overloaded',
  'order-events-unaccepted',
  'dispute-events-unaccepted',
];

export type AlertIncidentsTable = {
  id: number | null;
  key: string;
  kind: string;
  detail: string;
  opened_at: number;
  notified_at: number | null;
  resolved_at: number | null;
  resolved_notified_at: number | null;
};

export type HealthTable = {
  id: number;
  checked_at: number;
};

// A type alias (not an interface) so it satisfies Kysely's Record constraint.
export type AlertTables = {
  mostrod_ts_alert_incidents: AlertIncidentsTable;
  mostrod_ts_health: HealthTable;
};

type AlertDb = Kysely<DbSchema & AlertTables>;

function adb(db: Db): AlertDb {
  return db.withTables<AlertTables>();
}

export interface Incident {
  id: number;
  key: string;
  kind: AlertKind;
  detail: string;
  opened_at: number;
  notified_at: number | null;
  resolved_at: number | null;
  resolved_notified_at: number | null;
}

function toIncident(r: AlertIncidentsTable): Incident {
  return { ...r, id: r.id ?? 0, kind: r.kind as AlertKind };
}

/** Incidents still needing attention: open ones, and resolved ones whose "resolved" DM is not out yet. */
export async function findLiveIncidents(db: Db): Promise<Incident[]> {
  const rows = await adb(db)
    .selectFrom('mostrod_ts_alert_incidents')
    .selectAll()
    .where((eb) => eb.or([eb('resolved_at', 'is', null), eb('resolved_notified_at', 'is', null)]))
    .orderBy('id')
    .execute();
  return rows.map(toIncident);
}

/** Open a new incident for `key` unless one is open already. True iff this call opened it. */
export async function openIncident(db: Db, i: { key: string; kind: AlertKind; detail: string; now: number }): Promise<boolean> {
  const r = await adb(db)
    .insertInto('mostrod_ts_alert_incidents')
    .values({ key: i.key, kind: i.kind, detail: i.detail, opened_at: i.now, notified_at: null, resolved_at: null, resolved_notified_at: null })
    .onConflict((oc) => oc.column('key').where('resolved_at', 'is', null).doNothing())
    .executeTakeFirst();
  return (r.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** notified_at := now iff still NULL. */
export async function markNotified(db: Db, id: number, now: number): Promise<boolean> {
  const r = await adb(db)
    .updateTable('mostrod_ts_alert_incidents')
    .set({ notified_at: now })
    .where('id', '=', id)
    .where('notified_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** resolved_at := now iff still open. */
export async function markResolved(db: Db, id: number, now: number): Promise<boolean> {
  const r = await adb(db)
    .updateTable('mostrod_ts_alert_incidents')
    .set({ resolved_at: now })
    .where('id', '=', id)
    .where('resolved_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** resolved_notified_at := now iff resolved and not yet notified. */
export async function markResolvedNotified(db: Db, id: number, now: number): Promise<boolean> {
  const r = await adb(db)
    .updateTable('mostrod_ts_alert_incidents')
    .set({ resolved_notified_at: now })
    .where('id', '=', id)
    .where('resolved_at', 'is not', null)
    .where('resolved_notified_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Delete finished incidents resolved before `before`; returns how many. */
export async function pruneIncidents(db: Db, before: number): Promise<number> {
  const r = await adb(db)
    .deleteFrom('mostrod_ts_alert_incidents')
    .where('resolved_at', '<', before)
    .where('resolved_notified_at', 'is not', null)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Open incidents by kind (for the metrics). */
export async function countOpenIncidents(db: Db): Promise<Map<AlertKind, number>> {
  const rows = await adb(db)
    .selectFrom('mostrod_ts_alert_incidents')
    .select((eb) => ['kind', eb.fn.countAll<number>().as('n')])
    .where('resolved_at', 'is', null)
    .groupBy('kind')
    .execute();
  return new Map(rows.map((r) => [r.kind as AlertKind, Number(r.n)]));
}

/** Rewrite the single health row (readiness: proves the database accepts writes). */
export async function touchHealthRow(db: Db, now: number): Promise<void> {
  await adb(db)
    .insertInto('mostrod_ts_health')
    .values({ id: 1, checked_at: now })
    .onConflict((oc) => oc.column('id').doUpdateSet({ checked_at: now }))
    .execute();
}
