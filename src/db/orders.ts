import { sql } from 'kysely';
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Kind, Status } from '../protocol/types.js';
import { compiledOnce, compiledOncePerShape } from './compiled-once.js';
import { andAll, assertHexPubkey, expectConditions } from './row-codec.js';
import type { DbSchema, Executor, OrdersTable } from './schema.js';
import type { OrderRow } from './types.js';
import { blobToUuid, tryUuidToBlob, uuidToBlob } from './uuid-blob.js';

/** Expected current values: value → `=`, null → `IS NULL`, array → `IN (…)`. */
export type OrderExpect = { [K in keyof OrderRow]?: OrderRow[K] | readonly OrderRow[K][] };
export type OrderPatch = Partial<Omit<OrderRow, 'id'>>;

const UUID_COLUMNS = new Set(['id', 'range_parent_id']);

function encode(column: string, value: unknown): unknown {
  if (UUID_COLUMNS.has(column) && typeof value === 'string') {
    // A malformed uuid can never match a stored BLOB; bind something that matches nothing.
    return tryUuidToBlob(value) ?? Buffer.alloc(0);
  }
  return value;
}

export function orderFromDb(r: Selectable<OrdersTable>): OrderRow {
  return {
    id: blobToUuid(r.id),
    kind: r.kind as Kind,
    event_id: r.event_id,
    hash: r.hash,
    preimage: r.preimage,
    creator_pubkey: r.creator_pubkey,
    cancel_initiator_pubkey: r.cancel_initiator_pubkey,
    buyer_pubkey: r.buyer_pubkey,
    master_buyer_pubkey: r.master_buyer_pubkey,
    seller_pubkey: r.seller_pubkey,
    master_seller_pubkey: r.master_seller_pubkey,
    status: r.status as Status,
    price_from_api: r.price_from_api,
    premium: r.premium,
    payment_method: r.payment_method,
    amount: r.amount,
    min_amount: r.min_amount,
    max_amount: r.max_amount,
    buyer_dispute: r.buyer_dispute,
    seller_dispute: r.seller_dispute,
    buyer_cooperativecancel: r.buyer_cooperativecancel,
    seller_cooperativecancel: r.seller_cooperativecancel,
    fee: r.fee,
    routing_fee: r.routing_fee,
    fiat_code: r.fiat_code,
    fiat_amount: r.fiat_amount,
    buyer_invoice: r.buyer_invoice,
    range_parent_id: r.range_parent_id === null ? null : blobToUuid(r.range_parent_id),
    invoice_held_at: r.invoice_held_at ?? 0,
    taken_at: r.taken_at ?? 0,
    created_at: r.created_at,
    buyer_sent_rate: r.buyer_sent_rate ?? 0,
    seller_sent_rate: r.seller_sent_rate ?? 0,
    payment_attempts: r.payment_attempts ?? 0,
    failed_payment: r.failed_payment ?? 0,
    expires_at: r.expires_at,
    trade_index_seller: r.trade_index_seller,
    trade_index_buyer: r.trade_index_buyer,
    next_trade_pubkey: r.next_trade_pubkey,
    next_trade_index: r.next_trade_index,
    dev_fee: r.dev_fee ?? 0,
    dev_fee_paid: r.dev_fee_paid,
    dev_fee_payment_hash: r.dev_fee_payment_hash,
    payout_payment_hash: r.payout_payment_hash ?? null,
    payout_claimed_at: r.payout_claimed_at ?? null,
    payout_claim_seq: r.payout_claim_seq ?? 0,
    payout_lost_success_hash: r.payout_lost_success_hash ?? null,
  };
}

export function orderToDb(row: OrderRow): Insertable<OrdersTable> {
  return {
    ...row,
    id: uuidToBlob(row.id),
    range_parent_id: row.range_parent_id === null ? null : uuidToBlob(row.range_parent_id),
  };
}

function patchToDb(patch: OrderPatch): Updateable<OrdersTable> {
  if ('id' in patch) throw new TypeError('an order patch cannot change id');
  const { range_parent_id, ...rest } = patch;
  const out: Updateable<OrdersTable> = { ...rest };
  if (range_parent_id !== undefined) {
    out.range_parent_id = range_parent_id === null ? null : uuidToBlob(range_parent_id);
  }
  return out;
}

