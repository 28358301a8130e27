/**
 * `[mostro] unrated_orders_per_minute` (this port; 0 = off, as mostrod): a node-wide budget of new
 * orders from makers nobody has rated yet — every full-privacy maker (a new identity each time)
 * and every reputation-mode identity with `total_reviews = 0`. A script that fills the book from
 * fresh keys passes every per-identity limit and every ban; this caps what it can add to the book
 * per minute, while makers with a rating are never limited by it. Over budget, a new order gets
 * cant-do `too_many_requests` (mostro-core 0.8 has it) and nothing is written.
 *
 * A token bucket: it holds at most N orders (a burst of N) and refills at N per minute, counted in
 * whole seconds of the daemon's clock. In memory: a restart starts with a full bucket.
 */
export class UnratedOrderBudget {
  private tokens = 0;
  private at: number | null = null;
  private refusals = 0;

  /** New orders refused since start (`mostrod_unrated_orders_refused_total`). */
  get refused(): number {
    return this.refusals;
  }

  /**
   * Take one order from the budget of `perMinute` at `now` (unix seconds). True when the order may
   * go on (always, when `perMinute` is 0); false (counted) when the budget is spent.
   */
  take(now: number, perMinute: number): boolean {
    if (perMinute <= 0) return true;
    if (this.at === null) {
      this.tokens = perMinute;
    } else if (now > this.at) {
      this.tokens = Math.min(perMinute, this.tokens + ((now - this.at) * perMinute) / 60);
    }
    this.at = Math.max(this.at ?? now, now);
    // Never above a lowered setting.
    this.tokens = Math.min(this.tokens, perMinute);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refusals++;
    return false;
  }

}
