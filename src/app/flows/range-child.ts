import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { findOrders, insertOrder, newOrderRow } from '../../db/orders.js';
import { getRangeRelease } from '../../db/range-releases.js';
import type { OrderRow } from '../../db/types.js';
import { getUser, setLastTradeIndex } from '../../db/users.js';
import { buildMessage } from '../../protocol/build.js';
import { parsePubkeyText } from '../../protocol/pubkey.js';
import type { Notice } from './notices.js';
import { toSmallOrder } from './order-view.js';
import { makerIdentity } from './withdraw.js';

/** The maker's next trade key and index (`next_trade` payload). */
export interface NextTrade {
  pubkey: string;
  index: number;
}

/** A child is due and valid (`child`), or not (`child: null` with the reason, for logs). */
export type RangeChildPlan = { child: OrderRow; reason?: undefined } | { child: null; reason: string };

/**
 * The remainder of a traded range order (HANDLERS.md §3.3, §4.6 step 9; PROTOCOL.md §6.4), computed
 * WITHOUT side effects so release can validate it before settling (fix of HQ-7):
 *  - `new_max = max_amount − fiat_amount`; `> min` → range child [min, new_max] with fiat_amount 0;
 *    `== min` → fixed child with fiat_amount = new_max and no bounds; `< min` → no child.
 *  - maker side: sell orders (seller is the maker) take the new trade key/index from `nextTrade`
 *    (the release's `next_trade` payload); buy orders (buyer is the maker) from the
 *    `next_trade_pubkey/index` the buyer stored at fiat-sent. The master key stays the maker's
 *    identity, except in full privacy (master == old trade key) where it becomes the new trade key.
 *
 * Fix of HQ-8 — the child inherits only what describes the offer: kind, fiat code, payment method,
 * premium, price_from_api, the maker's identity and the expiry; it starts with fresh fees (computed
 * at take time), dev-fee fields, dispute / cooperative-cancel / rating flags, payment counters and
 * next-trade fields (a counterparty-set next_trade never leaks into the child, upstream #891).
 * `created_at` = now; `expires_at` = the parent's if still in the future, else now + expiration_hours.
 */
export function planRangeChild(
  parent: OrderRow,
  nextTrade: NextTrade | null,
  opts: { now: number; expirationHours: number },
): RangeChildPlan {
  const { min_amount: min, max_amount: max } = parent;
  if (min === null || max === null) return { child: null, reason: 'not a range order' };
  const newMax = max - parent.fiat_amount;
  if (newMax < min) return { child: null, reason: `remainder ${newMax} below the minimum ${min}` };
  const range = newMax > min;

  let side: 'buyer' | 'seller';
  let next: NextTrade | null;
  if (parent.kind === 'sell' && parent.creator_pubkey !== null && parent.creator_pubkey === parent.seller_pubkey) {
    side = 'seller';
    next = nextTrade;
  } else if (parent.kind === 'buy' && parent.creator_pubkey !== null && parent.creator_pubkey === parent.buyer_pubkey) {
    side = 'buyer';
    next = storedNextTrade(parent);
  } else {
    return { child: null, reason: 'the maker is neither the seller of a sell order nor the buyer of a buy order' };
  }
  if (next === null) return { child: null, reason: `the ${side} (maker) supplied no next_trade key` };
  // Hex or npub, as 0.17.1 (nostr's PublicKey::from_str) accepts.
  const pubkey = parsePubkeyText(next.pubkey);
  if (pubkey === null) return { child: null, reason: 'next_trade pubkey is neither 64 hex characters nor an npub' };
  if (!Number.isSafeInteger(next.index) || next.index < 0) return { child: null, reason: 'next_trade index is invalid' };

  const oldTrade = side === 'seller' ? parent.seller_pubkey : parent.buyer_pubkey;
  const oldMaster = side === 'seller' ? parent.master_seller_pubkey : parent.master_buyer_pubkey;
  const master = oldMaster === null || oldMaster === oldTrade ? pubkey : oldMaster;
  const expiresAt = parent.expires_at > opts.now ? parent.expires_at : opts.now + opts.expirationHours * 3600;

  const child = newOrderRow({
    id: randomUUID(),
    kind: parent.kind,
    status: 'pending',
    premium: parent.premium,
    payment_method: parent.payment_method,
    amount: 0,
    fiat_code: parent.fiat_code,
    fiat_amount: range ? 0 : newMax,
    min_amount: range ? min : null,
    max_amount: range ? newMax : null,
    price_from_api: parent.price_from_api,
    created_at: opts.now,
    expires_at: expiresAt,
    creator_pubkey: pubkey,
    range_parent_id: parent.id,
    ...(side === 'seller'
      ? { seller_pubkey: pubkey, master_seller_pubkey: master, trade_index_seller: next.index }
      : { buyer_pubkey: pubkey, master_buyer_pubkey: master, trade_index_buyer: next.index }),
  });
  return { child };
}

