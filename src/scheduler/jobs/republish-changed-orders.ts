import { publishDispute, publishOrder } from '../../app/flows/publish.js';
import { initiatorOf } from '../../app/flows/reputation.js';
import { clearDisputeChange, getDisputeChange, lastDisputeChangeSeq, listDisputeChanges } from '../../db/dispute-changes.js';
import { getDispute } from '../../db/disputes.js';
import type { AppContext } from '../../context.js';
import { clearOrderChange, getOrderChange, lastOrderChangeSeq, listOrderChanges } from '../../db/order-changes.js';
import { getOrder } from '../../db/orders.js';

/** Per-process state of the order-book republish job (create one with newBookSyncState()). */
export interface BookSyncState {
  /** Highest change number seen by the previous pass; only changes up to it are handled. */
  watermark: number;
  /** The same for the dispute change log. */
  disputeWatermark: number;
}

export function newBookSyncState(): BookSyncState {
  return { watermark: 0, disputeWatermark: 0 };
}

export interface BookSyncSummary {
  /** kind-38383 events published again. */
  republished: number;
  /** Changes to a status that is not public (nothing to publish), or of deleted orders. */
  cleared: number;
  /**
   * Changes handled meanwhile by their own path (or replaced by a newer change), or whose event is
   * still on its way to the relays.
   */
  skipped: number;
}

/** At most this many orders per pass (the next pass continues). */
export const BOOK_SYNC_BATCH = 500;

/**
 * Job (every 60 s): republish the kind-38383 event of every order whose public event is not on any
 * relay — a publication that failed to be signed/queued, one every relay refused through all the
 * outbox's retries, or a process that stopped between the state change and a relay's OK. The order
 * change log (db/order-changes.ts) holds exactly those orders (a row goes once a relay accepted its
 * event), so a pass costs what changed since the last publication, never the whole book (mostrod
 * 0.18.3 re-sent the whole pending book hourly; 0.18.5 removed that for the traffic and the reset
 * `created_at` it caused).
 *
 * A change is handled only once a whole pass has gone by since it was written (the watermark), so
 * the path that made it has had time to publish it itself; the first pass after a start only
 * records the watermark. Each order is handled under its lock, only if its change row is still the
 * listed one, and not while a publication of that change is under way (the outbox retries it; once
 * it gives up, the next pass publishes again) or accepted with its row's delete not written yet.
 * `republished` counts events queued; their rows go when a relay accepts them.
 */
export async function republishChangedOrders(ctx: AppContext, state: BookSyncState): Promise<BookSyncSummary> {
  const summary: BookSyncSummary = { republished: 0, cleared: 0, skipped: 0 };
  const upTo = state.watermark;
  state.watermark = await lastOrderChangeSeq(ctx.db);
  if (upTo === 0) return summary;
  const changes = await listOrderChanges(ctx.db, upTo, BOOK_SYNC_BATCH);
  for (const listed of changes) {
    try {
      await ctx.locks.run(`order:${listed.order_id}`, async () => {
        const current = await getOrderChange(ctx.db, listed.order_id);
        if (current === undefined || current.seq !== listed.seq || ctx.orderChangeAcks.pending(listed.order_id, listed.seq)) {
          summary.skipped += 1;
          return;
        }
        const o = await getOrder(ctx.db, listed.order_id);
        if (o === undefined) {
          // A trigger deletes the change of a deleted order; only an edit without triggers gets here.
          await clearOrderChange(ctx.db, listed.order_id, current.status);
          summary.cleared += 1;
          return;
        }
        // The order's public view now, for this change (its row goes when a relay accepts the event):
        // a trade under way whose take's event never reached a relay publishes `in-progress`
        // (publicViewFor); a status edited with triggers off publishes the current one.
        const published = await publishOrder(ctx, o, { change: current });
        if (published === 'failed') return; // not queued: next pass
        if (published === 'not-public') summary.cleared += 1;
        else summary.republished += 1;
      });
    } catch (err) {
      ctx.logger.error({ err, orderId: listed.order_id }, 'republishing a changed order failed');
    }
  }
  if (summary.republished > 0 || summary.cleared > 0) {
    ctx.logger.info(summary, 'order book: lagging order events republished');
  }
  return summary;
}

/**
 * The same job's second half: publish again the kind-38386 event of every dispute whose event is not
 * on any relay (db/dispute-changes.ts), with the current status and the initiator from its order's
 * flags. Same watermark rule as the orders (a change is handled once a whole pass has gone by), under
 * the order's lock. Unlike orders, a publication still waiting for the relays is not tracked: at
 * worst, a dispute whose event the outbox is still retrying after a whole pass is published twice (an
 * addressable event: the later one replaces the earlier). Returns how many were published again.
 */
export async function republishChangedDisputes(ctx: AppContext, state: BookSyncState): Promise<number> {
  const upTo = state.disputeWatermark;
  state.disputeWatermark = await lastDisputeChangeSeq(ctx.db);
  if (upTo === 0) return 0;
  let republished = 0;
  for (const listed of await listDisputeChanges(ctx.db, upTo, BOOK_SYNC_BATCH)) {
    try {
      const d = await getDispute(ctx.db, listed.dispute_id);
      if (d === undefined) {
        await clearDisputeChange(ctx.db, listed.seq);
        continue;
      }
      await ctx.locks.run(`order:${d.order_id}`, async () => {
        const current = await getDisputeChange(ctx.db, d.id);
        if (current?.seq !== listed.seq) return; // published meanwhile, or replaced by a newer change
        const now = await getDispute(ctx.db, d.id);
        const o = await getOrder(ctx.db, d.order_id);
        if (now === undefined) return;
        if (now.status !== current.status) {
          // Edited without the triggers: publish the current status; this row is done with it.
          await clearDisputeChange(ctx.db, current.seq);
        }
        if ((await publishDispute(ctx, now, o === undefined ? 'unknown' : initiatorOf(o))) === 'queued') republished += 1;
      });
    } catch (err) {
      ctx.logger.error({ err, disputeId: listed.dispute_id }, 'republishing a changed dispute failed');
    }
  }
  if (republished > 0) ctx.logger.info({ republished }, 'disputes: lagging dispute events republished');
  return republished;
}
