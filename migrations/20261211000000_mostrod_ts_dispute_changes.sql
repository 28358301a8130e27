-- mostrod-ts: the dispute change log — the disputes whose kind-38386 event may not be on any relay.
-- Unknown to the Rust daemon: it neither reads the table nor depends on it; its own writes to
-- `disputes` fire the triggers too.
--
-- A dispute's 38386 event is how solvers learn that a dispute is waiting for them. mostrod (and this
-- port before session 34) published it once, after the dispute's commit: an event lost with a
-- process that stopped before a relay had it, or refused by every relay through the outbox's
-- retries, was never published again — the dispute stayed invisible to solvers while the seller's
-- escrow waited for a decision. As for orders (migration 20261204000000), triggers write one row per
-- dispute when it is inserted or its status changes (a newer change replaces the row with a higher
-- seq); the row is deleted once a relay accepted the event for that status, and the `book-sync` job
-- publishes the event again for the rows left behind.
-- seq: increasing change number.
CREATE TABLE IF NOT EXISTS mostrod_ts_dispute_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dispute_id BLOB NOT NULL UNIQUE,
    status TEXT NOT NULL
);

CREATE TRIGGER IF NOT EXISTS mostrod_ts_dispute_changes_on_insert AFTER INSERT ON disputes
BEGIN
    INSERT OR REPLACE INTO mostrod_ts_dispute_changes (dispute_id, status) VALUES (NEW.id, NEW.status);
END;

CREATE TRIGGER IF NOT EXISTS mostrod_ts_dispute_changes_on_status AFTER UPDATE OF status ON disputes
WHEN NEW.status IS NOT OLD.status
BEGIN
    INSERT OR REPLACE INTO mostrod_ts_dispute_changes (dispute_id, status) VALUES (NEW.id, NEW.status);
END;

CREATE TRIGGER IF NOT EXISTS mostrod_ts_dispute_changes_on_delete AFTER DELETE ON disputes
BEGIN
    DELETE FROM mostrod_ts_dispute_changes WHERE dispute_id = OLD.id;
END;

-- Open disputes of a node upgraded to this version: their event is published once more (an
-- addressable event replaces itself), so one that was lost before the upgrade reaches the solvers.
INSERT OR IGNORE INTO mostrod_ts_dispute_changes (dispute_id, status)
    SELECT id, status FROM disputes WHERE status IN ('initiated', 'in-progress');

-- The created_at of the last event published per addressable coordinate other than an order's
-- (those are in mostrod_ts_order_publications): today the disputes' 38386. A restarted process reads
-- the last minute's rows before it publishes, so its next event of a dispute comes after its
-- predecessor's (nostr/created-at.ts; simulation finding F16, for disputes).
CREATE TABLE IF NOT EXISTS mostrod_ts_event_times (
    kind INTEGER NOT NULL,
    d TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, d)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_mostrod_ts_event_times_created_at ON mostrod_ts_event_times (created_at);
