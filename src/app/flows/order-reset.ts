import type { OrderExpect, OrderPatch } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';

/**
 * The patch that returns a taken order to `pending` for its maker when the taker backs out
 * (cancel by the taker, HANDLERS.md §4.7) or runs out of time (waiting-state timeout, PROTOCOL.md
 * §6.5): the escrow fields, take timestamps and dev fee are cleared; a market-price order's amount
 * and fee and a range order's fiat amount are reset to 0; the taker's trade key, identity and
 * trade index are removed. A buyer-maker's own invoice (given at creation) stays with the order.
 */
export function takerResetPatch(o: OrderRow, makerSide: 'buyer' | 'seller'): OrderPatch {
  const isRange = o.min_amount !== null && o.max_amount !== null;
  return {
    status: 'pending',
    hash: null,
    preimage: null,
    buyer_invoice: makerSide === 'buyer' ? o.buyer_invoice : null,
    taken_at: 0,
    invoice_held_at: 0,
    dev_fee: 0,
    ...(o.price_from_api !== 0 ? { amount: 0, fee: 0 } : {}),
    ...(isRange ? { fiat_amount: 0 } : {}),
    ...(makerSide === 'buyer'
      ? { seller_pubkey: null, master_seller_pubkey: null, trade_index_seller: null }
      : { buyer_pubkey: null, master_buyer_pubkey: null, trade_index_buyer: null }),
  };
}

/** The patch that puts back `o`'s values of every field `patch` changes (to undo a claim). */
export function undoPatch(o: OrderRow, patch: OrderPatch): OrderPatch {
  const undo: OrderPatch = {};
  for (const k of Object.keys(patch) as (keyof OrderPatch)[]) {
    (undo as Record<string, unknown>)[k] = o[k];
  }
  return undo;
}

/** A compare-and-set expectation that the row still holds exactly what `patch` wrote. */
export function expectPatched(patch: OrderPatch): OrderExpect {
  const back: OrderExpect = {};
  for (const [k, v] of Object.entries(patch)) (back as Record<string, unknown>)[k] = v;
  return back;
}
