import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/schema.js';
import { clearDisputeChange, getDisputeChange } from '../../db/dispute-changes.js';
import { clearOrderChange, pendingChangeSeq, type OrderChange } from '../../db/order-changes.js';
import { setOrderEventId } from '../../db/orders.js';
import type { DisputeRow, OrderRow } from '../../db/types.js';
import { buildDisputeEvent, buildOrderEvent, networkTagValue, publicStatusFor } from '../../nostr/events.js';
import type { PreparedEvent } from '../../nostr/outbox.js';
import { makerRating } from './reputation.js';

/**
 * The `s` value a 38383 event carries for this order, or null when the status is not published.
 *
 * mostrod 0.17.1 publishes `in-progress` for waiting-buyer-invoice only on sell orders and for
 * waiting-payment only on buy orders (HQ-12), so a sell order taken with an invoice kept showing
 * `pending` on relays and could be "taken" again by clients. This port publishes `in-progress` for
 * both waiting states of both kinds (documented deviation); everything else follows mostrod.
 */
export function orderPublicStatus(o: Pick<OrderRow, 'kind' | 'status'>): string | null {
  if (o.status === 'waiting-payment' || o.status === 'waiting-buyer-invoice') return 'in-progress';
  return publicStatusFor(o.kind, o.status);
}

/** Statuses that publish no 38383 of their own: the public event still says `in-progress`. */
const MID_TRADE: readonly OrderRow['status'][] = ['active', 'fiat-sent', 'dispute', 'settled-hold-invoice', 'in-progress', 'settled-by-admin'];

/** The `s` the order's current public 38383 should carry, given its database row (null: none expected). */
export function expectedPublicStatus(o: Pick<OrderRow, 'kind' | 'status'>): string | null {
  return orderPublicStatus(o) ?? (MID_TRADE.includes(o.status) ? 'in-progress' : null);
}

/**
 * What the book must show for an order whose change-log row is `change` (the republish job): the
 * order's public status; for a trade under way (a status with no event of its own: active,
 * fiat-sent, settled-hold-invoice, dispute) `in-progress` when the lagging change is a public one
 * (the take's event never reached a relay: the book would show the order `pending` for the whole
 * trade — simulation finding F15), nothing when it is not (that event was out).
 */
export function publicViewFor(o: Pick<OrderRow, 'kind' | 'status'>, change: Pick<OrderChange, 'status'>): string | null {
  const status = orderPublicStatus(o);
  if (status !== null) return status;
  return orderPublicStatus({ kind: o.kind, status: change.status as OrderRow['status'] }) === null ? null : expectedPublicStatus(o);
}

/** What publishOrder did: queued the event, had nothing to publish, or could not queue it (logged). */
export type OrderPublication = 'queued' | 'not-public' | 'failed';

/**
 * Publish the order's kind-38383 event if its status is publishable, then record the new event id
 * with a targeted UPDATE (only if the order still has that status). The order's entry in the change
 * log (db/order-changes.ts), which the republish job reads, is deleted once a relay accepted the
 * event (ctx.orderChangeAcks), not when it is queued: a process that stops before a relay has it,
 * or relays that refuse it through every retry, leave the order to the job. Relay problems never
 * throw here: the outbox retries publication; a signing/queueing failure is logged with its cause
 * and the caller's state change stands (the job or the next publish of the order replaces the
 * event). `opts.rating`: the maker's rating of a pending order when the caller already has the
 * users row (new-order); otherwise it is read here.
 */
export async function publishOrder(
  ctx: AppContext,
  o: OrderRow,
  opts: { rating?: { total_rating: number; total_reviews: number; days: number }; change?: OrderChange } = {},
): Promise<OrderPublication> {
  const status = opts.change === undefined ? orderPublicStatus(o) : publicViewFor(o, opts.change);
  if (status === null) {
    // Not a public status: nothing lags on relays for it (the order change log entry is done).
    await clearOrderChange(ctx.db, o.id, opts.change?.status ?? o.status);
    return 'not-public';
  }
  const rating = o.status === 'pending' ? (opts.rating ?? (await makerRating(ctx, o))) : null;
  const now = ctx.clock.now();
  const template = buildOrderEvent({
    order: o,
    status,
    rating,
    settings: ctx.settings,
    nodePubkey: ctx.keys.pubkey,
    network: networkTagValue(ctx.lightning.info?.networks ?? null),
    now,
  });
  // The change this event publishes (none when it was published already, e.g. an edit that kept
  // the status): its row goes once a relay accepted the event.
  const seq = opts.change?.seq ?? (await pendingChangeSeq(ctx.db, o.id, o.status));
  const onOutcome = seq === null ? undefined : ctx.orderChangeAcks.publishing(o.id, seq);
  const writes: Array<(ex: Executor) => Promise<void>> = [];
  // The event id and the outbox's own record (publication ledger) in one transaction.
  const record = (eventId: string): Promise<void> =>
    ctx.db.transaction().execute(async (trx) => {
      await setOrderEventId(trx, o.id, o.status, eventId);
      for (const write of writes) await write(trx);
    });
  const { outbox } = ctx;
  if (outbox.prepare !== undefined && outbox.publishPrepared !== undefined) {
    // Write-ahead: created_at and id fixed, recorded, and only then signed and published, so no
    // relay has an event the ledger lacks (a restarted process goes on after what the ledger holds;
    // simulation, session 35: a process that died between the publication and its record).
    let prepared: PreparedEvent;
    try {
      prepared = outbox.prepare(template, { writes });
    } catch (err) {
      onOutcome?.(false);
      ctx.logger.error({ err, orderId: o.id, status: o.status }, 'order event could not be queued for publication');
      return 'failed';
    }
    try {
      await record(prepared.id);
    } catch (err) {
      onOutcome?.(false); // the change stays in the log: the book-sync job publishes it
      throw err;
    }
    outbox.publishPrepared(prepared, onOutcome === undefined ? undefined : { onOutcome });
    return 'queued';
  }
  let eventId: string;
  try {
    eventId = await outbox.publish(template, { writes, ...(onOutcome === undefined ? {} : { onOutcome }) });
  } catch (err) {
    onOutcome?.(false);
    ctx.logger.error({ err, orderId: o.id, status: o.status }, 'order event could not be queued for publication');
    return 'failed';
  }
  await record(eventId);
  return 'queued';
}

