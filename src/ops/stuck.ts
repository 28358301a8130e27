/**
 * "What is stuck" queries for the operator (OperatorService.ListStuck, metrics, alerts). Plain
 * functions over the database (and, for escrow deadlines, the Lightning node); they change nothing.
 *
 *  - unpaid settled orders: the escrow was settled (`settled-hold-invoice`) but the buyer payout
 *    has no claim in flight — waiting for the retry job, or out of attempts (buyer asked for a
 *    new invoice);
 *  - stranded payouts: a payout claim (`payout_payment_hash`) older than the grace the payout
 *    reconciliation itself uses (2 × lightning.payment_timeout_seconds) — the payment is in flight
 *    or its outcome was never recorded;
 *  - escrows near their deadline: an accepted hold invoice whose lowest HTLC expiry height is
 *    within N blocks of the chain tip (LND cancels it `holdexpirydelta` blocks before expiry);
 *  - lagging publications: the last kind-38383 event this node queued for an order (recorded by
 *    ./publication-ledger.ts) carries another status than the database implies;
 *  - orphaned disputes: a dispute still `initiated` / `in-progress` whose order is no longer in
 *    `dispute` (e.g. the parties cancelled cooperatively while it was open);
 *  - lost payout successes (listStuck only): LND reported a payout SUCCEEDED that could not complete
 *    its order (`payout_lost_success_hash`, recorded by the payout flow).
 */
import { findDisputes } from '../db/disputes.js';
import { findOpenEscrows, findOrders, findPayoutLostSuccesses, getOrder } from '../db/orders.js';
import type { Db } from '../db/schema.js';
import type { DisputeRow, OrderRow } from '../db/types.js';
import type { LightningBackend } from '../lightning/backend.js';
import type { Settings } from '../config/types.js';
import { expectedPublicStatus } from '../app/flows/publish.js';
import type { Status } from '../protocol/types.js';
import { sql } from 'kysely';

/** Seconds after which an unresolved payout claim counts as stranded (payout reconciliation's grace). */
export function payoutGraceSeconds(settings: Pick<Settings, 'lightning'>): number {
  return 2 * settings.lightning.payment_timeout_seconds;
}

/** `settled-hold-invoice` orders with no payout claim in flight. */
export async function findUnpaidSettled(db: Db): Promise<OrderRow[]> {
  return findOrders(db, { status: 'settled-hold-invoice', payout_payment_hash: null }, { orderBy: 'created_at' });
}

/** Every `settled-hold-invoice` order with a payout claim (in flight or unresolved). */
export async function findPayoutsInFlight(db: Db): Promise<OrderRow[]> {
  const rows = await findOrders(db, { status: 'settled-hold-invoice' }, { orderBy: 'created_at' });
  return rows.filter((o) => o.payout_payment_hash !== null);
}

/** Payout claims older than `graceSeconds` at `now` (claimed_at unknown counts as stranded). */
export async function findStrandedPayouts(db: Db, now: number, graceSeconds: number): Promise<OrderRow[]> {
  return (await findPayoutsInFlight(db)).filter((o) => now - (o.payout_claimed_at ?? 0) >= graceSeconds);
}

export interface EscrowNearDeadline {
  order: OrderRow;
  /** Lowest accepted-HTLC expiry height, or null when LND already canceled the HTLC. */
  expiryHeight: number | null;
  blockHeight: number;
  /** expiryHeight − blockHeight (negative or null when already expired / gone). */
  blocksLeft: number | null;
  /** The hold invoice as LND reports it. */
  escrowState: 'accepted' | 'canceled';
}

/** Statuses in which the trade still depends on the accepted escrow (the deadline guard's set). */
const LIVE_ESCROW: readonly Status[] = ['active', 'fiat-sent', 'dispute', 'waiting-buyer-invoice'];

/**
 * Live escrows whose accepted HTLC expires within `withinBlocks` blocks of the chain tip, or that
 * LND already canceled while the trade is live. Asks LND for the chain tip and each escrow;
 * throws when the node cannot be asked for the tip; an escrow LND cannot look up is skipped.
 */
