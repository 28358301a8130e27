import { casUpdateOrder, getOrder } from '../../db/orders.js';
import type { UserRow } from '../../db/types.js';
import { casUpdateUserRating, getUser, MAX_RATING, MIN_RATING, type RatingPatch } from '../../db/users.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildRatingEvent, daysSince } from '../../nostr/events.js';
import { buildMessage } from '../../protocol/build.js';
import { enqueueEvent } from '../../db/event-queue.js';
import { publishQueuedEvent } from '../../scheduler/jobs/publish-queued-events.js';
import type { Handler } from '../handler.js';

/**
 * mostro-core 0.8.0 `User::update_rating`, exactly (the aggregates are public in 38384 events and
 * order `rating` tags, so the arithmetic is kept — HQ-13a): the review count is incremented; the
 * first review sets total = r / 2 and min = max = r; later ones fold the PREVIOUS last rating into
 * the average: total += (last − total) / n; min/max track extremes; then last = r.
 */
export function applyRating(
  u: Pick<UserRow, 'total_reviews' | 'total_rating' | 'last_rating' | 'max_rating' | 'min_rating'>,
  rating: number,
): RatingPatch {
  const n = u.total_reviews + 1;
  if (n <= 1) {
    return { total_reviews: n, total_rating: rating / 2, last_rating: rating, max_rating: rating, min_rating: rating };
  }
  return {
    total_reviews: n,
    total_rating: u.total_rating + (u.last_rating - u.total_rating) / n,
    last_rating: rating,
    max_rating: Math.max(u.max_rating, rating),
    min_rating: Math.min(u.min_rating, rating),
  };
}

/**
 * `rate-user` (HANDLERS.md §4.13, PROTOCOL.md §5.9, §9.6): a party rates the other side.
 *
 * Kept from 0.17.1: allowed statuses (success; settled-hold-invoice for the seller only) →
 * invalid_order_status; a stranger on a success order, a second rating by the same side, and a
 * full-privacy counterpart (never stored in users) are silent; the 38384 `d` tag is the rater's
 * trade key (HQ-13b); the rating arithmetic (HQ-13a).
 * Changed: unknown order id → cant-do not_found (#752); a rating outside 1..5 → cant-do
 * invalid_rating (0.17.1 was silent, HQ-13c); the rater's flag and the rated user's aggregates are
 * written in ONE transaction, each by compare-and-set (upstream #865: no double apply, no lost
 * update between two concurrent ratings of the same user); the 38384 event is queued in the DB in
 * that same transaction and published at once, instead of in an in-memory hourly batch that was
 * lost on restart (HQ-13f / Q26); the rating-queue job publishes whatever a stop left queued.
 */
export const rateUser: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('rate-user without an order id');
  const requestId = msg.kind.request_id;

  const o = await getOrder(ctx.db, orderId);
  if (o === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  const buyer = o.buyer_pubkey;
  const seller = o.seller_pubkey;
  if (buyer === null || seller === null) throw new SilentError(`order ${o.id} lacks a buyer or seller key`);
  const sender = inbound.tradeKey;
  const role = sender === buyer ? 'buyer' : sender === seller ? 'seller' : null;

  const allowed = o.status === 'success' || (o.status === 'settled-hold-invoice' && role === 'seller');
  if (!allowed) throw new CantDoError('invalid_order_status', `order ${o.id} is ${o.status}`);
  if (role === null) throw new SilentError(`${sender} is not a party of order ${o.id}`);
  const flag = role === 'buyer' ? 'buyer_sent_rate' : 'seller_sent_rate';
  if (o[flag] !== 0) throw new SilentError(`the ${role} already rated order ${o.id}`);

  const payload = msg.kind.payload;
  if (payload === null || !('rating_user' in payload)) throw new CantDoError('invalid_rating');
  const rating = payload.rating_user;
  if (!Number.isInteger(rating) || rating < MIN_RATING || rating > MAX_RATING) {
    throw new CantDoError('invalid_rating', `rating ${rating} outside ${MIN_RATING}..${MAX_RATING}`);
  }

  // The rated party: the seller when the buyer rates, and vice versa.
  const ratedTrade = role === 'buyer' ? seller : buyer;
  const ratedMaster = role === 'buyer' ? o.master_seller_pubkey : o.master_buyer_pubkey;
  if (ratedMaster === null || ratedMaster === ratedTrade) {
    throw new SilentError(`the rated party of order ${o.id} trades in full privacy; rating ignored`);
  }

  const now = ctx.clock.now();
  const queuedId = await ctx.db.transaction().execute(async (trx) => {
    const claimed = await casUpdateOrder(
      trx,
      o.id,
      {
        status: role === 'seller' ? ['success', 'settled-hold-invoice'] : 'success',
        [flag]: 0,
        [role === 'buyer' ? 'buyer_pubkey' : 'seller_pubkey']: sender,
      },
      { [flag]: 1 },
    );
    if (!claimed) throw new SilentError(`order ${o.id} was rated (or changed) concurrently`);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const user = await getUser(trx, ratedMaster);
      if (user === undefined) throw new SilentError(`rated user ${ratedMaster} not found`);
      const patch = applyRating(user, rating);
      if (await casUpdateUserRating(trx, ratedMaster, { total_reviews: user.total_reviews }, patch)) {
        const event = buildRatingEvent({
          d: sender,
          total_reviews: patch.total_reviews,
          total_rating: patch.total_rating,
          last_rating: patch.last_rating,
          max_rate: patch.max_rating,
          min_rate: patch.min_rating,
          days: daysSince(user.created_at, now),
          settings: ctx.settings,
          now,
        });
        // Queued durably with the rating itself (fix of Q26); published right below, and by the
        // rating-queue job if this process stops first.
        return enqueueEvent(trx, { ...event, created_at: event.created_at ?? now }, now);
      }
    }
    throw new Error(`rating of ${ratedMaster} kept losing its compare-and-set`);
  });

  await publishQueuedEvent(ctx, queuedId);
  ctx.outbox.sendMessage(
    sender,
    buildMessage({ action: 'rate-received', id: o.id, requestId, payload: { rating_user: rating } }),
  );
};
