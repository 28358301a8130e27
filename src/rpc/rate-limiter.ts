import type { Clock } from '../clock.js';

/**
 * Per-client rate limiter for the admin gRPC (DAEMON.md §7.4 algorithm, mostrod's constants).
 *
 * Each client key (its IP) has {failures, lastAttemptMs, lockedUntilMs}. `check` denies while a
 * lockout runs, and while the exponential backoff after the last failure runs
 * (BASE × 2^(failures−1) ms). `recordFailure` counts a failure and locks the client out for
 * LOCKOUT after MAX failures; `recordSuccess` forgets the client. Entries idle longer than the
 * retention and not locked are evicted at the start of every operation.
 *
 * Differences from 0.17.1 (whose limiter never denied anything, Q9): every RPC is checked and the
 * admin RPCs record their failures; `recordFailure` does not sleep (the backoff is enforced by
 * `check` instead, so a failing call answers at once). Time comes from the injected Clock.
 */
export const RATE_LIMIT_MAX_ATTEMPTS = 5;
export const RATE_LIMIT_LOCKOUT_MS = 300_000;
export const RATE_LIMIT_BASE_DELAY_MS = 1_000;

interface ClientState {
  failures: number;
  lastAttemptMs: number;
  lockedUntilMs: number | null;
}

export type RateDecision = { allowed: true } | { allowed: false; reason: string };

export class RateLimiter {
  private readonly clients = new Map<string, ClientState>();

  constructor(
    private readonly clock: Clock,
    private readonly retentionMs: number,
  ) {}

  check(key: string): RateDecision {
    const now = this.clock.nowMs();
    this.evictStale(now);
    const state = this.clients.get(key);
    if (state === undefined) return { allowed: true };
    if (state.lockedUntilMs !== null) {
      if (now < state.lockedUntilMs) {
        const secs = Math.floor((state.lockedUntilMs - now) / 1000);
        return { allowed: false, reason: `Too many failed attempts. Locked out for ${secs} seconds.` };
      }
      state.failures = 0;
      state.lockedUntilMs = null;
    }
    if (state.failures > 0) {
      const deadline = state.lastAttemptMs + backoffMs(state.failures);
      if (now < deadline) {
        const secs = Math.floor((deadline - now) / 1000) + 1;
        return { allowed: false, reason: `Rate limited. Try again in ${secs} seconds.` };
      }
    }
    return { allowed: true };
  }

  recordFailure(key: string): void {
    const now = this.clock.nowMs();
    this.evictStale(now);
    const state = this.clients.get(key) ?? { failures: 0, lastAttemptMs: now, lockedUntilMs: null };
    state.failures += 1;
    state.lastAttemptMs = now;
    if (state.failures >= RATE_LIMIT_MAX_ATTEMPTS) state.lockedUntilMs = now + RATE_LIMIT_LOCKOUT_MS;
    this.clients.set(key, state);
  }

  recordSuccess(key: string): void {
    this.evictStale(this.clock.nowMs());
    this.clients.delete(key);
  }

  /** Failures currently counted for `key` (0 when unknown). */
  failures(key: string): number {
    return this.clients.get(key)?.failures ?? 0;
  }

  get size(): number {
    return this.clients.size;
  }

  private evictStale(now: number): void {
    for (const [key, state] of this.clients) {
      const idle = now - state.lastAttemptMs > this.retentionMs;
      const locked = state.lockedUntilMs !== null && now < state.lockedUntilMs;
      if (idle && !locked) this.clients.delete(key);
    }
  }
}

function backoffMs(failures: number): number {
  return RATE_LIMIT_BASE_DELAY_MS * 2 ** Math.max(0, failures - 1);
}
