-- mostrod-ts: range orders' children. Unknown to the Rust daemon (it neither reads the table nor
-- uses the index).

-- A seller's release of a range order (app/flows/range-child.ts): written with the release's
-- claim, it says the remainder is due as a child order once the escrow is settled (after a release;
-- not after admin-settle) and keeps a sell maker's next trade key from the release message. The
-- child is created with the payout-started mark, whichever path writes it (the release; the payout
-- reconciliation resuming a release cut short; LND's SETTLED update finishing a release whose claim
-- was reverted), and that transaction deletes the row. admin-settle's claim deletes it too.
CREATE TABLE IF NOT EXISTS mostrod_ts_range_releases (
    order_id BLOB PRIMARY KEY NOT NULL,
    next_trade_pubkey TEXT,
    next_trade_index INTEGER,
    released_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The child of a parent (`range_parent_id = ?`): an index range instead of a scan of every order.
-- Partial: most orders have no parent.
CREATE INDEX IF NOT EXISTS idx_orders_range_parent_id ON orders (range_parent_id) WHERE range_parent_id IS NOT NULL;
