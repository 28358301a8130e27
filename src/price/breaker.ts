import type { BreakerState } from './types.js';

export interface BreakerPolicy {
  /** false: never opens (Yadio-only legacy mode keeps polling its one source every tick) */
  enabled: boolean;
  /** consecutive failures that open the breaker (values < 1 act as 1) */
  failureThreshold: number;
  /** first cooldown, seconds */
  cooldownSeconds: number;
  /** the doubling cooldown never exceeds this, seconds */
  maxCooldownSeconds: number;
}

/**
 * Per-provider circuit breaker. After `failureThreshold` consecutive failures the provider is
 * skipped until `now + cooldown`; the cooldown starts at `cooldownSeconds` and doubles with every
 * further failure (each failed trial poll after a cooldown) up to `maxCooldownSeconds`. When the
 * cooldown has passed the breaker is half-open: the next poll is a trial. A success closes it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil: number | null = null;

  constructor(private readonly policy: BreakerPolicy) {}

  state(now: number): BreakerState {
    if (this.openUntil === null) return 'closed';
    return now < this.openUntil ? 'open' : 'half-open';
  }

  /** Whether a poll may run now. */
  allows(now: number): boolean {
    return this.state(now) !== 'open';
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** When an open breaker lets the next poll through; null when closed. */
  get retryAt(): number | null {
    return this.openUntil;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.openUntil = null;
  }

  recordFailure(now: number): void {
    this.failures += 1;
    if (!this.policy.enabled) return;
    const threshold = Math.max(1, Math.trunc(this.policy.failureThreshold));
    if (this.failures < threshold) return;
    const doublings = Math.min(this.failures - threshold, 52);
    const cooldown = Math.min(this.policy.cooldownSeconds * 2 ** doublings, this.policy.maxCooldownSeconds);
    this.openUntil = now + cooldown;
  }
}
