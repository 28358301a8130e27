import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../context.js';
import { countPendingOrdersOf, insertOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError } from '../../errors.js';
import { validateBuyerInvoice } from '../../lightning/invoice.js';
import { freshPrice } from '../../price/fresh-price.js';
import { creationQuoteSats, mostroFee } from '../../price/quote.js';
import { buildMessage } from '../../protocol/build.js';
import type { SmallOrder } from '../../protocol/types.js';
import type { Handler } from '../handler.js';
import { toSmallOrder } from '../flows/order-view.js';
import { prepareOrderEvent, publishOrder, publishPreparedOrderEvent, recordPreparedOrderEvent } from '../flows/publish.js';
import { makerRatingIn, makerRatingOf } from '../flows/reputation.js';
import { checkIdentity, nodeNetwork, raiseTradeIndex, resolveTradeIndex, safeNumber } from '../flows/take-terms.js';

const HOUR = 3600;
const DAY = 86_400;

/**
 * Sats limit check of one quote (HANDLERS.md §3.4): negative → invalid_amount; outside
 * [min_payment_amount, max_order_amount] → out_of_range_sats_amount.
 */
function checkQuote(ctx: AppContext, sats: number): void {
  if (!Number.isFinite(sats) || sats < 0) throw new CantDoError('invalid_amount');
  const { min_payment_amount: min, max_order_amount: max } = ctx.settings.mostro;
  if (sats < min || sats > max) {
    throw new CantDoError('out_of_range_sats_amount', `${sats} sats outside [${min}, ${max}]`);
  }
}

/** Sats of a fiat amount at creation: the fixed amount, or the cached price without premium. */
function creationSats(ctx: AppContext, so: SmallOrder, amount: number, fiat: number): number {
  if (amount !== 0) return amount;
  // 0.17.1: missing cached price → silence. Here: a refusal the maker can act on (documented):
  // invalid_amount, or price_too_stale for a protocol-v2 client when the price is too old.
  return creationQuoteSats(fiat, freshPrice(ctx.prices, so.fiat_code).price);
}

/**
 * `new-order` (HANDLERS.md §4.1, PROTOCOL.md §5.1). Checks in the spec's order; every refusal
 * happens before anything is written. Deviations: the buyer invoice is validated against
 * amount − fee (HQ-9); the kind check runs before the trade index is recorded (§4.1 step 8 came
 * after the update); the stored trade index is never lowered (HQ-4); a missing/stale price is
 * answered with invalid_amount; amount < 0 or a non-range fiat_amount ≤ 0 → invalid_amount
 * (upstream #702).
 */
