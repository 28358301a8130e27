import type { Kind, Status, DisputeStatus } from '../protocol/types.js';

/**
 * Rows as the repositories hand them to the app. Column names are exactly mostrod's SQL columns.
 * UUID columns are stored as 16-byte BLOBs (mostrod/sqlx encoding) and converted to canonical
 * lowercase hyphenated text by the repositories; everything else is as stored. Booleans are 0/1.
 */
export interface OrderRow {
  id: string;
  kind: Kind;
  event_id: string;
  hash: string | null;
  preimage: string | null;
  creator_pubkey: string | null;
  cancel_initiator_pubkey: string | null;
  buyer_pubkey: string | null;
  master_buyer_pubkey: string | null;
  seller_pubkey: string | null;
  master_seller_pubkey: string | null;
  status: Status;
  price_from_api: number;
  premium: number;
  payment_method: string;
  amount: number;
  min_amount: number | null;
  max_amount: number | null;
  buyer_dispute: number;
  seller_dispute: number;
  buyer_cooperativecancel: number;
  seller_cooperativecancel: number;
  fee: number;
  routing_fee: number;
  fiat_code: string;
  fiat_amount: number;
  buyer_invoice: string | null;
  range_parent_id: string | null;
  invoice_held_at: number;
  taken_at: number;
  created_at: number;
  buyer_sent_rate: number;
  seller_sent_rate: number;
  payment_attempts: number;
  failed_payment: number;
  expires_at: number;
  trade_index_seller: number | null;
  trade_index_buyer: number | null;
  next_trade_pubkey: string | null;
  next_trade_index: number | null;
  dev_fee: number;
  dev_fee_paid: number;
  dev_fee_payment_hash: string | null;
  /** Added by mostrod-ts migration (nullable, unknown to the Rust daemon, which ignores it). */
  payout_payment_hash: string | null;
  /** Added by mostrod-ts migration: unix ts when the buyer payout was claimed for sending. */
  payout_claimed_at: number | null;
  /** Added by mostrod-ts migration: identity of the latest payout claim (incremented by each claim). */
  payout_claim_seq: number;
  /** Added by mostrod-ts migration: a payout LND reports paid that could not complete the order (operator alert). */
  payout_lost_success_hash: string | null;
}

export interface DisputeRow {
  id: string;
  order_id: string;
  status: DisputeStatus;
  order_previous_status: string;
  solver_pubkey: string | null;
  created_at: number;
  taken_at: number;
}

export interface UserRow {
  pubkey: string;
  is_admin: number;
  admin_password: string | null;
  is_solver: number;
  is_banned: number;
  category: number;
  last_trade_index: number;
  total_reviews: number;
  total_rating: number;
  last_rating: number;
  max_rating: number;
  min_rating: number;
  created_at: number;
}
