-- mostrod-ts: durable queue of public events waiting to be published (kind-38384 rating events).
-- mostrod 0.17.1 kept them in memory only and lost them on restart (QUIRK Q26). A row is written in
-- the same transaction as the state change that produced the event, published, then deleted.
-- The Rust daemon never reads this table.
-- tags: JSON array of string arrays; created_at: the event's created_at (unix s);
-- queued_at: when the row was written; claimed_at: when a publisher took it (NULL = free).

CREATE TABLE IF NOT EXISTS mostrod_ts_event_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    tags TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    queued_at INTEGER NOT NULL,
    claimed_at INTEGER
);
