import { publishOrder } from '../../app/flows/publish.js';
import type { AppContext } from '../../context.js';
import { casUpdateOrder, findExpiredPendingIds, getOrder } from '../../db/orders.js';
import { withdrawBannedPending } from '../../ops/ban-user.js';

/** Orders read per batch (one index range each; a backlog is worked through batch by batch). */
export const EXPIRE_BATCH = 200;

/**
 * Job (every 60 s, DAEMON.md §4.1, PROTOCOL.md §6.6): pending orders whose `expires_at` is in the
 * past become `expired` and their 38383 event is republished (`s=canceled`). No message to the
 * maker, no Lightning (a pending order holds no invoice).
 *
 * Each order is handled under its lock with a compare-and-set from `pending` (a take or a cancel
 * that wins the race keeps the order); 0.17.1 published first and then rewrote the whole row,
 * which could overwrite a concurrent take. One order's failure is logged and the others go on.
 * Orders are read in batches of EXPIRE_BATCH ids, earliest expiry first.
 *
 * Then (this port) the banned keys are read from the database again (a ban or unban written behind
 * the daemon's back takes effect within a minute; app/bans.ts) and the pending orders of banned
 * keys are withdrawn (ops/ban-user.ts withdrawBannedPending): one that came back to pending after
 * its maker was banned and was not withdrawn at once, or one of a key banned in the database.
 */
export async function expirePendingOrders(ctx: AppContext): Promise<void> {
  await expireOrders(ctx);
  // This port: pending orders of banned keys leave the book too (ops/ban-user.ts).
  const { added, removed } = await ctx.bans.refresh(ctx.db);
  if (added.length > 0 || removed.length > 0) {
    ctx.logger.info({ banned: added, unbanned: removed, total: ctx.bans.size }, 'banned identities changed in the database');
  }
  if (ctx.bans.size > 0) await withdrawBannedPending(ctx);
}

async function expireOrders(ctx: AppContext): Promise<void> {
  const now = ctx.clock.now();
  for (;;) {
    const batch = await findExpiredPendingIds(ctx.db, now, EXPIRE_BATCH);
    let progressed = false;
    for (const id of batch) {
      try {
        await ctx.locks.run(`order:${id}`, async () => {
          const o = await getOrder(ctx.db, id);
          if (o === undefined || o.status !== 'pending' || o.expires_at >= now) {
            progressed = true; // changed meanwhile: no longer listed
            return;
          }
          const won = await casUpdateOrder(ctx.db, o.id, { status: 'pending', expires_at: o.expires_at }, { status: 'expired' });
          if (!won) return;
          progressed = true;
          ctx.logger.info({ orderId: o.id, createdAt: o.created_at, expiresAt: o.expires_at }, `Order id ${o.id} - created at ${o.created_at} is expired`);
          await publishOrder(ctx, { ...o, status: 'expired' });
        });
      } catch (err) {
        ctx.logger.error({ err, orderId: id }, 'expiring a pending order failed');
      }
    }
    // A short batch was the last one; a batch in which nothing could be expired is left for the
    // next run (so a persistent failure cannot spin here).
    if (batch.length < EXPIRE_BATCH || !progressed) return;
  }
}
