-- mostrod-ts: a durable outbox for the notices a durable mark says were sent (simulation finding
-- F9). The release paths (release, admin-settle, the payout reconciliation, a SETTLED update that
-- finishes a release), the payout's end (purchase-completed, payment-failed, add-invoice) and the
-- end of an escrow cancel write their notices here in the same transaction as the mark, then hand
-- them to the outbox. The wrapped event is recorded before its first hand-off, so a restarted
-- daemon re-sends the very same event (relays and clients drop a repeat); a row is deleted once a
-- relay accepted its event. Unknown to the Rust daemon.
CREATE TABLE IF NOT EXISTS mostrod_ts_notices (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id CHAR(36),
  recipient CHAR(64) NOT NULL,
  message TEXT NOT NULL,
  queued_at INTEGER NOT NULL,
  event TEXT
);
