import { casUpdateOrder, getOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { uuidToBlob } from '../../db/uuid-blob.js';
import { CantDoError, SilentError } from '../../errors.js';
import type { Status } from '../../protocol/types.js';
import type { Handler } from '../handler.js';
import { closeDispute } from '../flows/dispute-close.js';
import { settleEscrow } from '../flows/escrow.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { markPayoutStarted, releaseNotices, startPayout } from '../flows/payout.js';
import { publishOrder } from '../flows/publish.js';
import { commitWithRangeChild, planRangeChild, rangeChildNotice, sellerNextTradePatch, type NextTrade } from '../flows/range-child.js';

const RELEASABLE: readonly Status[] = ['fiat-sent', 'dispute'];

/**
 * `release` — the seller releases the escrow (HANDLERS.md §4.6, PROTOCOL.md §5.6, §9.1 rows 16–21,
 * §9.3 rows 16–20).
 *
 * Checks in the spec's order (unknown id → cant-do not_found, upstream #752), then the Lightning
 * guard. Money path (fixes HQ-6, HQ-7, #873):
 *  1. the range child, if one is due, is planned and validated BEFORE anything moves; a child that
 *     cannot be assigned is skipped (logged) and never blocks the payout;
 *  2. CLAIM: compare-and-set fiat-sent|dispute → settled-hold-invoice (persisted), with the child
 *     row INSERTed in the same transaction. A racing cancel or admin decision loses here, so there
 *     is exactly one outcome, and the seller's release is recorded before LND settles. If the child
 *     insert fails, the claim is redone without it (the child is dropped, the release stands);
 *  3. settle the hold invoice; if LND refuses, the claim is reverted (child row deleted) and the
 *     seller gets cant-do not_allowed_by_status. A crash between 2 and 3 is finished by
 *     reconcilePayouts (the claim is the recorded decision);
 *  4. (the child's 38383 is published only after the settle, so no orphan child event exists);
 *  5. dispute (if open) → settled + 38386; `released` → buyer; child `new-order` → maker's new key
 *     and its 38383; `hold-invoice-payment-settled` and `rate` → seller;
 *  6. the buyer payout starts in the background (startPayout) — the handler does not wait for it.
 */
export const release: Handler = async (ctx, msg, inbound) => {
  const orderId = msg.kind.id;
  if (orderId === undefined) throw new SilentError('release without an order id');
  const requestId = msg.kind.request_id;

  const o = await getOrder(ctx.db, orderId);
  if (o === undefined) throw new CantDoError('not_found', `order ${orderId} not found`);
  const seller = o.seller_pubkey;
  const buyer = o.buyer_pubkey;
  if (seller === null || buyer === null) throw new SilentError(`order ${o.id} lacks a buyer or seller key`);
  if (inbound.tradeKey !== seller) throw new CantDoError('invalid_peer');
  if (!RELEASABLE.includes(o.status)) throw new CantDoError('not_allowed_by_status', `order ${o.id} is ${o.status}`);
  const payload = msg.kind.payload;
  let nextTrade: NextTrade | null = null;
  if (payload !== null) {
    if (!('next_trade' in payload)) throw new SilentError('release with an unexpected payload');
    nextTrade = { pubkey: payload.next_trade[0], index: payload.next_trade[1] };
  }
  if (o.preimage === null || o.hash === null) throw new CantDoError('invalid_invoice', `order ${o.id} has no escrow`);
  requireLightning(ctx);

  // 1. Range child: decided before the escrow moves.
  const plan = planRangeChild(o, nextTrade, { now: ctx.clock.now(), expirationHours: ctx.settings.mostro.expiration_hours });
  if (plan.child === null && o.min_amount !== null && o.max_amount !== null) {
    ctx.logger.info({ orderId: o.id, reason: plan.reason }, 'release: no range child order');
  }

  // 2. Claim (and the child row, in the same transaction). A sell maker's next_trade is recorded on
  // the order with the claim, so a release finished later from LND's SETTLED update (after this
  // claim is reverted below) can still create the child.
  const previous = o.status;
  const { won: claimed, child } = await commitWithRangeChild(ctx, o.id, plan.child, (trx) =>
    casUpdateOrder(
      trx,
      o.id,
      { status: previous, hash: o.hash, preimage: o.preimage, seller_pubkey: seller },
      { status: 'settled-hold-invoice', ...sellerNextTradePatch(o, nextTrade) },
    ),
  );
  if (!claimed) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before release`);

  // 3. Settle; on failure undo the claim (and the child) and answer.
  try {
    await settleEscrow(ctx, o);
  } catch (err) {
    const childId = child?.id ?? null;
    const reverted = await ctx.db.transaction().execute(async (trx) => {
      const back = await casUpdateOrder(
        trx,
        o.id,
        { status: 'settled-hold-invoice', payout_payment_hash: null },
        { status: previous },
      );
      if (back && childId !== null) {
        await trx.deleteFrom('orders').where('id', '=', uuidToBlob(childId)).where('status', '=', 'pending').execute();
      }
      return back;
    });
    ctx.logger.error({ err, orderId: o.id, reverted }, 'release: hold invoice settle failed; claim reverted');
    if (err instanceof CantDoError) throw err;
    throw new CantDoError('not_allowed_by_status', `hold invoice settle failed: ${(err as Error).message}`);
  }
  const settled: OrderRow = { ...o, status: 'settled-hold-invoice' };
  if (child !== null) ctx.logger.info({ orderId: o.id, childId: child.id }, 'release: range child order created');

  // 5. Notifications, stored in the transaction of the durable "notices sent" mark (flows/notices.ts):
  // a crash before it leaves the order to reconcilePayouts, which sends them once; after it, the
  // durable outbox delivers them (again after a restart, as the same events).
  await closeDispute(ctx, settled, 'settled');
  const childNotice = child === null ? null : await rangeChildNotice(ctx, o, child, requestId);
  await markPayoutStarted(ctx, o.id, releaseNotices(o, requestId, childNotice));
  if (childNotice !== null && child !== null) await publishOrder(ctx, child);

  // 6. Payout, off the request path.
  startPayout(ctx, o.id, requestId);
};
