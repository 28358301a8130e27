/**
 * Routing fee cap for outgoing payments (HANDLERS.md §5.1, DAEMON.md §5.6):
 * A ≤ 1000 sats → max(A × 0.01, 10); otherwise A × max_routing_fee; truncated to whole sats.
 */
export function routingFeeLimit(amountSats: number, maxRoutingFee: number): number {
  const fee = amountSats <= 1000 ? Math.max(amountSats * 0.01, 10) : amountSats * maxRoutingFee;
  return Math.trunc(fee);
}
