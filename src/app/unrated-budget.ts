/**
 * `[mostro] unrated_orders_per_minute` and `unrated_takes_per_minute` (this port; 0 = off, as
 * mostrod): node-wide budgets of new orders and of takes from users nobody has rated yet — every
 * full-privacy user (a new identity each time) and every reputation-mode identity with
 * `total_reviews = 0`. A script working from fresh keys passes every per-identity limit and every
 * ban: it can fill the book with fake orders, or take every order and walk away (each take keeps
 * the maker's order out of the book until the waiting-state timeout). These budgets cap what it
 * can do per minute, while users with a rating never spend them and are never refused by them.
 * Over budget, the request gets cant-do `too_many_requests` (mostro-core 0.8 has it) and nothing
 * is written.
 *
 * Each budget is a token bucket: it holds at most N (a burst of N) and refills at N per minute,
 * counted in whole seconds of the daemon's clock. In memory: a restart starts with full buckets.
 */
import type { AppContext } from '../context.js';
import { getOrder } from '../db/orders.js';
import { getUser } from '../db/users.js';
import { CantDoError } from '../errors.js';
import type { Inbound } from './inbound.js';

/** One token bucket. */
export class UnratedBudget {
  private tokens = 0;
  private at: number | null = null;
  private refusals = 0;

  /** Requests refused since start (`mostrod_unrated_refused_total`). */
  get refused(): number {
    return this.refusals;
  }

  /**
   * Take one request from the budget of `perMinute` at `now` (unix seconds). True when it may go on
   * (always, when `perMinute` is 0); false (counted) when the budget is spent.
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

  /** Give back one token taken for a request that then wrote nothing (never above `perMinute`). */
  refund(perMinute: number): void {
    if (perMinute <= 0 || this.at === null) return;
    this.tokens = Math.min(perMinute, this.tokens + 1);
  }

}

/** The two budgets of a daemon (AppContext.unrated). */
export class UnratedBudgets {
  /** New orders from unrated makers (the new-order handler spends it). */
  readonly orders = new UnratedBudget();
  /** Takes by unrated takers (take-sell / take-buy spend it). */
  readonly takes = new UnratedBudget();
}

/**
 * take-sell / take-buy: refuse the take with cant-do `too_many_requests` when its taker is unrated
 * and the takes budget is spent. Called last, right before the take is written, so a take refused
 * for another reason spends nothing. One user lookup, only when the budget is set.
 *
 * Returns the take's write wrapper: it runs the write, and if the write fails and the order does
 * not carry this taker's trade key (a racing taker won, LND refused the escrow, the transaction
 * rolled back), the token goes back — only a take that was written spends the budget.
 */
export async function checkUnratedTake(ctx: AppContext, inbound: Inbound): Promise<<T>(orderId: string, write: () => Promise<T>) => Promise<T>> {
  const passThrough = <T>(_orderId: string, write: () => Promise<T>): Promise<T> => write();
  const budget = ctx.settings.mostro.unrated_takes_per_minute;
  if (budget === 0) return passThrough;
  // Full privacy (identity = trade key): never rated.
  if (inbound.identity !== inbound.tradeKey) {
    const user = await getUser(ctx.db, inbound.identity);
    if (user !== undefined && user.total_reviews > 0) return passThrough;
  }
  if (!ctx.unrated.takes.take(ctx.clock.now(), budget)) {
    throw new CantDoError('too_many_requests', `unrated takers' takes over ${budget} a minute (unrated_takes_per_minute)`);
  }
  return async <T>(orderId: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (err) {
      const now = await getOrder(ctx.db, orderId).catch(() => undefined);
      if (now !== undefined && now.buyer_pubkey !== inbound.tradeKey && now.seller_pubkey !== inbound.tradeKey) {
        ctx.unrated.takes.refund(budget);
      }
      throw err;
    }
  };
}
