import type { Kysely, Transaction } from 'kysely';

/**
 * Kysely table types: the SQLite columns exactly as stored (DAEMON.md §3.3). UUID columns are
 * BLOBs (`Uint8Array`; better-sqlite3 returns Buffer). Nullable integer columns with defaults are
 * typed nullable here because the schema allows NULL; the repositories always write them.
 * Apps use the domain rows of ./types.ts through the repositories, not these.
 */
export interface OrdersTable {
  id: Uint8Array;
  kind: string;
  event_id: string;
  hash: string | null;
  preimage: string | null;
  creator_pubkey: string | null;
  cancel_initiator_pubkey: string | null;
  dispute_initiator_pubkey: string | null;
  buyer_pubkey: string | null;
  master_buyer_pubkey: string | null;
  seller_pubkey: string | null;
  master_seller_pubkey: string | null;
  status: string;
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
  range_parent_id: Uint8Array | null;
  invoice_held_at: number | null;
  taken_at: number | null;
  created_at: number;
  buyer_sent_rate: number | null;
  seller_sent_rate: number | null;
  payment_attempts: number | null;
  failed_payment: number | null;
  expires_at: number;
  trade_index_seller: number | null;
  trade_index_buyer: number | null;
  next_trade_pubkey: string | null;
  next_trade_index: number | null;
  dev_fee: number | null;
  dev_fee_paid: number;
  dev_fee_payment_hash: string | null;
  payout_payment_hash: string | null;
  payout_claimed_at: number | null;
  payout_claim_seq: number;
  payout_lost_success_hash: string | null;
  /** mostrod-ts (migration 20261205000100): when LND confirmed this paid dev fee; not in OrderRow. */
  dev_fee_verified_at: number | null;
}

export interface DisputesTable {
  id: Uint8Array;
  order_id: Uint8Array;
  status: string;
  order_previous_status: string;
  solver_pubkey: string | null;
  created_at: number;
  taken_at: number | null;
}

export interface UsersTable {
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

/** sqlx's bookkeeping table (sqlx-core 0.6 SQLite migrator). */
export interface SqlxMigrationsTable {
  version: number;
  description: string;
  installed_on: string;
  success: number;
  checksum: Uint8Array;
  execution_time: number;
}

export interface DbSchema {
  orders: OrdersTable;
  disputes: DisputesTable;
  users: UsersTable;
  _sqlx_migrations: SqlxMigrationsTable;
}

export type Db = Kysely<DbSchema>;
/** What every repository function takes first: the database or an open transaction. */
export type Executor = Kysely<DbSchema> | Transaction<DbSchema>;
