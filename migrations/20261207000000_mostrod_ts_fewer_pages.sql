-- mostrod-ts: fewer database pages written per new order.
-- Unknown to the Rust daemon: it neither reads the ledger table nor depends on these indexes.
--
-- Every index on `orders` takes an entry for every row, NULL keys included, so each new order
-- wrote one page of each index whose column is still NULL then (the hold invoice's hash, the payout
-- hash, the taker's master key, the dev-fee payment hash): 4 of the ≈ 22 WAL pages of a new order.
-- Every query that uses these indexes compares the column with `=` (or asks IS NOT NULL), which
-- lets SQLite use a partial index WHERE column IS NOT NULL; the dev-fee claim query says
-- `dev_fee_payment_hash IS NOT NULL` in words (src/db/orders.ts findStaleDevFeeClaims).
DROP INDEX IF EXISTS idx_orders_hash;
CREATE INDEX IF NOT EXISTS idx_orders_hash ON orders (hash) WHERE hash IS NOT NULL;
DROP INDEX IF EXISTS idx_orders_payout_payment_hash;
CREATE INDEX IF NOT EXISTS idx_orders_payout_payment_hash ON orders (payout_payment_hash) WHERE payout_payment_hash IS NOT NULL;
DROP INDEX IF EXISTS idx_orders_master_buyer_pubkey;
CREATE INDEX IF NOT EXISTS idx_orders_master_buyer_pubkey ON orders (master_buyer_pubkey) WHERE master_buyer_pubkey IS NOT NULL;
DROP INDEX IF EXISTS idx_orders_master_seller_pubkey;
CREATE INDEX IF NOT EXISTS idx_orders_master_seller_pubkey ON orders (master_seller_pubkey) WHERE master_seller_pubkey IS NOT NULL;
DROP INDEX IF EXISTS idx_orders_dev_fee_claim_prefix;
CREATE INDEX IF NOT EXISTS idx_orders_dev_fee_claim_prefix ON orders (upper(substr(dev_fee_payment_hash, 1, 8))) WHERE dev_fee_payment_hash IS NOT NULL;

-- The publication record (one row per order, upserted by every 38383 the node queues) was a rowid
-- table plus the index of its TEXT primary key: two pages per upsert. WITHOUT ROWID keeps the rows
-- in the primary key's own tree: one.
CREATE TABLE mostrod_ts_order_publications_v2 (
    order_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    event_id CHAR(64) NOT NULL,
    created_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO mostrod_ts_order_publications_v2 (order_id, status, event_id, created_at, recorded_at)
    SELECT order_id, status, event_id, created_at, recorded_at FROM mostrod_ts_order_publications;
DROP TABLE mostrod_ts_order_publications;
ALTER TABLE mostrod_ts_order_publications_v2 RENAME TO mostrod_ts_order_publications;
