import type { AppContext } from '../../context.js';
import { getUser, type UserReputation } from '../../db/users.js';
import type { Executor } from '../../db/schema.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { UserInfo } from '../../protocol/types.js';

const DAY = 86_400;

/**
 * A user's public reputation (PROTOCOL.md §4.5): rating = total_rating, reviews = total_reviews,
 * operating_days = whole days since the users row was created. Unknown users (and full-privacy
 * keys, which never get a row) → all zeros.
 */
export async function userInfo(ctx: AppContext, identity: string): Promise<UserInfo> {
  const user = await getUser(ctx.db, identity);
  if (user === undefined) return { rating: 0, reviews: 0n, operating_days: 0n };
  const days = Math.max(0, Math.floor((ctx.clock.now() - user.created_at) / DAY));
  return { rating: user.total_rating, reviews: BigInt(user.total_reviews), operating_days: BigInt(days) };
}

/** Reputation numbers for the 38383 `rating` tag (same source as userInfo). */
export async function makerRating(
  ctx: AppContext,
  o: OrderRow,
): Promise<{ total_rating: number; total_reviews: number; days: number }> {
  return makerRatingIn(ctx.db, o, ctx.clock.now());
}

/** makerRating read through `ex` (the database, or an open transaction). */
export async function makerRatingIn(
  ex: Executor,
  o: OrderRow,
  now: number,
): Promise<{ total_rating: number; total_reviews: number; days: number }> {
  const identity = o.kind === 'sell' ? o.master_seller_pubkey : o.master_buyer_pubkey;
  // Full privacy (identity == trade key) or no identity: zeros, as mostrod.
  if (identity === null || identity === o.creator_pubkey) return { total_rating: 0, total_reviews: 0, days: 0 };
  const user = await getUser(ex, identity);
  return user === undefined ? { total_rating: 0, total_reviews: 0, days: 0 } : makerRatingOf(user, now);
}

/** makerRating from a users row already at hand (same numbers as userInfo). */
export function makerRatingOf(user: UserReputation, now: number): { total_rating: number; total_reviews: number; days: number } {
  return { total_rating: user.total_rating, total_reviews: user.total_reviews, days: Math.max(0, Math.floor((now - user.created_at) / DAY)) };
}

/**
 * Who opened the dispute of `o`, from the per-side flags. Both or neither set (possible only through
 * inherited flags, HQ-8/HQ-22) → 'unknown'.
 */
export function initiatorOf(o: Pick<OrderRow, 'buyer_dispute' | 'seller_dispute'>): 'buyer' | 'seller' | 'unknown' {
  const buyer = o.buyer_dispute !== 0;
  const seller = o.seller_dispute !== 0;
  if (buyer && !seller) return 'buyer';
  if (seller && !buyer) return 'seller';
  return 'unknown';
}

/**
 * `notify_taker_reputation` (HANDLERS.md §3.8): tell the maker who took the order. `status` is the
 * status the decision is made on (mostrod uses the stored one).
 *  - sell order in waiting-buyer-invoice → `pay-invoice` {peer:{pubkey:"", reputation}} to the seller;
 *  - buy order in waiting-payment → `add-invoice` {peer} to the buyer;
 *  - buy order in waiting-buyer-invoice → nothing;
 *  - anything else → CantDo(not_allowed_by_status).
 * request_id and trade_index are null.
 */
export async function notifyTakerReputation(ctx: AppContext, o: OrderRow, status = o.status): Promise<void> {
  if (o.kind === 'buy' && status === 'waiting-buyer-invoice') return;
  let action: 'pay-invoice' | 'add-invoice';
  let recipient: string | null;
  let taker: string | null;
  if (o.kind === 'sell' && status === 'waiting-buyer-invoice') {
    action = 'pay-invoice';
    recipient = o.seller_pubkey;
    taker = o.master_buyer_pubkey;
  } else if (o.kind === 'buy' && status === 'waiting-payment') {
    action = 'add-invoice';
    recipient = o.buyer_pubkey;
    taker = o.master_seller_pubkey;
  } else {
    throw new CantDoError('not_allowed_by_status');
  }
  if (taker === null) throw new CantDoError('invalid_pubkey', 'taker identity missing');
  if (recipient === null) throw new CantDoError('invalid_pubkey', 'maker trade key missing');
  const reputation = await userInfo(ctx, taker);
  ctx.outbox.sendMessage(
    recipient,
    buildMessage({
      action,
      id: o.id,
      requestId: null,
      tradeIndex: null,
      payload: { peer: { pubkey: '', reputation } },
    }),
  );
}
