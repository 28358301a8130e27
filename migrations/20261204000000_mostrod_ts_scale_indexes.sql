-- mostrod-ts: indexes for the queries the daemon runs per request or per scheduler pass, and the
-- change log that makes republishing the order book incremental.
-- Unknown to the Rust daemon: it neither reads the table nor depends on the indexes. Its own
-- writes to `orders` fire the triggers too, so a node that goes back and forth keeps a true log.

-- Dev-fee job (every 60 s): unpaid / partial fees are found among few rows of the fee columns,
-- not among every settled trade in history.
CREATE INDEX IF NOT EXISTS idx_orders_dev_fee_paid_status ON orders (dev_fee_paid, status, dev_fee);
-- Dev-fee claims: `dev_fee_payment_hash LIKE 'PENDING-%'` asked as upper(substr(…, 1, 8)) =
-- 'PENDING-' (LIKE ignores ASCII case and so cannot use a plain index).
CREATE INDEX IF NOT EXISTS idx_orders_dev_fee_claim_prefix ON orders (upper(substr(dev_fee_payment_hash, 1, 8)));

-- Order change log: one row per order whose status changed (or which was inserted) since its
-- kind-38383 event was last published. The publisher deletes the row once the event for that
-- status is out; a scheduler pass republishes only the rows left behind (publication failed or
-- was interrupted), so the cost follows what changed, not the size of the book.
-- seq: increasing change number (a newer change of the same order replaces the row with a new seq).
CREATE TABLE IF NOT EXISTS mostrod_ts_order_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BLOB NOT NULL UNIQUE,
    status TEXT NOT NULL
);

CREATE TRIGGER IF NOT EXISTS mostrod_ts_order_changes_on_insert AFTER INSERT ON orders
BEGIN
    INSERT OR REPLACE INTO mostrod_ts_order_changes (order_id, status) VALUES (NEW.id, NEW.status);
END;

CREATE TRIGGER IF NOT EXISTS mostrod_ts_order_changes_on_status AFTER UPDATE OF status ON orders
WHEN NEW.status IS NOT OLD.status
BEGIN
    INSERT OR REPLACE INTO mostrod_ts_order_changes (order_id, status) VALUES (NEW.id, NEW.status);
END;

CREATE TRIGGER IF NOT EXISTS mostrod_ts_order_changes_on_delete AFTER DELETE ON orders
BEGIN
    DELETE FROM mostrod_ts_order_changes WHERE order_id = OLD.id;
END;
