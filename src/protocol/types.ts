/**
 * Mostro wire types (mostro-core 0.8.0, protocol v1).
 *
 * Integers that are i64/u64 on the wire are `bigint` so they round-trip losslessly (request ids
 * above 2^53 are common). u8/u32 values and f64 are `number`. Field order in these interfaces is the
 * serde declaration order, which is also the canonical serialization order (see serialize.ts).
 */

export const ACTIONS = [
  'new-order',
  'take-sell',
  'take-buy',
  'pay-invoice',
  'fiat-sent',
  'fiat-sent-ok',
  'release',
  'released',
  'cancel',
  'canceled',
  'cooperative-cancel-initiated-by-you',
  'cooperative-cancel-initiated-by-peer',
  'dispute-initiated-by-you',
  'dispute-initiated-by-peer',
  'cooperative-cancel-accepted',
  'buyer-invoice-accepted',
  'purchase-completed',
  'hold-invoice-payment-accepted',
  'hold-invoice-payment-settled',
  'hold-invoice-payment-canceled',
  'waiting-seller-to-pay',
  'waiting-buyer-invoice',
  'add-invoice',
  'buyer-took-order',
  'rate',
  'rate-user',
  'rate-received',
  'cant-do',
  'dispute',
  'admin-cancel',
  'admin-canceled',
  'admin-settle',
  'admin-settled',
  'admin-add-solver',
  'admin-take-dispute',
  'admin-took-dispute',
  'payment-failed',
  'invoice-updated',
  'send-dm',
  'trade-pubkey',
  'restore-session',
  'last-trade-index',
  'orders',
] as const;
export type Action = (typeof ACTIONS)[number];

export const ORDER_STATUSES = [
  'active',
  'canceled',
  'canceled-by-admin',
  'settled-by-admin',
  'completed-by-admin',
  'dispute',
  'expired',
  'fiat-sent',
  'settled-hold-invoice',
  'pending',
  'success',
  'waiting-buyer-invoice',
  'waiting-payment',
  'cooperatively-canceled',
  'in-progress',
] as const;
export type Status = (typeof ORDER_STATUSES)[number];

export const KINDS = ['buy', 'sell'] as const;
export type Kind = (typeof KINDS)[number];

