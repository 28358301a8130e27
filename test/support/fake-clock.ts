import type { Clock } from '../../src/clock.js';

/** A clock tests move by hand (no sleeping). */
export class FakeClock implements Clock {
  private ms: number;

  constructor(startUnixSeconds: number = 1_700_000_000) {
    this.ms = startUnixSeconds * 1000;
  }

  now(): number {
    return Math.floor(this.ms / 1000);
  }

  nowMs(): number {
    return this.ms;
  }

  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }

  set(unixSeconds: number): void {
    this.ms = unixSeconds * 1000;
  }
}
