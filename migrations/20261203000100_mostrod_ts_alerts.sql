-- mostrod-ts: operator alert incidents and the readiness probe's write check.
-- Neither table is read or written by the Rust daemon.
--
-- mostrod_ts_alert_incidents: one row per incident ([alerts], docs/OPERATIONS.md). `key` names the
--   condition (e.g. "lnd-down", "payout-stranded:<order id>"); at most one OPEN row (resolved_at
--   NULL) per key. notified_at: when a relay accepted the alert DM (NULL = not delivered yet, retried
--   at the next check); resolved_at: when the condition cleared; resolved_notified_at: when the
--   "resolved" DM was accepted. Kept across restarts so a still-open incident is not alerted again.
-- mostrod_ts_health: a single row /readyz rewrites to prove the database accepts writes.

CREATE TABLE IF NOT EXISTS mostrod_ts_alert_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    notified_at INTEGER,
    resolved_at INTEGER,
    resolved_notified_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_mostrod_ts_alert_incidents_open
    ON mostrod_ts_alert_incidents (key) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_mostrod_ts_alert_incidents_resolved_at
    ON mostrod_ts_alert_incidents (resolved_at);

CREATE TABLE IF NOT EXISTS mostrod_ts_health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