export const DISPUTE_STATUSES = ['initiated', 'in-progress', 'seller-refunded', 'settled', 'released'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

export type DisputeInitiator = 'buyer' | 'seller';

export const CANT_DO_REASONS = [
  'invalid_signature',
  'invalid_trade_index',
  'invalid_amount',
  'invalid_invoice',
  'invalid_payment_request',
  'invalid_peer',
  'invalid_rating',
  'invalid_text_message',
  'invalid_order_kind',
  'invalid_order_status',
  'invalid_pubkey',
  'invalid_parameters',
  'order_already_canceled',
  'cant_create_user',
  'is_not_your_order',
  'not_allowed_by_status',
  'out_of_range_fiat_amount',
  'out_of_range_sats_amount',
  'is_not_your_dispute',
  'dispute_taken_by_admin',
  'dispute_creation_error',
  'not_found',
  'invalid_dispute_status',
  'invalid_action',
  'pending_order_exists',
  'invalid_fiat_currency',
  'too_many_requests',
  // mostro-core ≥ 0.13.1 (upstream 0.18): only ever reaches protocol-v2 clients; the outbox turns it
  // into `invalid_amount` for 0.8-era clients (protocol/v1-compat.ts).
  'price_too_stale',
  // mostro-core ≥ 0.8.4 (not 0.8.0): an operator's ban (app/bans.ts); `invalid_pubkey` for clients on
  // the gift-wrap transport, which may be on 0.8.0.
  'not_authorized',
] as const;
export type CantDoReason = (typeof CANT_DO_REASONS)[number];

/** Wrapper variant key of a Message (serde external tag). */
export const WRAPPERS = ['order', 'dispute', 'cant-do', 'rate', 'dm', 'restore'] as const;
export type Wrapper = (typeof WRAPPERS)[number];

/** mostro-core SmallOrder (`deny_unknown_fields`). Optional (`?`) fields are omitted when undefined. */
export interface SmallOrder {
  id?: string; // omitted when absent
  kind: Kind | null;
  status: Status | null;
  amount: bigint;
  fiat_code: string;
  min_amount: bigint | null;
  max_amount: bigint | null;
  fiat_amount: bigint;
  payment_method: string;
  premium: bigint;
  buyer_trade_pubkey?: string; // omitted when absent
  seller_trade_pubkey?: string; // omitted when absent
  buyer_invoice?: string; // omitted when absent
  created_at: bigint | null;
  expires_at: bigint | null;
}

export interface UserInfo {
  rating: number; // f64, serialized serde/ryu style ("0.0", "4.5")
  reviews: bigint; // i64
  operating_days: bigint; // u64
}

export interface Peer {
  pubkey: string;
  reputation: UserInfo | null;
}

export interface SolverDisputeInfo {
  id: string;
  kind: string;
  status: string;
  hash: string | null;
  preimage: string | null;
  order_previous_status: string;
  initiator_pubkey: string;
  buyer_pubkey: string | null;
  seller_pubkey: string | null;
  initiator_full_privacy: boolean;
  counterpart_full_privacy: boolean;
  initiator_info: UserInfo | null;
  counterpart_info: UserInfo | null;
  premium: bigint;
  payment_method: string;
  amount: bigint;
  fiat_amount: bigint;
  fee: bigint;
  routing_fee: bigint;
  buyer_invoice: string | null;
  invoice_held_at: bigint;
  taken_at: bigint;
  created_at: bigint;
}

export interface RestoredOrderInfo {
  order_id: string;
  trade_index: bigint;
  status: string;
}

export interface RestoredDisputeInfo {
  dispute_id: string;
  order_id: string;
  trade_index: bigint;
  status: string;
  initiator: DisputeInitiator | null;
}

export interface RestoreSessionInfo {
  orders: RestoredOrderInfo[];
  disputes: RestoredDisputeInfo[];
}

/** mostro-core 0.14 BondResolution: which bonds a solver slashes. */
export interface BondResolution {
  slash_seller: boolean;
  slash_buyer: boolean;
}

export interface PaymentFailedInfo {
  payment_attempts: number; // u32
  payment_retries_interval: number; // u32
}

/** Payload: externally tagged, exactly one key. */
export type Payload =
  | { order: SmallOrder }
  | { payment_request: [SmallOrder | null, string, bigint | null] }
  | { text_message: string }
  | { peer: Peer }
  | { rating_user: number } // u8
  | { amount: bigint }
  | { dispute: [string, SolverDisputeInfo | null] }
  | { cant_do: CantDoReason | null }
  | { next_trade: [string, number] } // (pubkey hex, u32)
  | { payment_failed: PaymentFailedInfo }
  | { restore_data: RestoreSessionInfo }
  | { ids: string[] }
  | { orders: SmallOrder[] }
  // mostro-core ≥ 0.13 (bonds): accepted on admin-settle / admin-cancel and ignored while this
  // node has no bonds; never sent (a 0.8 client could not decode it).
  | { bond_resolution: BondResolution };

export interface MessageKind {
  version: number; // u8 on input (any value accepted); always 1 outbound
  request_id: bigint | null; // u64
  trade_index: bigint | null; // i64
  id?: string; // uuid, omitted when absent
  action: Action;
  payload: Payload | null;
}

/** A Message: one wrapper key holding a MessageKind. */
export interface Message {
  wrapper: Wrapper;
  kind: MessageKind;
}

/** Rumor content `[Message, signature-or-null]` as received. */
export interface RumorContent {
  message: Message;
  /** 128-hex BIP-340 signature or null. */
  signature: string | null;
  /** Exact text of element 0 as sent (for the lenient raw-text signature check). */
  rawMessageText: string;
}