export async function findEscrowsNearDeadline(
  ctx: { db: Db; lightning: Pick<LightningBackend, 'getInfo' | 'lookupInvoice'> },
  withinBlocks: number,
): Promise<EscrowNearDeadline[]> {
  const candidates = (await findOpenEscrows(ctx.db)).filter(
    (o) => LIVE_ESCROW.includes(o.status) && (o.status !== 'waiting-buyer-invoice' || o.invoice_held_at > 0),
  );
  if (candidates.length === 0) return [];
  const { blockHeight } = await ctx.lightning.getInfo();
  const out: EscrowNearDeadline[] = [];
  for (const order of candidates) {
    if (order.hash === null) continue;
    let lookup;
    try {
      lookup = await ctx.lightning.lookupInvoice(order.hash);
    } catch {
      continue;
    }
    if (lookup === null) continue;
    if (lookup.state === 'canceled') {
      out.push({ order, expiryHeight: null, blockHeight, blocksLeft: null, escrowState: 'canceled' });
    } else if (lookup.state === 'accepted' && lookup.htlcExpiryHeight > 0) {
      const blocksLeft = lookup.htlcExpiryHeight - blockHeight;
      if (blocksLeft <= withinBlocks) {
        out.push({ order, expiryHeight: lookup.htlcExpiryHeight, blockHeight, blocksLeft, escrowState: 'accepted' });
      }
    }
  }
  return out;
}

/** The `s` the order's current public 38383 should carry (app/flows/publish.ts). */
export { expectedPublicStatus };

export interface PublicationLag {
  order: OrderRow;
  /** What the database implies. */
  expected: string;
  /** What the node last queued for publication. */
  published: string;
  publishedEventId: string;
  publishedAt: number;
}

/**
 * Orders whose last queued 38383 (the publication ledger) carries another status than the DB
 * implies. Orders without a ledger row (published before the ledger existed) are not judged.
 */
export async function findLaggingPublications(db: Db): Promise<PublicationLag[]> {
  // One pass: the ledger joined with each order's kind and status (the ledger keys orders by their
  // text id, the orders table by the 16-byte blob — or, in a database from an early mostrod, the
  // text). The full rows are read only for the orders that lag (a handful); one lookup per ledger
  // row took seconds at 100,000 orders.
  const rows = await sql<{ order_id: string; status: string; event_id: string; created_at: number; kind: OrderRow['kind']; order_status: Status }>`
    SELECT p.order_id, p.status, p.event_id, p.created_at, o.kind, o.status AS order_status
    FROM mostrod_ts_order_publications p
    JOIN orders o ON o.id IN (unhex(replace(p.order_id, '-', '')), p.order_id)`.execute(db);
  const out: PublicationLag[] = [];
  for (const p of rows.rows) {
    const expected = expectedPublicStatus({ kind: p.kind, status: p.order_status });
    if (expected === null || expected === p.status) continue;
    const order = await getOrder(db, p.order_id);
    if (order === undefined) continue;
    out.push({ order, expected, published: p.status, publishedEventId: p.event_id, publishedAt: p.created_at });
  }
  return out;
}

export interface OrphanedDispute {
  dispute: DisputeRow;
  /** The order's current status (undefined when the order row is gone). */
  orderStatus: Status | undefined;
}

/** Open disputes (`initiated` / `in-progress`) whose order is no longer in `dispute`. */
export async function findOrphanedDisputes(db: Db): Promise<OrphanedDispute[]> {
  const open = await findDisputes(db, { status: ['initiated', 'in-progress'] });
  const out: OrphanedDispute[] = [];
  for (const dispute of open) {
    const order = await getOrder(db, dispute.order_id);
    if (order?.status !== 'dispute') out.push({ dispute, orderStatus: order?.status });
  }
  return out;
}

export type StuckKind =
  | 'unpaid-settled'
  | 'stranded-payout'
  | 'lost-payout-success'
  | 'escrow-near-deadline'
  | 'public-event-lag'
  | 'orphaned-dispute';

export interface StuckItem {
  kind: StuckKind;
  orderId: string;
  disputeId: string | null;
  orderStatus: string;
  detail: string;
  /** When the condition started, where known (0 = unknown). */
  since: number;
}

export interface StuckReport {
  items: StuckItem[];
  /** Checks that could not run, in words. */
  errors: string[];
}

