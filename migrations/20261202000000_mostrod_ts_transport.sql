-- mostrod-ts: the wire transport each trade key speaks (protocol v1 gift wrap or protocol v2
-- kind-14 NIP-44 direct message), so that every message to that key — replies and unsolicited
-- ones — goes out on it, also after a restart. Written when an authenticated request from the key
-- arrives on a transport other than the one remembered (or for a key never seen).
-- The Rust daemon never reads this table.
-- transport: 'gift-wrap' | 'nip44'; first_seen_at / updated_at: unix seconds.

CREATE TABLE IF NOT EXISTS mostrod_ts_transport (
    pubkey CHAR(64) PRIMARY KEY NOT NULL,
    transport TEXT NOT NULL CHECK (transport IN ('gift-wrap', 'nip44')),
    first_seen_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
