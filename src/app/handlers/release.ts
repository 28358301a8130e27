import { casUpdateOrder, getOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import type { Status } from '../../protocol/types.js';
import type { Handler } from '../handler.js';
import { closeDispute } from '../flows/dispute-close.js';
import { settleEscrow } from '../flows/escrow.js';
import { requireLightning } from '../flows/lightning-guard.js';
import { markReleased, startPayout } from '../flows/payout.js';
import { normalizeNextTrade, type NextTrade } from '../flows/range-child.js';
import { recordRangeRelease } from '../../db/range-releases.js';

const RELEASABLE: readonly Status[] = ['fiat-sent', 'dispute'];

/**
 * `release` — the seller releases the escrow (HANDLERS.md §4.6, PROTOCOL.md §5.6, §9.1 rows 16–21,
 * §9.3 rows 16–20).
 *
 * Checks in the spec's order (unknown id → cant-do not_found, upstream #752), then the Lightning
 * guard. Money path (fixes HQ-6, HQ-7, #873):
 *  1. CLAIM: compare-and-set fiat-sent|dispute → settled-hold-invoice (persisted); for a range order
 *     the release record (`mostrod_ts_range_releases`, with a sell maker's `next_trade`) in the same
 *     transaction. A racing cancel or admin decision loses here, so there is exactly one outcome,
 *     and the seller's release is recorded before LND settles;
 *  2. settle the hold invoice; if LND refuses, the claim is reverted and the seller gets cant-do
 *     not_allowed_by_status (the release record stays, for a settle LND applied after all). A crash
 *     between 1 and 2 is finished by reconcilePayouts (the claim is the recorded decision);
 *  3. dispute (if open) → settled + 38386; the payout-started mark (markReleased) with, in its
 *     transaction, the range child (created only now that the escrow is settled — no orphan child
 *     order or event; a child that cannot be created never blocks the payout) and the notices:
 *     `released` → buyer; child `new-order` → maker's new key; `hold-invoice-payment-settled` and
 *     `rate` → seller; then the child's 38383;
 *  4. the buyer payout starts in the background (startPayout) — the handler does not wait for it.
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

  // 1. Claim: compare-and-set, and for a range order the release record (the seller's next_trade
  // for a sell maker) in the same transaction — the child is due once the escrow is settled.
  const previous = o.status;
  const isRange = o.min_amount !== null && o.max_amount !== null;
  const claimed = await ctx.db.transaction().execute(async (trx) => {
    const won = await casUpdateOrder(
      trx,
      o.id,
      { status: previous, hash: o.hash, preimage: o.preimage, seller_pubkey: seller },
      { status: 'settled-hold-invoice' },
    );
    if (won && isRange) await recordRangeRelease(trx, o.id, normalizeNextTrade(nextTrade), ctx.clock.now());
    return won;
  });
  if (!claimed) throw new CantDoError('not_allowed_by_status', `order ${o.id} changed before release`);

  // 2. Settle; on failure undo the claim and answer. The release record stays: if LND settled after
  // all, the SETTLED update finishes this release (child included).
  try {
    await settleEscrow(ctx, o);
  } catch (err) {
    const reverted = await casUpdateOrder(
      ctx.db,
      o.id,
      { status: 'settled-hold-invoice', payout_payment_hash: null },
      { status: previous },
    );
    ctx.logger.error({ err, orderId: o.id, reverted }, 'release: hold invoice settle failed; claim reverted');
    if (err instanceof CantDoError) throw err;
    throw new CantDoError('not_allowed_by_status', `hold invoice settle failed: ${(err as Error).message}`);
  }
  const settled: OrderRow = { ...o, status: 'settled-hold-invoice' };

  // 3. Notifications, stored in the transaction of the durable payout-started mark, with the range
  // child (flows/notices.ts, markReleased): a crash before it leaves the order to reconcilePayouts,
  // which writes it once; after it, the durable outbox delivers them (again after a restart, as
  // the same events).
  await closeDispute(ctx, settled, 'settled');
  await markReleased(ctx, settled, requestId);

  // 4. Payout, off the request path.
  startPayout(ctx, o.id, requestId);
};
