/**
 * Steps shared by new-order, take-sell and take-buy: trade-index resolution and bookkeeping, the
 * requested fiat amount of a range take, take-time amounts and the invoice carried by a request.
 */
import type { Executor } from '../../db/database.js';
import { raiseLastTradeIndex, type UserReputation } from '../../db/users.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { freshPrice } from '../../price/fresh-price.js';
import { devFee, marketQuoteSats, mostroFee } from '../../price/quote.js';
import type { Message } from '../../protocol/types.js';
import type { AppContext } from '../../context.js';
import type { Inbound } from '../inbound.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** A wire i64 as a JS number, refusing values outside the safe integer range. */
export function safeNumber(v: bigint, reason: 'invalid_amount' | 'invalid_trade_index' = 'invalid_amount'): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new CantDoError(reason, `value ${v} out of range`);
  }
  return Number(v);
}

/**
 * The trade index a trading request runs with (PROTOCOL.md §1.3 rule 4): the message's value; if
 * absent, 0 in full privacy; absent in reputation mode → silence. Negative → invalid_trade_index.
 */
export function resolveTradeIndex(msg: Message, inbound: Inbound): number {
  const ti = msg.kind.trade_index;
  if (ti === null) {
    if (inbound.fullPrivacy) return 0;
    throw new SilentError('trade_index missing in reputation mode');
  }
  if (ti < 0n) throw new CantDoError('invalid_trade_index');
  return safeNumber(ti, 'invalid_trade_index');
}

/** The identity must be a 64-hex x-only key (3.10) — intake guarantees it; this is a guard. */
export function checkIdentity(identity: string): void {
  if (!HEX64.test(identity)) throw new CantDoError('invalid_pubkey');
}

/**
 * `users.last_trade_index := index` after a trading request passed validation. Full-privacy senders
 * have no row. Fix of HQ-4: the stored index is never lowered (0.17.1 let index 0/null reset it).
 * One conditional UPDATE; returns the user's reputation columns when the index was raised (new-order
 * puts them in the 38383 rating tag without reading the row again), else undefined.
 */
export async function raiseTradeIndex(ex: Executor, inbound: Inbound, index: number): Promise<UserReputation | undefined> {
  if (inbound.fullPrivacy) return undefined;
  return raiseLastTradeIndex(ex, inbound.identity, index);
}

/** Fiat amount a taker asked for: payload `amount`, or the third element of `payment_request`. */
export function requestedFiatAmount(msg: Message): bigint | null {
  const p = msg.kind.payload;
  if (p === null) return null;
  if ('amount' in p) return p.amount;
  if ('payment_request' in p) return p.payment_request[2];
  return null;
}

/** The invoice/address a request carries: `payment_request[1]`, or an order payload's buyer_invoice. */
export function paymentRequestOf(msg: Message): string | null {
  const p = msg.kind.payload;
  if (p === null) return null;
  if ('payment_request' in p) return p.payment_request[1];
  if ('order' in p) return p.order.buyer_invoice ?? null;
  return null;
}

/**
 * Fiat amount of this take (HANDLERS.md §3.3): range orders need a requested amount with
 * min ≤ x ≤ max (else out_of_range_sats_amount, sic); other orders use their fiat_amount.
 */
export function selectFiatAmount(o: OrderRow, msg: Message): number {
  if (o.min_amount === null || o.max_amount === null) return o.fiat_amount;
  const requested = requestedFiatAmount(msg);
  if (requested === null || requested < BigInt(o.min_amount) || requested > BigInt(o.max_amount)) {
    throw new CantDoError('out_of_range_sats_amount', 'requested fiat amount outside the range');
  }
  return Number(requested);
}

export interface TakeAmounts {
  amount: number;
  fee: number;
  dev_fee: number;
}

/**
 * Amounts at take time (HANDLERS.md §3.1–§3.2). Market orders (amount 0) are quoted from the
 * CACHED price with the premium; a missing price → invalid_amount, a stale one → price_too_stale (invalid_amount for 0.8-era clients; 0.17.1 was silent and
 * called the price API synchronously). Deviation (HQ-26): a market take whose sats fall outside
 * [min_payment_amount, max_order_amount] is refused with out_of_range_sats_amount.
 * Fixed orders keep amount and fee; the dev fee is computed for both.
 */
export function takeAmounts(ctx: AppContext, o: OrderRow, fiatAmount: number): TakeAmounts {
  const { fee: feeFraction, dev_fee_percentage: pct, min_payment_amount: min, max_order_amount: max } =
    ctx.settings.mostro;
  if (o.amount !== 0) return { amount: o.amount, fee: o.fee, dev_fee: devFee(o.fee, pct) };
  const amount = marketQuoteSats(fiatAmount, freshPrice(ctx.prices, o.fiat_code).price, o.premium);
  if (!Number.isFinite(amount) || amount < min || amount > max) {
    throw new CantDoError('out_of_range_sats_amount', `market amount ${amount} sats outside [${min}, ${max}]`);
  }
  const fee = mostroFee(amount, feeFraction);
  return { amount, fee, dev_fee: devFee(fee, pct) };
}

/** The node's network for invoice checks (null before the first GetInfo). */
export function nodeNetwork(ctx: AppContext): string | null {
  return ctx.lightning.info?.networks[0] ?? null;
}
