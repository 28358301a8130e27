import type { OrderRow } from '../../db/types.js';
import type { SmallOrder, Status } from '../../protocol/types.js';

export interface SmallOrderOptions {
  /** Sats shown in `amount` (default: the stored amount). */
  amount?: number;
  /** Status shown (default: the stored status). */
  status?: Status;
  /** Include buyer/seller trade pubkeys (default true). */
  tradeKeys?: boolean;
  /** Include buyer_invoice (default true). */
  invoice?: boolean;
  /** Include created_at / expires_at (default true; false → both null). */
  timestamps?: boolean;
}

/**
 * The wire SmallOrder of a stored order.
 *  - spec "SmallOrder(order)" = `toSmallOrder(o, {})`;
 *  - spec "as-new-order(order)" = `toSmallOrder(o, { tradeKeys: false })`;
 *  - created_at/expires_at null variants = `{ timestamps: false }`.
 * Optional fields (trade keys, invoice) are omitted when null, as serde does.
 */
export function toSmallOrder(o: OrderRow, opts: SmallOrderOptions = {}): SmallOrder {
  const tradeKeys = opts.tradeKeys ?? true;
  const invoice = opts.invoice ?? true;
  const timestamps = opts.timestamps ?? true;
  // Built in serde declaration order (the serializer may rely on key order).
  return {
    id: o.id,
    kind: o.kind,
    status: opts.status ?? o.status,
    amount: BigInt(opts.amount ?? o.amount),
    fiat_code: o.fiat_code,
    min_amount: o.min_amount === null ? null : BigInt(o.min_amount),
    max_amount: o.max_amount === null ? null : BigInt(o.max_amount),
    fiat_amount: BigInt(o.fiat_amount),
    payment_method: o.payment_method,
    premium: BigInt(o.premium),
    ...(tradeKeys && o.buyer_pubkey !== null ? { buyer_trade_pubkey: o.buyer_pubkey } : {}),
    ...(tradeKeys && o.seller_pubkey !== null ? { seller_trade_pubkey: o.seller_pubkey } : {}),
    ...(invoice && o.buyer_invoice !== null ? { buyer_invoice: o.buyer_invoice } : {}),
    created_at: timestamps ? BigInt(o.created_at) : null,
    expires_at: timestamps ? BigInt(o.expires_at) : null,
  };
}

/** amount − fee, never negative (Rust saturating_sub). What the buyer receives. */
export function buyerAmount(o: Pick<OrderRow, 'amount' | 'fee'>): number {
  return Math.max(0, o.amount - o.fee);
}

/** amount + fee: what the seller locks in escrow. */
export function sellerAmount(o: Pick<OrderRow, 'amount' | 'fee'>): number {
  return o.amount + o.fee;
}

/** A stored per-side trade index as the wire's i64 (null stays null). */
export function wireIndex(index: number | null): bigint | null {
  return index === null ? null : BigInt(index);
}