export const newOrder: Handler = async (ctx, msg, inbound) => {
  const payload = msg.kind.payload;
  if (payload === null || !('order' in payload)) return; // structure check prevents this; mostrod: no-op
  const so = payload.order;
  const requestId = msg.kind.request_id;

  const amount = safeNumber(so.amount);
  const fiatAmount = safeNumber(so.fiat_amount);
  const premium = safeNumber(so.premium, 'invalid_amount');
  const minAmount = so.min_amount === null ? null : safeNumber(so.min_amount);
  const maxAmount = so.max_amount === null ? null : safeNumber(so.max_amount);
  const isRange = minAmount !== null && maxAmount !== null;
  const fee = amount > 0 ? mostroFee(amount, ctx.settings.mostro.fee) : 0;

  // 1. Buyer invoice (validated against what the payout will actually pay: amount − fee; HQ-9).
  const buyerInvoice = so.buyer_invoice ?? null;
  if (buyerInvoice !== null) {
    await validateBuyerInvoice({
      paymentRequest: buyerInvoice,
      expectedSats: Math.max(0, amount - fee),
      settings: ctx.settings,
      nodeNetwork: nodeNetwork(ctx),
      now: ctx.clock.now(),
      lnurl: ctx.lnurl,
    });
  }
  // 2. Fiat currency.
  const accepted = ctx.settings.mostro.fiat_currencies_accepted;
  if (accepted.length > 0 && !accepted.includes(so.fiat_code)) throw new CantDoError('invalid_fiat_currency');
  // 3. Range bounds (+ #702: no negative sats, a positive fiat amount on non-range orders).
  if (isRange && (minAmount < 0 || maxAmount < 0 || minAmount >= maxAmount || amount !== 0)) {
    throw new CantDoError('invalid_amount', 'invalid range');
  }
  if (amount < 0 || (!isRange && fiatAmount <= 0) || fiatAmount < 0) {
    throw new CantDoError('invalid_amount');
  }
  // 4. Premium only with market price.
  if (premium !== 0 && amount !== 0) throw new CantDoError('invalid_parameters', 'premium with a fixed amount');
  // 5. Sats limits per fiat amount.
  for (const fiat of isRange ? [minAmount, maxAmount] : [fiatAmount]) {
    checkQuote(ctx, creationSats(ctx, so, amount, fiat));
  }
  // 6. Trade index (silence when missing in reputation mode).
  const tradeIndex = resolveTradeIndex(msg, inbound);
  checkIdentity(inbound.identity);
  // 8 (moved before the write). Kind.
  const kind = so.kind;
  if (kind === null) throw new CantDoError('invalid_order_kind');

  const now = ctx.clock.now();
  const requestedExpiry = so.expires_at === null ? null : safeNumber(so.expires_at, 'invalid_amount');
  const maxExpiry = now + ctx.settings.mostro.max_expiration_days * DAY;
  const expiresAt =
    requestedExpiry === null ? now + ctx.settings.mostro.expiration_hours * HOUR : Math.min(requestedExpiry, maxExpiry);

  const isSell = kind === 'sell';
  const row: OrderRow = {
    id: randomUUID(),
    kind,
    event_id: '',
    hash: null,
    preimage: null,
    creator_pubkey: inbound.tradeKey,
    cancel_initiator_pubkey: null,
    buyer_pubkey: isSell ? null : inbound.tradeKey,
    master_buyer_pubkey: isSell ? null : inbound.identity,
    seller_pubkey: isSell ? inbound.tradeKey : null,
    master_seller_pubkey: isSell ? inbound.identity : null,
    status: 'pending',
    price_from_api: amount === 0 ? 1 : 0,
    premium,
    payment_method: so.payment_method,
    amount,
    min_amount: minAmount,
    max_amount: maxAmount,
    buyer_dispute: 0,
    seller_dispute: 0,
    buyer_cooperativecancel: 0,
    seller_cooperativecancel: 0,
    fee,
    routing_fee: 0,
    fiat_code: so.fiat_code,
    fiat_amount: fiatAmount,
    buyer_invoice: buyerInvoice,
    range_parent_id: null,
    invoice_held_at: 0,
    taken_at: 0,
    created_at: now,
    buyer_sent_rate: 0,
    seller_sent_rate: 0,
    payment_attempts: 0,
    failed_payment: 0,
    expires_at: expiresAt,
    trade_index_seller: isSell ? (msg.kind.trade_index === null ? null : tradeIndex) : null,
    trade_index_buyer: isSell ? null : msg.kind.trade_index === null ? null : tradeIndex,
    next_trade_pubkey: null,
    next_trade_index: null,
    dev_fee: 0,
    dev_fee_paid: 0,
    dev_fee_payment_hash: null,
    payout_payment_hash: null,
    payout_claimed_at: null,
    payout_claim_seq: 0,
    payout_lost_success_hash: null,
  };

  // 7. Record the trade index and insert the order atomically, with its 38383 event's id and
  // ledger row in the same transaction (publish.ts prepareOrderEvent); the event is signed and
  // published after the commit (its change-log entry goes once a relay accepted it). The index update returns the maker's reputation columns, so
  // the rating needs no re-read unless the raise did not apply.
  const cap = ctx.settings.mostro.max_pending_orders_per_user;
  const { prepared, rating } = await ctx.db.transaction().execute(async (trx) => {
    // The operator's limit on one identity's pending orders, counted in the insert's transaction
    // (nothing else writes between the count and the insert; a refusal rolls the index back).
    if (cap > 0) {
      const pending = await countPendingOrdersOf(trx, inbound.identity);
      if (pending >= cap) throw new CantDoError('pending_order_exists', `${pending} pending orders (max_pending_orders_per_user = ${cap})`);
    }
    const user = await raiseTradeIndex(trx, inbound, tradeIndex);
    const now = ctx.clock.now();
    const rating = user !== undefined && inbound.identity !== inbound.tradeKey ? makerRatingOf(user, now) : await makerRatingIn(trx, row, now);
    // The node-wide budget of orders from makers nobody has rated (app/unrated-budget.ts); a
    // refusal rolls the index back.
    const budget = ctx.settings.mostro.unrated_orders_per_minute;
    if (rating.total_reviews === 0 && !ctx.unrated.orders.take(now, budget)) {
      throw new CantDoError('too_many_requests', `unrated makers' orders over ${budget} a minute (unrated_orders_per_minute)`);
    }
    const prepared = prepareOrderEvent(ctx, row, rating);
    await insertOrder(trx, prepared === null ? row : { ...row, event_id: prepared.event.id });
    if (prepared !== null) await recordPreparedOrderEvent(trx, row, prepared);
    return { prepared, rating };
  });

  if (prepared !== null) publishPreparedOrderEvent(ctx, prepared);
  else await publishOrder(ctx, row, { rating });
  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({
      action: 'new-order',
      id: row.id,
      requestId,
      tradeIndex: msg.kind.trade_index,
      payload: { order: toSmallOrder(row, { tradeKeys: false }) },
    }),
  );
};
