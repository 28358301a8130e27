-- mostrod-ts: which order each invoice fetched from a buyer's Lightning address / LNURL was
-- resolved for (issue 12, simulation finding F6). A payout writes the row right after the LNURL
-- callback answers and before any other await, so when a provider hands the same invoice to two
-- orders (a stale or reused invoice), the order it was issued to first keeps it and the other
-- refuses it: without this, the second order could claim and pay it (paying the first order's
-- buyer with its sats) before the first order claimed it. Unknown to the Rust daemon.
CREATE TABLE IF NOT EXISTS mostrod_ts_resolved_invoices (
  payment_hash CHAR(64) PRIMARY KEY NOT NULL,
  order_id CHAR(36) NOT NULL,
  target TEXT NOT NULL,
  resolved_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mostrod_ts_resolved_invoices_order ON mostrod_ts_resolved_invoices (order_id);
