/**
 * Takers who walk away ([mostro] max_abandoned_takes, abandoned_takes_window_hours). A take locks
 * the maker's order for up to `expiration_seconds` while the node waits for the taker's invoice or
 * payment; a key that takes and never follows through keeps orders out of the book (upstream #706).
 * With the limit on, each take abandoned by its taker — a cancel by the taker, or the
 * waiting-timeouts job finding the taker late — is recorded against the taker's identity (the
 * order went back to pending), and a take-sell / take-buy from an identity with
 * `max_abandoned_takes` such takes in the last `abandoned_takes_window_hours` is refused with
 * cant-do `too_many_requests` (a reason every client knows) until the oldest leaves the window.
 *
 * The record is written after the order's own transition, on its own: losing it to a crash only
 * forgives one abandoned take. Off (0) by default, as mostrod: then nothing is written or read.
 */
import type { AppContext } from '../../context.js';
import { countAbandonedTakes, insertAbandonedTake, pruneAbandonedTakes } from '../../db/abandoned-takes.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError } from '../../errors.js';

const HOUR = 3600;

function windowStart(ctx: AppContext): number {
  return ctx.clock.now() - ctx.settings.mostro.abandoned_takes_window_hours * HOUR;
}

/** Record that the taker on `takerSide` of `o` (the row before the taker was removed) abandoned it. */
export async function recordAbandonedTake(ctx: AppContext, o: OrderRow, takerSide: 'buyer' | 'seller'): Promise<void> {
  if (ctx.settings.mostro.max_abandoned_takes === 0) return;
  const identity = takerSide === 'buyer' ? o.master_buyer_pubkey : o.master_seller_pubkey;
  if (identity === null) return;
  try {
    await insertAbandonedTake(ctx.db, { identity, order_id: o.id, at: ctx.clock.now() });
  } catch (err) {
    ctx.logger.error({ err, orderId: o.id, identity }, 'abandoned take not recorded');
  }
}

/** Refuse a take from `identity` when it abandoned `max_abandoned_takes` takes within the window. */
export async function checkAbandonedTakes(ctx: AppContext, identity: string): Promise<void> {
  const max = ctx.settings.mostro.max_abandoned_takes;
  if (max === 0) return;
  const n = await countAbandonedTakes(ctx.db, identity, windowStart(ctx));
  if (n >= max) {
    throw new CantDoError(
      'too_many_requests',
      `${n} abandoned takes in the last ${ctx.settings.mostro.abandoned_takes_window_hours} h (max_abandoned_takes = ${max})`,
    );
  }
}

/** Forget the records older than the window (the waiting-timeouts job). */
export async function forgetOldAbandonedTakes(ctx: AppContext): Promise<void> {
  if (ctx.settings.mostro.max_abandoned_takes === 0) return;
  await pruneAbandonedTakes(ctx.db, windowStart(ctx));
}
