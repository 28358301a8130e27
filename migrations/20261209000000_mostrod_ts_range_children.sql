-- mostrod-ts: range orders' children found by their parent, and no counterparty key on a sell parent.
-- Unknown to the Rust daemon: it does not use the index; the UPDATE clears values it would only
-- have used wrongly.

-- The payout reconciliation and the SETTLED-escrow path look up the child a release created
-- (`range_parent_id = ?`): an index range instead of a scan of every order. Partial: most orders
-- have no parent.
CREATE INDEX IF NOT EXISTS idx_orders_range_parent_id ON orders (range_parent_id) WHERE range_parent_id IS NOT NULL;

-- A release's claim now records a sell maker's `next_trade` on the order (next_trade_pubkey /
-- next_trade_index), so that a release finished from LND's SETTLED update can create the range
-- child. 0.17.1's fiat-sent stored the BUYER's `next_trade` on any range order (upstream #891), so a
-- live range sell order carried over from it may hold the counterparty's key there: cleared, so that it
-- never becomes the child's maker. (mostrod-ts's fiat-sent stores it only for buy makers.)
UPDATE orders SET next_trade_pubkey = NULL, next_trade_index = NULL
WHERE kind = 'sell' AND next_trade_pubkey IS NOT NULL AND min_amount IS NOT NULL AND max_amount IS NOT NULL
  AND status IN ('pending', 'waiting-buyer-invoice', 'waiting-payment', 'active', 'fiat-sent', 'dispute');
