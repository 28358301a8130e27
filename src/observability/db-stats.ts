/**
 * Database gauges read at scrape time: a handful of aggregate queries over `orders`, each served by
 * the status indexes (idx_orders_status_*), so a scrape costs a few index range scans; and the size
 * of the order change log (orders whose event no relay has accepted yet).
 */
import { statSync } from 'node:fs';
import { sql } from 'kysely';
import { countNotices } from '../db/notices.js';
import { countDisputeChanges } from '../db/dispute-changes.js';
import { countOrderChanges } from '../db/order-changes.js';
import type { Db } from '../db/schema.js';
import { ORDER_STATUSES, type Status } from '../protocol/types.js';

export interface DbStats {
  ordersByStatus: Map<Status, number>;
  /** orders in `success` or `completed-by-admin` */
  tradesCompleted: number;
  /** taken orders that ended canceled (cooperatively, by an admin, or by a timeout) */
  tradesCanceled: number;
  /** amount + fee of every escrow currently held (accepted, not settled or canceled) */
  heldEscrowSats: number;
  heldEscrows: number;
  /** settled-hold-invoice orders with a payout claim (payment sent or being sent) */
  payoutsInFlight: number;
  /** payout claims older than the grace (2 × lightning.payment_timeout_seconds) */
  payoutsStranded: number;
  /** settled-hold-invoice orders whose last payout attempt failed, waiting for a retry or a new invoice */
  payoutsFailed: number;
  devFeeOwedSats: number;
  devFeePaidSats: number;
  /**
   * Orders whose current 38383 event no relay has accepted yet: in flight, refused by every relay,
   * or lost with a stop (the order change log; the book-sync job republishes them).
   */
  orderEventsUnaccepted: number;
  /** Disputes whose current kind-38386 event no relay has accepted yet (mostrod_ts_dispute_changes). */
  disputeEventsUnaccepted: number;
  /** Stored trade notices no relay has accepted yet (the durable outbox, app/flows/notices.ts). */
  noticesUnaccepted: number;
}

/** Statuses in which the seller's hold invoice is accepted and held. */
const HELD: readonly Status[] = ['active', 'fiat-sent', 'dispute'];
const COMPLETED: readonly Status[] = ['success', 'completed-by-admin'];
const CANCELED: readonly Status[] = ['canceled', 'cooperatively-canceled', 'canceled-by-admin'];

function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number(v ?? 0);
}

export async function readDbStats(db: Db, now: number, payoutGraceSeconds: number): Promise<DbStats> {
  const byStatus = await db
    .selectFrom('orders')
    .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  const ordersByStatus = new Map<Status, number>(ORDER_STATUSES.map((s) => [s, 0]));
  for (const r of byStatus) ordersByStatus.set(r.status as Status, num(r.n));

  const held = await sql<{ n: number; sats: number | null }>`
    SELECT COUNT(*) AS n, SUM(amount + fee) AS sats FROM orders
    WHERE status IN (${sql.join(HELD)})
       OR (status = 'waiting-buyer-invoice' AND invoice_held_at > 0 AND hash IS NOT NULL)`.execute(db);

  const payouts = await sql<{ in_flight: number | null; stranded: number | null; failed: number | null }>`
    SELECT SUM(payout_payment_hash IS NOT NULL) AS in_flight,
           SUM(payout_payment_hash IS NOT NULL AND COALESCE(payout_claimed_at, 0) <= ${now - payoutGraceSeconds}) AS stranded,
           SUM(payout_payment_hash IS NULL AND failed_payment = 1) AS failed
    FROM orders WHERE status = 'settled-hold-invoice'`.execute(db);

  const canceled = await sql<{ n: number }>`
    SELECT COUNT(*) AS n FROM orders
    WHERE status IN (${sql.join(CANCELED)}) AND COALESCE(taken_at, 0) > 0`.execute(db);

  const devFee = await sql<{ owed: number | null; paid: number | null }>`
    SELECT SUM(CASE WHEN dev_fee_paid = 0 THEN dev_fee ELSE 0 END) AS owed,
           SUM(CASE WHEN dev_fee_paid = 1 THEN dev_fee ELSE 0 END) AS paid
    FROM orders WHERE status IN ('settled-hold-invoice', 'success') AND dev_fee > 0`.execute(db);

  const unaccepted = await countOrderChanges(db);

  const h = held.rows[0];
  const p = payouts.rows[0];
  const d = devFee.rows[0];
  return {
    ordersByStatus,
    tradesCompleted: COMPLETED.reduce((sum, s) => sum + (ordersByStatus.get(s) ?? 0), 0),
    tradesCanceled: num(canceled.rows[0]?.n),
    heldEscrowSats: num(h?.sats),
    heldEscrows: num(h?.n),
    payoutsInFlight: num(p?.in_flight),
    payoutsStranded: num(p?.stranded),
    payoutsFailed: num(p?.failed),
    devFeeOwedSats: num(d?.owed),
    devFeePaidSats: num(d?.paid),
    orderEventsUnaccepted: unaccepted,
    disputeEventsUnaccepted: await countDisputeChanges(db),
    noticesUnaccepted: await countNotices(db),
  };
}

/** Size on disk of the SQLite file and its WAL (bytes); 0 for an in-memory database. */
export function databaseSizeBytes(file: string | null): number {
  if (file === null) return 0;
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // no WAL file (yet)
    }
  }
  return total;
}