/** Required fields of a new order; everything else gets mostrod's defaults. */
export type NewOrderFields = Pick<
  OrderRow,
  | 'id'
  | 'kind'
  | 'status'
  | 'premium'
  | 'payment_method'
  | 'amount'
  | 'fiat_code'
  | 'fiat_amount'
  | 'created_at'
  | 'expires_at'
> &
  Partial<OrderRow>;

/** A complete OrderRow with mostrod's defaults (0 / null / '') for every field not given. */
export function newOrderRow(fields: NewOrderFields): OrderRow {
  return {
    event_id: '',
    hash: null,
    preimage: null,
    creator_pubkey: null,
    cancel_initiator_pubkey: null,
    buyer_pubkey: null,
    master_buyer_pubkey: null,
    seller_pubkey: null,
    master_seller_pubkey: null,
    price_from_api: 0,
    min_amount: null,
    max_amount: null,
    buyer_dispute: 0,
    seller_dispute: 0,
    buyer_cooperativecancel: 0,
    seller_cooperativecancel: 0,
    fee: 0,
    routing_fee: 0,
    buyer_invoice: null,
    range_parent_id: null,
    invoice_held_at: 0,
    taken_at: 0,
    buyer_sent_rate: 0,
    seller_sent_rate: 0,
    payment_attempts: 0,
    failed_payment: 0,
    trade_index_seller: null,
    trade_index_buyer: null,
    next_trade_pubkey: null,
    next_trade_index: null,
    dev_fee: 0,
    dev_fee_paid: 0,
    dev_fee_payment_hash: null,
    payout_payment_hash: null,
    payout_claimed_at: null,
    payout_claim_seq: 0,
    payout_lost_success_hash: null,
    ...fields,
  };
}

// The two order statements of the new-order path, built and compiled by Kysely once
// (compiled-once.ts): the insert (one per row shape) and publishOrder's event-id update.
const INSERT_ORDER = compiledOncePerShape((db, row: Insertable<OrdersTable>) => db.insertInto('orders').values(row));

/** casUpdateOrder's UPDATE: `SET <set> WHERE id = <blob> AND <expect>`. */
function casUpdateQuery(db: Kysely<DbSchema>, blob: Uint8Array, expect: OrderExpect, set: Updateable<OrdersTable>) {
  return db.updateTable('orders').set(set).where('id', '=', blob).where(andAll(expectConditions(expect, encode)));
}

const SET_EVENT_ID = compiledOnce((db, blob: Uint8Array, status: Status, eventId: string) =>
  casUpdateQuery(db, blob, { status }, patchToDb({ event_id: eventId })),
);

/** The hot statements of this module, for the SQL-equality test. */
export const ORDER_STATEMENTS = { INSERT_ORDER, SET_EVENT_ID };

export async function insertOrder(ex: Executor, row: OrderRow): Promise<void> {
  await INSERT_ORDER.run(ex, orderToDb(row));
}

export async function getOrder(ex: Executor, id: string): Promise<OrderRow | undefined> {
  const blob = tryUuidToBlob(id);
  if (!blob) return undefined;
  const r = await ex.selectFrom('orders').selectAll().where('id', '=', blob).executeTakeFirst();
  return r && orderFromDb(r);
}

/** Order whose hold-invoice hash is `hash` (exact, case-sensitive like mostrod). */
export async function getOrderByHash(ex: Executor, hash: string): Promise<OrderRow | undefined> {
  const r = await ex.selectFrom('orders').selectAll().where('hash', '=', hash).executeTakeFirst();
  return r && orderFromDb(r);
}

/**
 * Compare-and-set: `UPDATE orders SET <patch> WHERE id = ? AND <expect>`; true iff exactly one row
 * changed. An empty patch only tests whether the row matches.
 */