/** A buy maker's `next_trade` as fiat-sent recorded it on the order. */
export function storedNextTrade(parent: Pick<OrderRow, 'next_trade_pubkey' | 'next_trade_index'>): NextTrade | null {
  return parent.next_trade_pubkey !== null && parent.next_trade_index !== null
    ? { pubkey: parent.next_trade_pubkey, index: parent.next_trade_index }
    : null;
}

/** A `next_trade` as it is recorded: a hex key (an npub decoded) and a valid index, else null. */
export function normalizeNextTrade(nextTrade: NextTrade | null): NextTrade | null {
  if (nextTrade === null) return null;
  const pubkey = parsePubkeyText(nextTrade.pubkey);
  if (pubkey === null || !Number.isSafeInteger(nextTrade.index) || nextTrade.index < 0) return null;
  return { pubkey, index: nextTrade.index };
}

/**
 * What a release's payout-started mark does about the range child:
 *  - `create`: the child to INSERT with the mark — the order is a range order the seller released
 *    (a `mostrod_ts_range_releases` row, written by the release's claim) and its remainder is due
 *    (planRangeChild, the sell maker's key from the row, a buy maker's from fiat-sent);
 *  - `announce`: the child to tell the maker about (`new-order`, rangeChildNotice) — the one created,
 *    or a child that already exists (inserted with the claim by an earlier version of the daemon,
 *    never announced since the mark, which carries the announcement, was never written).
 * Nothing for an order without a release row (admin-settle creates no child, as upstream), nor
 * for a banned maker's (this port: a ban withdraws the maker's pending orders, app/bans.ts).
 */
export async function dueRangeChild(ctx: AppContext, parent: OrderRow): Promise<{ create: OrderRow | null; announce: OrderRow | null }> {
  if (parent.min_amount === null || parent.max_amount === null) return { create: null, announce: null };
  const existing = await findRangeChild(ctx, parent);
  if (existing !== null) return { create: null, announce: existing };
  const release = await getRangeRelease(ctx.db, parent.id);
  if (release === undefined) return { create: null, announce: null };
  const maker = makerIdentity(parent);
  if (maker !== null && ctx.bans.has(maker)) {
    // This port: a banned maker's range order is not continued (app/bans.ts).
    ctx.logger.info({ orderId: parent.id, pubkey: maker }, 'no range child order: the maker is banned');
    return { create: null, announce: null };
  }
  const plan = planRangeChild(parent, release.nextTrade, {
    now: ctx.clock.now(),
    expirationHours: ctx.settings.mostro.expiration_hours,
  });
  if (plan.child === null) {
    ctx.logger.info({ orderId: parent.id, reason: plan.reason }, 'no range child order');
    return { create: null, announce: null };
  }
  return { create: plan.child, announce: plan.child };
}

/**
 * INSERT the child and advance the maker's last_trade_index to the child's index when it is
 * higher (0.17.1 never did, HQ-4).
 */
export async function insertChild(trx: Executor, child: OrderRow): Promise<void> {
  await insertOrder(trx, child);
  const master = child.kind === 'sell' ? child.master_seller_pubkey : child.master_buyer_pubkey;
  const index = child.kind === 'sell' ? child.trade_index_seller : child.trade_index_buyer;
  if (master !== null && master !== child.creator_pubkey && index !== null) {
    const user = await getUser(trx, master);
    if (user !== undefined && user.last_trade_index < index) {
      await setLastTradeIndex(trx, master, index, user.last_trade_index);
    }
  }
}

/** The range child of `parent` (at most one is ever created; null when there is none). */
export async function findRangeChild(ctx: AppContext, parent: Pick<OrderRow, 'id'>): Promise<OrderRow | null> {
  const children = await findOrders(ctx.db, { range_parent_id: parent.id });
  return children.find((c) => c.creator_pubkey !== null) ?? null;
}

/**
 * Tell the maker of a range child about it: the maker's new trade key is answered on the
 * transport its previous key speaks (v1 gift wrap or v2), and the returned `new-order` notice
 * (request id `requestId`, trade index = the child's) is for the caller to store with its durable
 * mark (flows/notices.ts). Null when the child has no maker key.
 */
export async function rangeChildNotice(
  ctx: AppContext,
  parent: Pick<OrderRow, 'seller_pubkey' | 'buyer_pubkey'>,
  child: OrderRow,
  requestId: bigint | null,
): Promise<Notice | null> {
  if (child.creator_pubkey === null) return null;
  const previousKey = child.kind === 'sell' ? parent.seller_pubkey : parent.buyer_pubkey;
  if (previousKey !== null) await ctx.transports?.inherit(child.creator_pubkey, previousKey, ctx.clock.now());
  const index = child.kind === 'sell' ? child.trade_index_seller : child.trade_index_buyer;
  return [
    child.creator_pubkey,
    buildMessage({
      action: 'new-order',
      id: child.id,
      requestId,
      tradeIndex: index === null ? null : BigInt(index),
      payload: { order: toSmallOrder(child, { tradeKeys: false }) },
    }),
  ];
}
