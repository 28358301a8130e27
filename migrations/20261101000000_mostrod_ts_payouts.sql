-- mostrod-ts: buyer payout bookkeeping and indexes for the scheduler queries.
-- Both columns are nullable and unknown to the Rust daemon, which neither reads nor writes them
-- (its inserts list their columns and its SELECT * decoding ignores extra columns).
-- payout_payment_hash: payment hash of the buyer payout, recorded before the payment is sent.
-- payout_claimed_at: unix time when a payout attempt was claimed (compare-and-set) for sending.

ALTER TABLE orders ADD COLUMN payout_payment_hash CHAR(64);
ALTER TABLE orders ADD COLUMN payout_claimed_at INTEGER;

CREATE INDEX IF NOT EXISTS idx_orders_status_expires_at ON orders (status, expires_at);
CREATE INDEX IF NOT EXISTS idx_orders_status_taken_at ON orders (status, taken_at);
CREATE INDEX IF NOT EXISTS idx_orders_hash ON orders (hash);
CREATE INDEX IF NOT EXISTS idx_orders_master_buyer_pubkey ON orders (master_buyer_pubkey);
CREATE INDEX IF NOT EXISTS idx_orders_master_seller_pubkey ON orders (master_seller_pubkey);
CREATE INDEX IF NOT EXISTS idx_orders_payout_payment_hash ON orders (payout_payment_hash);
CREATE INDEX IF NOT EXISTS idx_disputes_solver_pubkey ON disputes (solver_pubkey);
