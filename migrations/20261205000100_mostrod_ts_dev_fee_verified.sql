-- mostrod-ts: when LND last confirmed (or denied) a paid dev fee, so the dev-fee job verifies each
-- paid fee once instead of re-reading every paid fee in history every minute (0.17.1 and the first
-- port kept that in memory: 1.1 s per pass at 100,000 orders, and every fee asked again after each
-- restart). NULL = not verified yet. The partial index holds only paid, unverified rows, so a pass
-- costs what is left to verify. Unknown to the Rust daemon (its SELECT * decoding ignores extras).
ALTER TABLE orders ADD COLUMN dev_fee_verified_at INTEGER;
CREATE INDEX IF NOT EXISTS idx_orders_dev_fee_unverified ON orders (dev_fee_paid) WHERE dev_fee_paid = 1 AND dev_fee_verified_at IS NULL;
