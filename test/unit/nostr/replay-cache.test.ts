import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayCache } from '../../../src/nostr/replay-cache.js';

/** The Map-based cache the typed-array one replaced: the reference semantics. */
class MapReplayCache {
  private readonly expiries = new Map<string, number>();
  constructor(private readonly capacity: number) {}
  seen(id: string, now: number): boolean {
    const exp = this.expiries.get(id);
    return exp !== undefined && exp >= now;
  }
  add(id: string, expiresAt: number, now: number): void {
    this.expiries.set(id, expiresAt);
    for (const [k, exp] of this.expiries) {
      if (this.expiries.size <= this.capacity && exp >= now) break;
      this.expiries.delete(k);
    }
  }
  get size(): number {
    return this.expiries.size;
  }
}

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomId(next: () => number): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += Math.floor(next() * 2 ** 32).toString(16).padStart(8, '0');
  return s;
}

const id = (n: number): string => n.toString(16).padStart(16, '0') + 'ab'.repeat(24);
const T = 1_700_000_000;

void describe('ReplayCache', () => {
  void test('an added id is seen until its expiry, then not', () => {
    const c = new ReplayCache(10);
    assert.equal(c.seen(id(1), T), false);
    c.add(id(1), T + 311, T);
    assert.equal(c.seen(id(1), T), true);
    assert.equal(c.seen(id(1), T + 311), true);
    assert.equal(c.seen(id(1), T + 312), false);
    assert.equal(c.seen(id(2), T), false);
    assert.equal(c.size, 1);
  });

  void test('expired entries are forgotten on the next add', () => {
    const c = new ReplayCache(10);
    c.add(id(1), T + 10, T);
    c.add(id(2), T + 20, T);
    c.add(id(3), T + 50, T + 15);
    assert.equal(c.size, 2, 'id 1 expired at T+10 and was dropped');
    assert.equal(c.seen(id(1), T + 15), false);
    assert.equal(c.seen(id(2), T + 15), true);
  });

  void test('beyond capacity the oldest entry is evicted first', () => {
    const c = new ReplayCache(3);
    for (let i = 1; i <= 5; i++) c.add(id(i), T + 1000, T);
    assert.equal(c.size, 3);
    assert.deepEqual([1, 2, 3, 4, 5].map((i) => c.seen(id(i), T)), [false, false, true, true, true]);
  });

  void test('re-adding a known id updates its expiry and keeps its age', () => {
    const c = new ReplayCache(2);
    c.add(id(1), T + 10, T);
    c.add(id(2), T + 10, T);
    c.add(id(1), T + 100, T);
    assert.equal(c.size, 2);
    c.add(id(3), T + 100, T);
    // id 1 is still the oldest: it goes, not id 2.
    assert.equal(c.seen(id(1), T), false);
    assert.equal(c.seen(id(2), T), true);
    assert.equal(c.seen(id(3), T), true);
  });

  void test('only the first 64 bits are compared (n/2^64 false positives)', () => {
    const c = new ReplayCache(4);
    const a = 'f'.repeat(16) + '0'.repeat(48);
    c.add(a, T + 10, T);
    assert.equal(c.seen('f'.repeat(16) + '1'.repeat(48), T), true);
    assert.equal(c.seen('f'.repeat(15) + 'e' + '0'.repeat(48), T), false);
  });

  void test('anything but a lowercase 64-hex id is never seen and cannot be added', () => {
    const c = new ReplayCache(4);
    c.add(id(7), T + 10, T);
    assert.equal(c.seen(id(7).toUpperCase(), T), false);
    assert.equal(c.seen(id(7).slice(1), T), false);
    assert.equal(c.seen('', T), false);
    assert.throws(() => c.add('xyz', T + 10, T), RangeError);
  });

  void test('capacity 0 remembers nothing; bad capacities are refused', () => {
    const c = new ReplayCache(0);
    c.add(id(1), T + 10, T);
    assert.equal(c.seen(id(1), T), false);
    assert.equal(c.size, 0);
    assert.throws(() => new ReplayCache(-1), RangeError);
    assert.throws(() => new ReplayCache(1.5), RangeError);
  });

  void test('full at the default capacity: bounded and still exact', () => {
    const next = rng(7);
    const c = new ReplayCache(100_000);
    const ids: string[] = [];
    for (let i = 0; i < 130_000; i++) {
      const x = randomId(next);
      ids.push(x);
      c.add(x, T + 311, T);
    }
    assert.equal(c.size, 100_000);
    assert.equal(c.seen(ids[29_999]!, T), false);
    assert.equal(c.seen(ids[30_000]!, T), true);
    assert.equal(c.seen(ids[129_999]!, T), true);
  });

  void test('property: same answers as the Map version over seeded random operations', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const next = rng(seed);
      const capacity = Math.floor(next() * 40);
      const key = new Uint8Array(8).map(() => Math.floor(next() * 256));
      const ours = new ReplayCache(capacity, key);
      const ref = new MapReplayCache(capacity);
      // A small pool of ids so that repeats (seen, re-add) happen often; small capacities mean
      // small index tables, so probe runs collide and wrap around (backward-shift deletion).
      const pool = Array.from({ length: 5 + Math.floor(next() * 80) }, () => randomId(next));
      let now = T;
      for (let op = 0; op < 2_000; op++) {
        now += Math.floor(next() * 3);
        const x = pool[Math.floor(next() * pool.length)]!;
        if (next() < 0.5) {
          // Expiries mostly monotonic, sometimes not (re-adds, other windows).
          const ttl = next() < 0.9 ? 20 : Math.floor(next() * 60) - 5;
          ours.add(x, now + ttl, now);
          ref.add(x, now + ttl, now);
          assert.equal(ours.size, ref.size, `seed ${seed} op ${op}: size`);
        } else {
          assert.equal(ours.seen(x, now), ref.seen(x, now), `seed ${seed} op ${op}: seen`);
        }
      }
      for (const x of pool) assert.equal(ours.seen(x, now), ref.seen(x, now), `seed ${seed} end: ${x}`);
    }
  });
});