export async function casUpdateOrder(
  ex: Executor,
  id: string,
  expect: OrderExpect,
  patch: OrderPatch,
): Promise<boolean> {
  const blob = tryUuidToBlob(id);
  if (!blob) return false;
  const set = patchToDb(patch);
  if (Object.values(set).every((v) => v === undefined)) {
    const cond = andAll(expectConditions(expect, encode));
    const r = await ex.selectFrom('orders').select('id').where('id', '=', blob).where(cond).executeTakeFirst();
    return r !== undefined;
  }
  const res = await casUpdateQuery(ex, blob, expect, set).executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/**
 * `casUpdateOrder(ex, id, { status }, { event_id: eventId })` — the same statement, compiled once:
 * record the order's new kind-38383 event id iff it still has `status`. True iff the row changed.
 */
export async function setOrderEventId(ex: Executor, id: string, status: Status, eventId: string): Promise<boolean> {
  const blob = tryUuidToBlob(id);
  if (!blob) return false;
  return (await SET_EVENT_ID.run(ex, blob, status, eventId)).numAffectedRows === 1n;
}

export async function findOrders(
  ex: Executor,
  where: OrderExpect,
  opts: { limit?: number; orderBy?: keyof OrderRow } = {},
): Promise<OrderRow[]> {
  let q = ex.selectFrom('orders').selectAll().where(andAll(expectConditions(where, encode)));
  if (opts.orderBy) q = q.orderBy(sql.ref(opts.orderBy));
  if (opts.limit !== undefined) q = q.limit(opts.limit);
  return (await q.execute()).map(orderFromDb);
}

/** Pending orders past their expiry: `expires_at < now AND status = 'pending'`. */
export async function findExpiredPending(ex: Executor, now: number): Promise<OrderRow[]> {
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('status', '=', 'pending')
    .where('expires_at', '<', now)
    .execute();
  return rows.map(orderFromDb);
}

/**
 * Ids of at most `limit` pending orders past their expiry, earliest expiry first (the expiry job
 * works in batches so a backlog never turns into one big read; each batch is one index range).
 */
export async function findExpiredPendingIds(ex: Executor, now: number, limit: number): Promise<string[]> {
  const rows = await ex
    .selectFrom('orders')
    .select('id')
    .where('status', '=', 'pending')
    .where('expires_at', '<', now)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  return rows.map((r) => blobToUuid(r.id));
}

/**
 * The pending orders whose maker's identity is `identity`, one side at a time: each a lookup in
 * the partial index on `master_buyer_pubkey` / `master_seller_pubkey` (migration 20261207000000).
 * `+status` keeps SQLite off the status index — with an OR of the two keys it walked every pending
 * order (33 ms at 100,000 orders, the scale phase; each side alone: a few rows).
 */
function pendingOrdersOfSide(ex: Executor, side: 'master_buyer_pubkey' | 'master_seller_pubkey', identity: string) {
  return ex.selectFrom('orders').where(side, '=', identity).where(sql<boolean>`+status = 'pending'`);
}

const MAKER_SIDES = ['master_buyer_pubkey', 'master_seller_pubkey'] as const;

/** Ids of `identity`'s pending orders (a ban's withdrawal). */
export async function findPendingOrderIdsOf(ex: Executor, identity: string): Promise<string[]> {
  const ids: string[] = [];
  for (const side of MAKER_SIDES) {
    for (const r of await pendingOrdersOfSide(ex, side, identity).select('id').execute()) ids.push(blobToUuid(r.id));
  }
  return ids;
}

/** How many pending orders `identity` has ([mostro] max_pending_orders_per_user). */
export async function countPendingOrdersOf(ex: Executor, identity: string): Promise<number> {
  let n = 0;
  for (const side of MAKER_SIDES) {
    const r = await pendingOrdersOfSide(ex, side, identity)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    n += Number(r?.n ?? 0);
  }
  return n;
}

/** Taken orders whose taker ran out of time: `taken_at < cutoff` in the two waiting states. */
export async function findWaitingTimedOut(ex: Executor, cutoff: number): Promise<OrderRow[]> {
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('status', 'in', ['waiting-buyer-invoice', 'waiting-payment'])
    .where('taken_at', '<', cutoff)
    .execute();
  return rows.map(orderFromDb);
}

const ESCROW_STATUSES: Status[] = [
  'waiting-payment',
  'waiting-buyer-invoice',
  'active',
  'fiat-sent',
  'dispute',
  'settled-hold-invoice',
];

/** Orders whose hold invoice may still be open in LND (to re-subscribe at boot / guard CLTV). */
export async function findOpenEscrows(ex: Executor): Promise<OrderRow[]> {
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('hash', 'is not', null)
    .where('status', 'in', ESCROW_STATUSES)
    .execute();
  return rows.map(orderFromDb);
}

/** Failed buyer payouts to retry: `failed_payment = 1 AND status = 'settled-hold-invoice'`. */
export async function findFailedPayouts(ex: Executor): Promise<OrderRow[]> {
  return findOrders(ex, { failed_payment: 1, status: 'settled-hold-invoice' });
}

/**
 * The buyer-payout claim, as one statement: `payout_payment_hash := hash, payout_claimed_at := now,
 * payout_claim_seq := seq + 1` on the order still `settled-hold-invoice` with no claim, the same
 * buyer invoice and the same claim sequence — and only if NO other order holds `hash` as its payout
 * hash (a payment hash pays one order, never two; checked in the same UPDATE, so two concurrent
 * claims of one hash cannot both win). Returns the new claim's sequence, or null if it lost.
 */
export async function claimPayout(
  ex: Executor,
  id: string,
  expect: { buyer_invoice: string | null; payout_claim_seq: number },
  hash: string,
  now: number,
): Promise<number | null> {
  const blob = tryUuidToBlob(id);
  if (!blob) return null;
  const seq = expect.payout_claim_seq + 1;
  const res = await ex
    .updateTable('orders')
    .set({ payout_payment_hash: hash, payout_claimed_at: now, payout_claim_seq: seq })
    .where('id', '=', blob)
    .where('status', '=', 'settled-hold-invoice')
    .where('payout_payment_hash', 'is', null)
    .where('buyer_invoice', expect.buyer_invoice === null ? 'is' : '=', expect.buyer_invoice)
    .where('payout_claim_seq', '=', expect.payout_claim_seq)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('orders as other').select('other.id').where('other.payout_payment_hash', '=', hash).where('other.id', '!=', blob))),
    )
    .executeTakeFirst();
  return res.numUpdatedRows === 1n ? seq : null;
}

