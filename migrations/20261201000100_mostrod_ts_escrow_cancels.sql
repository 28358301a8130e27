-- mostrod-ts: durable record of every decision to cancel (refund) a seller's escrow.
-- A cancel (user, cooperative, waiting-state timeout, admin-cancel, escrow deadline guard) writes
-- its row in the same transaction as the order's status change, BEFORE LND's CancelInvoice, so a
-- crash or shutdown between the two cannot leave the escrow held until LND expires it: boot
-- reconciliation and the escrow deadline job finish every row whose done_at is NULL. The hash is
-- kept here because a taker reset erases it from the order. The Rust daemon never reads this table.
-- hash: the escrow's payment hash; order_id: the order's id (canonical uuid text);
-- reason: which path decided; decided_at / done_at: unix s (done_at NULL = CancelInvoice not yet
-- confirmed); notices: JSON [[recipient, message JSON], ...] the parties get once the cancel is
-- confirmed (NULL when done).

CREATE TABLE IF NOT EXISTS mostrod_ts_escrow_cancels (
    hash CHAR(64) PRIMARY KEY NOT NULL,
    order_id CHAR(36) NOT NULL,
    reason TEXT NOT NULL,
    decided_at INTEGER NOT NULL,
    done_at INTEGER,
    notices TEXT
);

CREATE INDEX IF NOT EXISTS idx_mostrod_ts_escrow_cancels_done_at ON mostrod_ts_escrow_cancels (done_at);
