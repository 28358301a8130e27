/**
 * Per-key async mutex. The router holds the order's lock while a handler runs, and jobs and
 * Lightning callbacks take the same lock before touching an order, so two state changes of one
 * order never interleave inside this process. (The DB writes are compare-and-set as well.)
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Whether `key` is currently locked (held, or waited on) by anyone in this process. */
  isHeld(key: string): boolean {
    return this.tails.has(key);
  }

  /** Number of keys currently locked or waited on (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