/**
 * Orders carrying a lost payout success (`payout_lost_success_hash` set): LND reported a payout of
 * theirs SUCCEEDED that could not complete the order. For operators, metrics and alerts.
 */
export async function findPayoutLostSuccesses(ex: Executor): Promise<OrderRow[]> {
  const rows = await ex.selectFrom('orders').selectAll().where('payout_lost_success_hash', 'is not', null).execute();
  return rows.map(orderFromDb);
}

/**
 * Orders among `ids` where `identity` is the master buyer or seller, in request order (mostrod's
 * `ORDER BY CASE id …`); an empty list runs no query.
 */
export async function findOrdersByIdsForUser(ex: Executor, ids: string[], identity: string): Promise<OrderRow[]> {
  const blobs = ids.map((i) => tryUuidToBlob(i)).filter((b): b is Buffer => b !== undefined);
  if (blobs.length === 0) return [];
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('id', 'in', blobs)
    .where((eb) => eb.or([eb('master_buyer_pubkey', '=', identity), eb('master_seller_pubkey', '=', identity)]))
    .execute();
  const position = new Map<string, number>();
  ids.forEach((id, i) => {
    const key = id.toLowerCase().replace(/-/g, '');
    if (!position.has(key)) position.set(key, i);
  });
  const orders = rows.map(orderFromDb);
  const pos = (o: OrderRow): number => position.get(o.id.replace(/-/g, '')) ?? Number.MAX_SAFE_INTEGER;
  return orders.sort((a, b) => pos(a) - pos(b));
}

/**
 * mostrod's pending-take guards: the identity already has an order it took and has not completed
 * (buyer: master_buyer_pubkey in waiting-buyer-invoice; seller: master_seller_pubkey in
 * waiting-payment). Throws CantDoError('invalid_pubkey') for a non-hex key.
 */
export async function hasPendingTake(ex: Executor, identity: string, role: 'buyer' | 'seller'): Promise<boolean> {
  assertHexPubkey(identity);
  const q =
    role === 'buyer'
      ? ex
          .selectFrom('orders')
          .select('id')
          .where('master_buyer_pubkey', '=', identity)
          .where('status', '=', 'waiting-buyer-invoice')
      : ex
          .selectFrom('orders')
          .select('id')
          .where('master_seller_pubkey', '=', identity)
          .where('status', '=', 'waiting-payment');
  return (await q.limit(1).executeTakeFirst()) !== undefined;
}

