-- mostrod-ts: the operator's audit trail and the record of what the node last published per order.
-- Neither table is read or written by the Rust daemon.
--
-- mostrod_ts_operator_audit: one row per operator action (OperatorService repair RPCs):
--   at: unix time; who: token name and/or peer address; action: RPC name; target: order/dispute id
--   (NULL when the action has none); request: JSON of the request; outcome: 'ok', 'refused' or
--   'error'; detail: what happened, in words.
-- mostrod_ts_order_publications: the last kind-38383 event this node queued for each order
--   (d tag), with its `s` status — compared with the orders table to find public events that lag
--   the database.

CREATE TABLE IF NOT EXISTS mostrod_ts_operator_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    request TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_mostrod_ts_operator_audit_target ON mostrod_ts_operator_audit (target);

CREATE TABLE IF NOT EXISTS mostrod_ts_order_publications (
    order_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    event_id CHAR(64) NOT NULL,
    created_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
