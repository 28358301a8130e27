/**
 * Pure price and fee formulas (HANDLERS.md §3.1, §3.2, §3.4), reproducing the f64 arithmetic of
 * mostrod 0.17.1 operation for operation so the same inputs give the same sats:
 *
 *   creation quote  (fiat as f64 / price) * 1e8                         → `as i64`
 *   market quote    s = (fiat as f64 / price) * 1e8; s - premium/100 * s → `as i64`
 *   mostro fee      ((fee * amount as f64) / 2.0).round()               → `as i64`
 *   dev fee         ((2 * fee) as f64 * pct).round()                    → `as i64`
 *
 * `f64::round` rounds half away from zero (JS `Math.round` rounds half towards +∞), and `as i64`
 * truncates towards zero, saturates at the i64 bounds and maps NaN to 0.
 */

/** i64::MAX / i64::MIN as the nearest doubles (what `f64 as i64` saturates to, seen as f64). */
const I64_MAX_AS_F64 = 2 ** 63;
const I64_MIN_AS_F64 = -(2 ** 63);

/** `f64::round`: nearest integer, ties away from zero. Exact for every double. */
export function roundHalfAwayFromZero(x: number): number {
  if (!Number.isFinite(x)) return x;
  const t = Math.trunc(x);
  // x − trunc(x) is exact in binary floating point, so the tie test is exact too.
  const r = Math.abs(x - t) >= 0.5 ? t + Math.sign(x) : t;
  return r === 0 ? 0 : r; // no negative zero
}

/** `f64 as i64`: truncate towards zero, saturate, NaN → 0 (result as a JS number). */
export function f64AsI64(x: number): number {
  if (Number.isNaN(x)) return 0;
  if (x >= I64_MAX_AS_F64) return I64_MAX_AS_F64;
  if (x <= I64_MIN_AS_F64) return I64_MIN_AS_F64;
  const t = Math.trunc(x);
  return t === 0 ? 0 : t;
}

function checkPrice(price: number): void {
  // Upstream HEAD refuses a non-positive price; 0.17.1 would have divided by it.
  if (!Number.isFinite(price) || price <= 0) {
    throw new RangeError(`invalid BTC price ${price}`);
  }
}

function btcToSats(fiatAmount: number, price: number): number {
  checkPrice(price);
  return (fiatAmount / price) * 1e8;
}

/**
 * Sats of `fiatAmount` at `price` (fiat per BTC) for the new-order limit check: no premium
 * (0.17.1 `app/order.rs`). Negative fiat gives a negative quote (the caller refuses it).
 * @throws RangeError when price is not a finite positive number.
 */
export function creationQuoteSats(fiatAmount: number, price: number): number {
  return f64AsI64(btcToSats(fiatAmount, price));
}

/**
 * Sats a market-price order locks at take time, with the premium applied (a positive premium
 * lowers the sats). Uses the cached price instead of 0.17.1's live `/convert` call.
 * @throws RangeError when price is not a finite positive number.
 */
export function marketQuoteSats(fiatAmount: number, price: number, premium: number): number {
  let sats = btcToSats(fiatAmount, price);
  if (premium !== 0) sats = sats - (premium / 100) * sats;
  return f64AsI64(sats);
}

/** Per-party Mostro fee: round((fee × amount) / 2), half away from zero (0.17.1 `get_fee`). */
export function mostroFee(amountSats: number, feeFraction: number): number {
  return f64AsI64(roundHalfAwayFromZero((feeFraction * amountSats) / 2));
}

/**
 * Total dev fee from the per-party Mostro fee: round(2 × fee × pct), half away from zero
 * (0.17.1 `get_dev_fee(order.fee * 2)`).
 */
export function devFee(perPartyFee: number, pct: number): number {
  return f64AsI64(roundHalfAwayFromZero(perPartyFee * 2 * pct));
}
