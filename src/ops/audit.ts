/**
 * The operator's audit trail (mostrod_ts_operator_audit): who did what to which order, when, and
 * how it ended. Written for every operator action, refused ones included.
 */
import type { Db } from '../db/schema.js';
import { opsDb } from './tables.js';

export type AuditOutcome = 'ok' | 'refused' | 'error';

export interface AuditEntry {
  at: number;
  /** Token name and peer address (`alice@127.0.0.1`), or the peer address without auth. */
  who: string;
  action: string;
  target: string | null;
  request: unknown;
  outcome: AuditOutcome;
  detail: string;
}

export interface AuditRow extends Omit<AuditEntry, 'request'> {
  id: number;
  request: string;
}

export async function recordAudit(db: Db, e: AuditEntry): Promise<void> {
  await opsDb(db)
    .insertInto('mostrod_ts_operator_audit')
    .values({
      at: e.at,
      who: e.who,
      action: e.action,
      target: e.target,
      request: JSON.stringify(e.request ?? null),
      outcome: e.outcome,
      detail: e.detail,
    })
    .execute();
}

/** Audit rows, newest first (optionally of one target). */
export async function listAudit(db: Db, opts: { target?: string; limit?: number } = {}): Promise<AuditRow[]> {
  let q = opsDb(db).selectFrom('mostrod_ts_operator_audit').selectAll().orderBy('id', 'desc').limit(opts.limit ?? 100);
  if (opts.target !== undefined) q = q.where('target', '=', opts.target);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id ?? 0,
    at: r.at,
    who: r.who,
    action: r.action,
    target: r.target,
    request: r.request,
    outcome: r.outcome as AuditOutcome,
    detail: r.detail,
  }));
}