/**
 * Statuses restore-session leaves out. mostrod 0.17.1 spells the last four without hyphens
 * (QUIRK Q13 / HQ-18) so they never matched; this port uses the real spellings.
 */
export const RESTORE_EXCLUDED_STATUSES: readonly Status[] = [
  'expired',
  'success',
  'canceled',
  'dispute',
  'canceled-by-admin',
  'completed-by-admin',
  'settled-by-admin',
  'cooperatively-canceled',
];

export interface RestoredOrder {
  order_id: string;
  trade_index: number;
  status: string;
}

/** Orders for restore-session (DAEMON.md §3.6): buyer side first, then seller side (UNION ALL). */
export async function restoreSessionOrders(ex: Executor, identity: string): Promise<RestoredOrder[]> {
  assertHexPubkey(identity);
  const excluded = [...RESTORE_EXCLUDED_STATUSES];
  const buyer = await ex
    .selectFrom('orders')
    .select(['id', 'trade_index_buyer as trade_index', 'status'])
    .where('master_buyer_pubkey', '=', identity)
    .where('status', 'not in', excluded)
    .execute();
  const seller = await ex
    .selectFrom('orders')
    .select(['id', 'trade_index_seller as trade_index', 'status'])
    .where('master_seller_pubkey', '=', identity)
    .where('status', 'not in', excluded)
    .execute();
  return [...buyer, ...seller].map((r) => ({
    order_id: blobToUuid(r.id),
    trade_index: r.trade_index ?? 0,
    status: r.status,
  }));
}

export interface RestoredDispute {
  dispute_id: string;
  order_id: string;
  trade_index: number;
  status: string;
  initiator: 'buyer' | 'seller' | null;
}

/** Open disputes (initiated / in-progress) on orders where `identity` is master buyer or seller. */
export async function restoreSessionDisputes(ex: Executor, identity: string): Promise<RestoredDispute[]> {
  assertHexPubkey(identity);
  const rows = await ex
    .selectFrom('disputes as d')
    .innerJoin('orders as o', 'o.id', 'd.order_id')
    .select([
      'd.id as dispute_id',
      'd.order_id as order_id',
      'd.status as status',
      'o.master_buyer_pubkey',
      'o.master_seller_pubkey',
      'o.trade_index_buyer',
      'o.trade_index_seller',
      'o.buyer_dispute',
      'o.seller_dispute',
    ])
    .where((eb) => eb.or([eb('o.master_buyer_pubkey', '=', identity), eb('o.master_seller_pubkey', '=', identity)]))
    .where('d.status', 'in', ['initiated', 'in-progress'])
    .execute();
  return rows.map((r) => {
    const tradeIndex =
      r.master_buyer_pubkey === identity
        ? r.trade_index_buyer
        : r.master_seller_pubkey === identity
          ? r.trade_index_seller
          : 0;
    const initiator =
      r.buyer_dispute === 1 && r.seller_dispute === 0
        ? 'buyer'
        : r.seller_dispute === 1 && r.buyer_dispute === 0
          ? 'seller'
          : null;
    return {
      dispute_id: blobToUuid(r.dispute_id),
      order_id: blobToUuid(r.order_id),
      trade_index: tradeIndex ?? 0,
      status: r.status,
      initiator,
    };
  });
}

// ---- dev fee (DAEMON.md §3.6, §4.6) -------------------------------------------------------------

const DEV_FEE_STATUSES: Status[] = ['settled-hold-invoice', 'success'];

/** Unpaid and unclaimed: dev_fee > 0, dev_fee_paid = 0, hash NULL or ''. */
export async function findUnpaidDevFees(ex: Executor): Promise<OrderRow[]> {
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('status', 'in', DEV_FEE_STATUSES)
    .where('dev_fee', '>', 0)
    .where('dev_fee_paid', '=', 0)
    .where((eb) => eb.or([eb('dev_fee_payment_hash', 'is', null), eb('dev_fee_payment_hash', '=', '')]))
    .execute();
  return rows.map(orderFromDb);
}

