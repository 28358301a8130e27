import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { findOrders, insertOrder, newOrderRow, type OrderPatch } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { getUser, setLastTradeIndex } from '../../db/users.js';
import { buildMessage } from '../../protocol/build.js';
import { parsePubkeyText } from '../../protocol/pubkey.js';
import type { Notice } from './notices.js';
import { toSmallOrder } from './order-view.js';

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

/**
 * The maker's `next_trade` as recorded on a range parent: a buy maker's from its fiat-sent, a sell
 * maker's from the release's claim (`sellerNextTradePatch`). What a path that finishes a release
 * without the release message (finishSettledEscrow) plans the child with.
 */
export function storedNextTrade(parent: Pick<OrderRow, 'next_trade_pubkey' | 'next_trade_index'>): NextTrade | null {
  return parent.next_trade_pubkey !== null && parent.next_trade_index !== null
    ? { pubkey: parent.next_trade_pubkey, index: parent.next_trade_index }
    : null;
}

/**
 * What the release's claim writes beside its status: on a range SELL order whose maker is the
 * seller, the `next_trade` of this release message (or none). The claim is reverted when the
 * settle fails; if LND settled after all, the SETTLED update finishes the release without the
 * message, and plans the child from these fields. Other orders: nothing (a buy maker's fields come
 * from fiat-sent; fiat-sent never stores a buyer's key on a sell order, upstream #891).
 */
export function sellerNextTradePatch(parent: OrderRow, nextTrade: NextTrade | null): OrderPatch {
  const sellMaker = parent.kind === 'sell' && parent.creator_pubkey !== null && parent.creator_pubkey === parent.seller_pubkey;
  if (!sellMaker || parent.min_amount === null || parent.max_amount === null) return {};
  // Stored as 0.17.1 stores a buy maker's: a hex key (an npub is decoded), none when unusable.
  const pubkey = nextTrade === null ? null : parsePubkeyText(nextTrade.pubkey);
  if (nextTrade === null || pubkey === null || !Number.isSafeInteger(nextTrade.index) || nextTrade.index < 0) {
    return { next_trade_pubkey: null, next_trade_index: null };
  }
  return { next_trade_pubkey: pubkey, next_trade_index: nextTrade.index };
}

/**
 * Run `write` (the parent's compare-and-set) and, when it wins, INSERT `child` in the same
 * transaction (advancing the maker's last_trade_index, see insertChild). If the child cannot be
 * inserted, the transaction is run again without it: the child is dropped (logged), the parent's
 * change stands (#873). Returns whether `write` won and the child that was created.
 */
export async function commitWithRangeChild(
  ctx: AppContext,
  parentId: string,
  child: OrderRow | null,
  write: (trx: Executor) => Promise<boolean>,
): Promise<{ won: boolean; child: OrderRow | null }> {
  const run = (withChild: OrderRow | null): Promise<boolean> =>
    ctx.db.transaction().execute(async (trx) => {
      if (!(await write(trx))) return false;
      if (withChild !== null) await insertChild(trx, withChild);
      return true;
    });
  if (child === null) return { won: await run(null), child: null };
  try {
    const won = await run(child);
    return { won, child: won ? child : null };
  } catch (err) {
    ctx.logger.error({ err, orderId: parentId, childId: child.id }, 'range child order could not be created');
    return { won: await run(null), child: null };
  }
}

/**
 * INSERT the child and advance the maker's last_trade_index to the child's index when it is
 * higher (0.17.1 never did, HQ-4).
 */
async function insertChild(trx: Executor, child: OrderRow): Promise<void> {
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

/** The range child created with `parent`'s release (at most one; null when none was). */
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
