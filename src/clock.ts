/** Time source. Everything that needs "now" takes a Clock so tests can move time without sleeping. */
export interface Clock {
  /** Current unix time in whole seconds. */
  now(): number;
  /** Current unix time in milliseconds (for latency measurements and backoff only). */
  nowMs(): number;
}

export const systemClock: Clock = {
  now: () => Math.floor(Date.now() / 1000),
  nowMs: () => Date.now(),
};