/**
 * Every stuck state at once (ListStuck). Escrow deadlines need the Lightning node; when it is not
 * up (or the check fails) that check is reported in `errors` and the others still run.
 */
export async function listStuck(
  ctx: { db: Db; lightning: Pick<LightningBackend, 'getInfo' | 'lookupInvoice' | 'state'>; settings: Settings; clock: { now(): number } },
  opts: { deadlineBlocks: number },
): Promise<StuckReport> {
  const now = ctx.clock.now();
  const items: StuckItem[] = [];
  const errors: string[] = [];
  const P = ctx.settings.lightning.payment_attempts;
  for (const o of await findUnpaidSettled(ctx.db)) {
    const attempts = o.failed_payment === 1 ? `${o.payment_attempts} of ${P} attempts failed` : 'no attempt recorded yet';
    const exhausted = o.failed_payment === 1 && o.payment_attempts >= P ? '; attempts exhausted, waiting for a new buyer invoice' : '';
    items.push({
      kind: 'unpaid-settled',
      orderId: o.id,
      disputeId: null,
      orderStatus: o.status,
      detail: `escrow settled, buyer not paid (${buyerPayout(o)} sats): ${attempts}${exhausted}`,
      since: o.payout_claimed_at ?? 0,
    });
  }
  const grace = payoutGraceSeconds(ctx.settings);
  for (const o of await findStrandedPayouts(ctx.db, now, grace)) {
    const age = o.payout_claimed_at === null ? 'unknown time' : `${now - o.payout_claimed_at} s`;
    items.push({
      kind: 'stranded-payout',
      orderId: o.id,
      disputeId: null,
      orderStatus: o.status,
      detail: `payout ${o.payout_payment_hash ?? ''} claimed ${age} ago without a result (grace ${grace} s)`,
      since: o.payout_claimed_at ?? 0,
    });
  }
  for (const o of await findPayoutLostSuccesses(ctx.db)) {
    items.push({
      kind: 'lost-payout-success',
      orderId: o.id,
      disputeId: null,
      orderStatus: o.status,
      detail: `LND reports payout ${o.payout_lost_success_hash ?? ''} SUCCEEDED but it could not complete the order (buyer possibly paid twice); check both hashes in LND`,
      since: o.payout_claimed_at ?? 0,
    });
  }
  if (ctx.lightning.state !== 'up') {
    errors.push(`escrow deadlines not checked: Lightning node is ${ctx.lightning.state}`);
  } else {
    try {
      for (const e of await findEscrowsNearDeadline(ctx, opts.deadlineBlocks)) {
        items.push({
          kind: 'escrow-near-deadline',
          orderId: e.order.id,
          disputeId: null,
          orderStatus: e.order.status,
          detail:
            e.escrowState === 'canceled'
              ? `hold invoice already canceled by LND while the order is ${e.order.status}`
              : `hold invoice HTLC expires at height ${e.expiryHeight ?? '?'} (tip ${e.blockHeight}, ${e.blocksLeft ?? '?'} blocks left)`,
          since: e.order.invoice_held_at,
        });
      }
    } catch (err) {
      errors.push(`escrow deadlines not checked: ${(err as Error).message}`);
    }
  }
  for (const l of await findLaggingPublications(ctx.db)) {
    items.push({
      kind: 'public-event-lag',
      orderId: l.order.id,
      disputeId: null,
      orderStatus: l.order.status,
      detail: `public 38383 says "${l.published}" (event ${l.publishedEventId}), the database implies "${l.expected}"`,
      since: l.publishedAt,
    });
  }
  for (const d of await findOrphanedDisputes(ctx.db)) {
    items.push({
      kind: 'orphaned-dispute',
      orderId: d.dispute.order_id,
      disputeId: d.dispute.id,
      orderStatus: d.orderStatus ?? '',
      detail: `dispute is ${d.dispute.status} but its order is ${d.orderStatus ?? 'missing'}`,
      since: d.dispute.created_at,
    });
  }
  return { items, errors };
}

function buyerPayout(o: Pick<OrderRow, 'amount' | 'fee'>): number {
  return Math.max(0, o.amount - o.fee);
}
