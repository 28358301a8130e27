import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { insertOrder, newOrderRow } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { parsePubkeyText } from '../../protocol/pubkey.js';

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
    next =
      parent.next_trade_pubkey !== null && parent.next_trade_index !== null
        ? { pubkey: parent.next_trade_pubkey, index: parent.next_trade_index }
        : null;
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
 * Plan (see planRangeChild) and INSERT the child with `trx` — the caller's transaction, so the
 * child row is written together with the parent's state change. Returns the child, or null when
 * no child is due or the maker side cannot be assigned (logged; never blocks the parent's payout).
 * An INSERT failure propagates (the caller rolls back its transaction and continues without child).
 */
export async function createRangeChild(
  ctx: AppContext,
  trx: Executor,
  parent: OrderRow,
  nextTrade: NextTrade | null,
): Promise<OrderRow | null> {
  const plan = planRangeChild(parent, nextTrade, {
    now: ctx.clock.now(),
    expirationHours: ctx.settings.mostro.expiration_hours,
  });
  if (plan.child === null) {
    if (parent.min_amount !== null && parent.max_amount !== null) {
      ctx.logger.info({ orderId: parent.id, reason: plan.reason }, 'no range child order');
    }
    return null;
  }
  await insertOrder(trx, plan.child);
  return plan.child;
}