/**
 * Claimed by a scheduler cycle: `dev_fee_payment_hash LIKE 'PENDING-%'` (any status). LIKE itself
 * cannot use an index (it ignores ASCII case), so the test is written as the equivalent
 * `upper(substr(hash, 1, 8)) = 'PENDING-'`, which the expression index of migration 20261204000000
 * (partial since 20261207000000: rows with a hash only) answers without reading the table.
 */
export async function findStaleDevFeeClaims(ex: Executor): Promise<OrderRow[]> {
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('dev_fee_payment_hash', 'is not', null) // the index is partial: WHERE dev_fee_payment_hash IS NOT NULL
    .where(sql<string>`upper(substr(dev_fee_payment_hash, 1, 8))`, '=', 'PENDING-')
    .execute();
  return rows.map(orderFromDb);
}

/** Paid with a real hash (to verify against LND once per process). */
/** A paid dev fee LND has not confirmed yet (rowid: the job's cursor). */
export interface UnverifiedDevFee {
  rowid: number;
  id: string;
  hash: string;
}

/**
 * Up to `limit` paid dev fees with a real payment hash that LND has not confirmed yet, after
 * `afterRowid` in rowid order (a rotating cursor, so fees LND cannot answer for do not hold up the
 * rest). Reads only the partial index of unverified rows and those rows' id and hash.
 */
export async function findUnverifiedPaidDevFees(ex: Executor, afterRowid: number, limit: number): Promise<UnverifiedDevFee[]> {
  const rows = await ex
    .selectFrom('orders')
    .select([sql<number>`rowid`.as('rowid'), 'id', 'dev_fee_payment_hash'])
    .where('dev_fee_paid', '=', 1)
    .where('dev_fee_verified_at', 'is', null)
    .where(sql<number>`rowid`, '>', afterRowid)
    .where('dev_fee_payment_hash', 'is not', null)
    .where('dev_fee_payment_hash', 'not like', 'PENDING-%')
    .where('status', 'in', DEV_FEE_STATUSES)
    .orderBy(sql`rowid`)
    .limit(limit)
    .execute();
  return rows.map((r) => ({ rowid: r.rowid, id: blobToUuid(r.id), hash: r.dev_fee_payment_hash ?? '' }));
}

/** Record that LND answered for this paid dev fee (`dev_fee_verified_at := now`), once. */
export async function markDevFeeVerified(ex: Executor, orderId: string, hash: string, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('orders')
    .set({ dev_fee_verified_at: now })
    .where('id', '=', uuidToBlob(orderId))
    .where('dev_fee_paid', '=', 1)
    .where('dev_fee_payment_hash', '=', hash)
    .where('dev_fee_verified_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Hash stored but not confirmed paid (crash/timeout between storing the hash and the result). */
export async function findPartialDevFees(ex: Executor): Promise<OrderRow[]> {
  const rows = await ex
    .selectFrom('orders')
    .selectAll()
    .where('status', 'in', DEV_FEE_STATUSES)
    .where('dev_fee', '>', 0)
    .where('dev_fee_paid', '=', 0)
    .where('dev_fee_payment_hash', 'is not', null)
    .where('dev_fee_payment_hash', '!=', '')
    .where('dev_fee_payment_hash', 'not like', 'PENDING-%')
    .execute();
  return rows.map(orderFromDb);
}

/** Atomic claim: write `marker` iff the order is still payable, unpaid and unclaimed. */
export async function claimDevFee(ex: Executor, id: string, marker: string): Promise<boolean> {
  const blob = tryUuidToBlob(id);
  if (!blob) return false;
  const res = await ex
    .updateTable('orders')
    .set({ dev_fee_payment_hash: marker })
    .where('id', '=', blob)
    .where('status', 'in', DEV_FEE_STATUSES)
    .where('dev_fee', '>', 0)
    .where('dev_fee_paid', '=', 0)
    .where((eb) => eb.or([eb('dev_fee_payment_hash', 'is', null), eb('dev_fee_payment_hash', '=', '')]))
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** Release a claim: clear the hash iff it still equals exactly `marker`. */
export async function releaseDevFeeClaim(ex: Executor, id: string, marker: string): Promise<boolean> {
  const blob = tryUuidToBlob(id);
  if (!blob) return false;
  const res = await ex
    .updateTable('orders')
    .set({ dev_fee_payment_hash: null })
    .where('id', '=', blob)
    .where('dev_fee_payment_hash', '=', marker)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}
