/**
 * created_at of replaceable and addressable events (NIP-01): strictly increasing per coordinate
 * (kind, d), so a later state always replaces an earlier one on relays. Relays keep the newest
 * event of a coordinate and, on a created_at tie, the one with the lowest id — a same-second update
 * (STACK.md §8), or the first update after a restart in the second of the previous process's last
 * one, would otherwise be a coin toss, and an update timed before the previous process's last
 * (its same-second bumps run ahead of the clock) would be dropped.
 *
 * In memory: the last minute's coordinates (older ones cannot bump a created_at taken from the
 * clock). A restarted process learns its predecessor's from the publication ledger
 * (`remember`, ops/publication-ledger.ts restoreOrderEventTimes).
 */
import { LruCache } from '../crypto/lru-cache.js';

export function isReplaceable(kind: number): boolean {
  return kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000) || (kind >= 30000 && kind < 40000);
}

/** The coordinate of a replaceable/addressable event, or null for a regular one. */
export function coordinateOf(kind: number, tags: readonly (readonly string[])[]): string | null {
  if (!isReplaceable(kind)) return null;
  const d = kind >= 30000 ? (tags.find((t) => t[0] === 'd')?.[1] ?? '') : '';
  return `${kind}:${d}`;
}

/** Seconds an entry is kept after the created_at it holds (older ones are evicted). */
const KEEP_SECONDS = 60;

export class CreatedAtClock {
  private readonly last = new LruCache<string, number>(100_000);

  /**
   * The created_at an event gets: `wanted` (normally now) — for a replaceable/addressable kind,
   * strictly after the last one given to its coordinate.
   */
  reserve(kind: number, tags: readonly (readonly string[])[], wanted: number): number {
    const key = coordinateOf(kind, tags);
    if (key === null) return wanted;
    let createdAt = wanted;
    const last = this.last.get(key);
    if (last !== undefined && createdAt <= last) createdAt = last + 1;
    this.last.set(key, createdAt);
    // Only an entry at or after the current second can bump a created_at: older ones (every order
    // published more than a minute ago) are dropped, so the map holds the last minute's events
    // rather than up to 100,000 orders.
    this.last.evictWhile((t) => t < createdAt - KEEP_SECONDS);
    return createdAt;
  }

  /**
   * An event of this coordinate was published with `createdAt` (by an earlier process): the next
   * one gets a later created_at. Never moves a coordinate backwards.
   */
  remember(kind: number, d: string, createdAt: number): void {
    const key = coordinateOf(kind, [['d', d]]);
    if (key === null) return;
    const last = this.last.peek(key);
    if (last === undefined || last < createdAt) this.last.set(key, createdAt);
  }

  /** Coordinates held (tests). */
  get size(): number {
    return this.last.size;
  }
}
