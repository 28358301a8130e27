import type { Kysely } from 'kysely';
import type { Db, DbSchema } from '../db/schema.js';

/** mostrod_ts_operator_audit (migration 20261203000000): one row per operator action. */
export type OperatorAuditTable = {
  id: number | null;
  at: number;
  who: string;
  action: string;
  target: string | null;
  request: string;
  outcome: string;
  detail: string;
};

/** mostrod_ts_order_publications (migration 20261203000000): last 38383 queued per order. */
export type OrderPublicationsTable = {
  order_id: string;
  status: string;
  event_id: string;
  created_at: number;
  recorded_at: number;
};

/** mostrod_ts_event_times (migration 20261211000000): last created_at per other addressable coordinate. */
export type EventTimesTable = {
  kind: number;
  d: string;
  created_at: number;
};

// A type alias (not an interface) so it satisfies Kysely's Record constraint.
export type OpsTables = {
  mostrod_ts_operator_audit: OperatorAuditTable;
  mostrod_ts_order_publications: OrderPublicationsTable;
  mostrod_ts_event_times: EventTimesTable;
};

export type OpsDb = Kysely<DbSchema & OpsTables>;

/** The same connection, typed with the operator tables as well. */
export function opsDb(db: Db): OpsDb {
  return db.withTables<OpsTables>();
}