/** A new order's 38383 event, prepared inside the order's own transaction (prepareOrderEvent). */
export interface PreparedOrderEvent {
  orderId: string;
  event: PreparedEvent;
  /** The outbox's own records (the publication ledger), for the order's transaction. */
  writes: Array<(ex: Executor) => Promise<void>>;
  /** The change-log entry the event publishes (recordPreparedOrderEvent); null = none. */
  seq: number | null;
}

/**
 * One transaction for a new order instead of two. Inside the transaction that inserts `o`, once
 * its rating is known: the 38383 event's created_at and id are fixed (no signature yet), the row
 * goes in with that id, and `recordPreparedOrderEvent` notes the change-log entry the insert made
 * and adds the ledger row. After the commit `publishPreparedOrderEvent` signs and publishes it (the
 * durability barrier then covers the insert); the change-log entry is deleted once a relay
 * accepted the event (as publishOrder). Before, the event was signed between two transactions: the
 * insert, then the id, change log and ledger — and the second rewrote pages the first had just
 * written (docs/PERFORMANCE.md, session 27). A transaction that fails publishes nothing. Null when
 * the outbox cannot prepare events, or the status is not published: the caller inserts the row as
 * it is and calls publishOrder after the commit, as before.
 */
export function prepareOrderEvent(
  ctx: AppContext,
  o: OrderRow,
  rating: { total_rating: number; total_reviews: number; days: number } | null,
): PreparedOrderEvent | null {
  const { outbox } = ctx;
  if (outbox.prepare === undefined || outbox.publishPrepared === undefined) return null;
  const status = orderPublicStatus(o);
  if (status === null) return null;
  const template = buildOrderEvent({
    order: o,
    status,
    rating: o.status === 'pending' ? rating : null,
    settings: ctx.settings,
    nodePubkey: ctx.keys.pubkey,
    network: networkTagValue(ctx.lightning.info?.networks ?? null),
    now: ctx.clock.now(),
  });
  const writes: Array<(ex: Executor) => Promise<void>> = [];
  return { orderId: o.id, event: outbox.prepare(template, { writes }), writes, seq: null };
}

/** In the order's transaction, after its insert: the change-log entry noted, the ledger row added. */
export async function recordPreparedOrderEvent(trx: Executor, o: OrderRow, prepared: PreparedOrderEvent): Promise<void> {
  prepared.seq = await pendingChangeSeq(trx, o.id, o.status);
  for (const write of prepared.writes) await write(trx);
}

/** After the order's transaction committed: sign and publish its prepared event. */
export function publishPreparedOrderEvent(ctx: AppContext, prepared: PreparedOrderEvent): void {
  const onOutcome = prepared.seq === null ? undefined : ctx.orderChangeAcks.publishing(prepared.orderId, prepared.seq);
  ctx.outbox.publishPrepared?.(prepared.event, onOutcome === undefined ? undefined : { onOutcome });
}

/**
 * Publish the dispute's kind-38386 event (solvers learn of a dispute from it). The dispute's row in
 * the change log (db/dispute-changes.ts), when it records this status, is deleted once a relay
 * accepted the event; otherwise it stays and the `book-sync` job publishes the event again — a
 * process that stops before a relay has it, or relays that refuse it through every retry, no longer
 * leave a dispute no solver can see. Relay problems never throw here.
 */
export async function publishDispute(
  ctx: AppContext,
  d: DisputeRow,
  initiator: 'buyer' | 'seller' | 'unknown',
): Promise<'queued' | 'failed'> {
  const template = buildDisputeEvent({
    dispute: d,
    initiator,
    settings: ctx.settings,
    now: ctx.clock.now(),
  });
  const change = await getDisputeChange(ctx.db, d.id);
  const seq = change !== undefined && change.status === d.status ? change.seq : null;
  const onOutcome =
    seq === null
      ? undefined
      : (accepted: boolean) => {
          if (!accepted) return; // the row stays for the job
          void ctx.tasks.track(
            clearDisputeChange(ctx.db, seq).catch((err: unknown) => {
              ctx.logger.error({ err, disputeId: d.id }, 'dispute change log: accepted publication not cleared');
            }),
          );
        };
  try {
    await ctx.outbox.publish(template, onOutcome === undefined ? undefined : { onOutcome });
    return 'queued';
  } catch (err) {
    ctx.logger.error({ err, disputeId: d.id, status: d.status }, 'dispute event could not be queued for publication');
    return 'failed';
  }
}
