-- mostrod-ts: an identity for every buyer payout claim, and a durable mark for a payout success
-- that could not complete its order. Both columns are unknown to the Rust daemon, which neither
-- reads nor writes them (its inserts list their columns; its SELECT * decoding ignores extras).
-- payout_claim_seq: incremented by every payout claim (compare-and-set). Every later write about a
--   claim (failure accounting, clearing a claim LND never saw, completion bookkeeping) matches the
--   payment hash AND this number, so an answer about an earlier attempt on the same invoice (same
--   payment hash) can never resolve a newer attempt.
-- payout_lost_success_hash: payment hash LND reported SUCCEEDED for this order's payout when the
--   order could no longer be completed by it (already completed by another payment, or no longer
--   awaiting its payout). Written once, never cleared by the daemon: an operator must look.

ALTER TABLE orders ADD COLUMN payout_claim_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN payout_lost_success_hash CHAR(64);
