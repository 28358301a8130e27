-- mostrod-ts: the banned identity keys (users.is_banned, set by the OperatorService's BanUser) found
-- without reading every user. Unknown to the Rust daemon: it never reads is_banned.
--
-- The daemon reads the banned keys at start, after every ban or unban, and every minute (the
-- expire-pending-orders job, so a ban written into the database behind the daemon's back takes
-- effect within a minute). A partial index holds only the banned rows: a user row written with
-- is_banned = 0 (every new trader) adds no entry to it.
CREATE INDEX IF NOT EXISTS idx_users_banned ON users (pubkey) WHERE is_banned != 0;
