/**
 * What a protocol-v1 client (mostro-core 0.8 era: the mobile app, older mostro-cli) can decode.
 * Its serde enums throw on an unknown variant, so a message to such a client must only carry the
 * Actions, Statuses and CantDoReasons mostro-core 0.8 has. The lists below are frozen at 0.8 — they
 * do not follow types.ts when newer variants are added there. `toProtocolV1()` is applied at the
 * send point (the outbox) to every message going to a key on the v1 transport; protocol-v2 clients
 * (mostro-core ≥ 0.13) get the message unchanged.
 */
import type { CantDoReason, Message, MessageKind, Payload, SmallOrder, Status } from './types.js';

/** mostro-core 0.8.0 `Action` (kebab-case). */
export const V08_ACTIONS: ReadonlySet<string> = new Set([
  'new-order', 'take-sell', 'take-buy', 'pay-invoice', 'fiat-sent', 'fiat-sent-ok', 'release', 'released', 'cancel',
  'canceled', 'cooperative-cancel-initiated-by-you', 'cooperative-cancel-initiated-by-peer', 'dispute-initiated-by-you',
  'dispute-initiated-by-peer', 'cooperative-cancel-accepted', 'buyer-invoice-accepted', 'purchase-completed',
  'hold-invoice-payment-accepted', 'hold-invoice-payment-settled', 'hold-invoice-payment-canceled', 'waiting-seller-to-pay',
  'waiting-buyer-invoice', 'add-invoice', 'buyer-took-order', 'rate', 'rate-user', 'rate-received', 'cant-do', 'dispute',
  'admin-cancel', 'admin-canceled', 'admin-settle', 'admin-settled', 'admin-add-solver', 'admin-take-dispute',
  'admin-took-dispute', 'payment-failed', 'invoice-updated', 'send-dm', 'trade-pubkey', 'restore-session',
  'last-trade-index', 'orders',
]);

/** mostro-core 0.8.0 `Status` (kebab-case). */
export const V08_STATUSES: ReadonlySet<string> = new Set([
  'active', 'canceled', 'canceled-by-admin', 'settled-by-admin', 'completed-by-admin', 'dispute', 'expired', 'fiat-sent',
  'settled-hold-invoice', 'pending', 'success', 'waiting-buyer-invoice', 'waiting-payment', 'cooperatively-canceled',
  'in-progress',
]);

/** mostro-core 0.8.0 `CantDoReason` (snake_case). */
export const V08_CANT_DO_REASONS: ReadonlySet<string> = new Set([
  'invalid_signature', 'invalid_trade_index', 'invalid_amount', 'invalid_invoice', 'invalid_payment_request',
  'invalid_peer', 'invalid_rating', 'invalid_text_message', 'invalid_order_kind', 'invalid_order_status',
  'invalid_pubkey', 'invalid_parameters', 'order_already_canceled', 'cant_create_user', 'is_not_your_order',
  'not_allowed_by_status', 'out_of_range_fiat_amount', 'out_of_range_sats_amount', 'is_not_your_dispute',
  'dispute_taken_by_admin', 'dispute_creation_error', 'not_found', 'invalid_dispute_status', 'invalid_action',
  'pending_order_exists', 'invalid_fiat_currency', 'too_many_requests',
]);

/** Payload variants mostro-core 0.8.0 has (snake_case keys). */
const V08_PAYLOADS: ReadonlySet<string> = new Set([
  'order', 'payment_request', 'text_message', 'peer', 'rating_user', 'amount', 'dispute', 'cant_do', 'next_trade',
  'payment_failed', 'restore_data', 'ids', 'orders',
]);

/**
 * The 0.8 reason a v1 client gets instead of a newer one (mostro-core ≥ 0.13 reasons). What 0.17.1
 * answered in the same situation where there is one; `invalid_parameters` otherwise.
 */
export const V08_REASON_FALLBACK: Readonly<Record<string, CantDoReason>> = {
  price_too_stale: 'invalid_amount',
  invalid_payload: 'invalid_parameters',
  not_authorized: 'invalid_pubkey',
};

/** The 0.8 reason for `reason` (itself when 0.8 has it). */
export function v08Reason(reason: string): CantDoReason {
  if (V08_CANT_DO_REASONS.has(reason)) return reason as CantDoReason;
  return V08_REASON_FALLBACK[reason] ?? 'invalid_parameters';
}

function order(o: SmallOrder): SmallOrder {
  // mostro-core 0.8's SmallOrder.status is Option<Status>: a status it lacks is sent as null.
  if (o.status === null || V08_STATUSES.has(o.status)) return o;
  return { ...o, status: null as Status | null };
}

function payload(p: Payload): Payload | undefined {
  const key = Object.keys(p)[0];
  if (key === undefined || !V08_PAYLOADS.has(key)) return undefined;
  if ('cant_do' in p) return p.cant_do === null ? p : { cant_do: v08Reason(p.cant_do) };
  if ('order' in p) return { order: order(p.order) };
  if ('payment_request' in p) {
    const [o, invoice, amount] = p.payment_request;
    return { payment_request: [o === null ? null : order(o), invoice, amount] };
  }
  if ('orders' in p) return { orders: p.orders.map(order) };
  return p;
}

/**
 * `m` as a mostro-core 0.8 client can decode it, stamped version 1; null when it cannot be
 * expressed at all (an action or payload 0.8 lacks: the caller drops it and logs). A message made
 * only of 0.8 vocabulary with version 1 is returned as is (same object: same bytes as before).
 */
export function toProtocolV1(m: Message): Message | null {
  if (!V08_ACTIONS.has(m.kind.action)) return null;
  let p: Payload | null = m.kind.payload;
  if (p !== null) {
    const mapped = payload(p);
    if (mapped === undefined) return null;
    p = mapped;
  }
  if (p === m.kind.payload && m.kind.version === 1) return m;
  const kind: MessageKind = { ...m.kind, version: 1, payload: p };
  return { wrapper: m.wrapper, kind };
}
