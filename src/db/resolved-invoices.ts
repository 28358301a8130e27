import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';

/**
 * Invoices resolved from a buyer's Lightning address / LNURL for a payout (table
 * `mostrod_ts_resolved_invoices`, migration 20261205000000). The first order an invoice was
 * resolved for owns it; any other order that is handed the same invoice refuses it.
 */
export interface ResolvedInvoicesTable {
  payment_hash: string;
  order_id: string;
  target: string;
  resolved_at: number;
}

type ResolvedDb = Kysely<DbSchema & { mostrod_ts_resolved_invoices: ResolvedInvoicesTable }>;

function db(ex: Executor): ResolvedDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_resolved_invoices: ResolvedInvoicesTable }>();
}

/**
 * Records that `hash` was resolved for `orderId` unless another order recorded it first; returns
 * the owning order id (this one, or the one that was first). Insert-or-ignore then read: the
 * primary key makes the first writer win whatever the interleaving.
 */
export async function recordResolvedInvoice(ex: Executor, hash: string, orderId: string, target: string, now: number): Promise<string> {
  await db(ex)
    .insertInto('mostrod_ts_resolved_invoices')
    .values({ payment_hash: hash, order_id: orderId, target, resolved_at: now })
    .onConflict((oc) => oc.column('payment_hash').doNothing())
    .execute();
  const row = await db(ex)
    .selectFrom('mostrod_ts_resolved_invoices')
    .select('order_id')
    .where('payment_hash', '=', hash)
    .executeTakeFirstOrThrow();
  return row.order_id;
}
