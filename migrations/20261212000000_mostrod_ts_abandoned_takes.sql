-- mostrod-ts: takes their taker abandoned ([mostro] max_abandoned_takes). Unknown to the Rust daemon
-- (it neither reads nor writes the table).
--
-- One row each time a taker backed out (cancel) or ran out of time (the waiting-timeouts job) while
-- the order waited for it, and the order went back to pending for its maker: identity is the
-- taker's identity key (the order's master_buyer_pubkey / master_seller_pubkey of the taker side),
-- at the unix time. Written only while the limit is on; a take from an identity with
-- max_abandoned_takes rows in the last abandoned_takes_window_hours is refused. Rows older than the
-- window are deleted by the waiting-timeouts job.
CREATE TABLE IF NOT EXISTS mostrod_ts_abandoned_takes (
    identity TEXT NOT NULL,
    order_id TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_mostrod_ts_abandoned_takes_identity_at ON mostrod_ts_abandoned_takes (identity, at);
