-- mostrod-ts: bounded growth of the transport table (protocol v2). Every v2 request comes from a
-- fresh trade key, and each key's row was kept forever; the transport-prune job now deletes the
-- rows of keys the node will not message any more (src/scheduler/jobs/prune-transports.ts).
-- Unknown to the Rust daemon: it never reads mostrod_ts_transport, and its writes to `orders`
-- maintain the partial indexes below like any other index.

-- last_seen_at: unix seconds of the key's last activity — a request from it or a message to it —
-- written at most once per day per key (src/nostr/transport-registry.ts); the job also sets it
-- when it finds an idle key still in use (so it looks at it again only a retention later). Rows
-- that exist before this migration get the time of the migration: every remembered key keeps a
-- whole retention period from the upgrade, since when it was last active is not known.
ALTER TABLE mostrod_ts_transport ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE mostrod_ts_transport SET last_seen_at = max(updated_at, CAST(strftime('%s', 'now') AS INTEGER));
-- The job walks the keys idle for longer than the retention, oldest first.
CREATE INDEX IF NOT EXISTS idx_mostrod_ts_transport_last_seen ON mostrod_ts_transport (last_seen_at);

-- "Is this key on an order that is not finished?", asked for each idle key. Partial indexes: they
-- hold only orders in a non-terminal status, so their size follows the live book, not the history
-- (a full index on a trade-key column grows by ~75 bytes per order forever — as much as the
-- transport row the job deletes). The query must repeat the status list word for word
-- (FINISHED_STATUSES_SQL in src/db/transports.ts) for SQLite to use them. The creator's key is
-- always the maker side's buyer_pubkey or seller_pubkey (new-order, trade-pubkey and the range
-- child set both together; a taker reset clears only the taker side): no index of its own.
CREATE INDEX IF NOT EXISTS idx_orders_live_buyer_pubkey ON orders (buyer_pubkey)
  WHERE status NOT IN ('expired', 'success', 'canceled', 'canceled-by-admin', 'completed-by-admin', 'settled-by-admin', 'cooperatively-canceled')
    AND buyer_pubkey IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_orders_live_seller_pubkey ON orders (seller_pubkey)
  WHERE status NOT IN ('expired', 'success', 'canceled', 'canceled-by-admin', 'completed-by-admin', 'settled-by-admin', 'cooperatively-canceled')
    AND seller_pubkey IS NOT NULL;
-- A range order's next trade key (the maker's key for the child order, named in advance).
CREATE INDEX IF NOT EXISTS idx_orders_live_next_trade_pubkey ON orders (next_trade_pubkey)
  WHERE status NOT IN ('expired', 'success', 'canceled', 'canceled-by-admin', 'completed-by-admin', 'settled-by-admin', 'cooperatively-canceled')
    AND next_trade_pubkey IS NOT NULL;
