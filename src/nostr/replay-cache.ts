/**
 * Event ids already accepted by the intake, each kept until any request it could carry is stale
 * anyway (docs/PERFORMANCE.md "Memory").
 *
 * Fixed-capacity and allocated once: a ring of entries in insertion order (the first 8 bytes of
 * the id as two Uint32, the expiry as a Uint32 of unix seconds) and an open-addressing index
 * (linear probing, backward-shift deletion) of ring slots at a load factor of at most ½. For the
 * default 100 000 entries that is 2.2 MB from the start, whatever the traffic; a Map of 64-char
 * strings took 3.5 MB at 31 000 entries (100/s) and 11.7 MB full.
 *
 * Only a prefix is stored, so two different ids sharing their first 64 bits look alike: an id
 * would be taken for a duplicate (and a real request dropped) with a probability of about
 * n / 2^64 per lookup, n ≤ capacity entries held — ≈ 5·10⁻¹⁵ at 100 000. Ids are SHA-256
 * outputs; finding one that shares a prefix with a given id costs ~2^64 hashes, and an id only
 * enters the cache after its signature verified. The index mixes the prefix with a per-process
 * random key, so ids ground to collide in their low bits do not pile up in one probe run.
 *
 * Same semantics as the Map it replaces: `seen` is true for an id added and not expired;
 * `add` of a known id updates its expiry in place (it keeps its age); after an add, the oldest
 * entries are dropped while there are more than `capacity` or the oldest has expired.
 * Ids are lowercase 64-hex (a computed event id); anything else is never seen.
 * Times are whole unix seconds (Clock.now()), stored as Uint32 (until 2106).
 */
import { randomBytes } from 'node:crypto';

const HEX_ID = /^[0-9a-f]{64}$/;

export class ReplayCache {
  private readonly capacity: number;
  /** Ring, in insertion order: id prefix (high and low 32 bits) and expiry of each entry. */
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly exp: Uint32Array;
  private head = 0;
  private count = 0;
  /** Open-addressing index: ring slot + 1 of an entry, 0 = free. Power-of-two size. */
  private readonly index: Uint32Array;
  private readonly mask: number;
  private readonly key0: number;
  private readonly key1: number;

  /** `hashKey` (8 bytes) fixes the index's mixing key (tests); random by default. */
  constructor(capacity: number, hashKey: Uint8Array = randomBytes(8)) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`replay cache capacity must be a non-negative integer: ${capacity}`);
    this.capacity = capacity;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.exp = new Uint32Array(capacity);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Uint32Array(size);
    this.mask = size - 1;
    if (hashKey.length !== 8) throw new RangeError('replay cache: the hash key has 8 bytes');
    const key = new DataView(hashKey.buffer, hashKey.byteOffset, 8);
    this.key0 = key.getUint32(0, true);
    this.key1 = key.getUint32(4, true);
  }

  get size(): number {
    return this.count;
  }

  seen(id: string, now: number): boolean {
    if (!HEX_ID.test(id)) return false;
    const slot = this.find(parseInt(id.slice(0, 8), 16), parseInt(id.slice(8, 16), 16));
    return slot >= 0 && this.exp[slot]! >= now;
  }

  add(id: string, expiresAt: number, now: number): void {
    if (!HEX_ID.test(id)) throw new RangeError('replay cache: not an event id');
    if (this.capacity === 0) return;
    const hi = parseInt(id.slice(0, 8), 16);
    const lo = parseInt(id.slice(8, 16), 16);
    const expiry = Math.min(0xffffffff, Math.max(0, Math.floor(expiresAt)));
    const known = this.find(hi, lo);
    if (known >= 0) {
      this.exp[known] = expiry;
    } else {
      // Full: the oldest goes first (the Map version dropped it right after the insert).
      if (this.count === this.capacity) this.removeHead();
      const slot = (this.head + this.count) % this.capacity;
      this.hi[slot] = hi;
      this.lo[slot] = lo;
      this.exp[slot] = expiry;
      this.count++;
      let i = this.bucket(hi, lo);
      while (this.index[i] !== 0) i = (i + 1) & this.mask;
      this.index[i] = slot + 1;
    }
    // Expiries are roughly monotonic (insertion time + a constant): trim from the oldest.
    while (this.count > 0 && this.exp[this.head]! < now) this.removeHead();
  }

  private bucket(hi: number, lo: number): number {
    let h = Math.imul(lo ^ this.key0, 0x9e3779b1) ^ Math.imul(hi ^ this.key1, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae3d);
    h ^= h >>> 13;
    return h & this.mask;
  }

  /** Ring slot of the entry with this prefix, or -1. */
  private find(hi: number, lo: number): number {
    if (this.count === 0) return -1;
    for (let i = this.bucket(hi, lo); ; i = (i + 1) & this.mask) {
      const ref = this.index[i]!;
      if (ref === 0) return -1;
      const slot = ref - 1;
      if (this.lo[slot] === lo && this.hi[slot] === hi) return slot;
    }
  }

  private removeHead(): void {
    const slot = this.head;
    const hi = this.hi[slot]!;
    const lo = this.lo[slot]!;
    let i = this.bucket(hi, lo);
    while (this.index[i] !== slot + 1) i = (i + 1) & this.mask;
    // Backward-shift deletion: pull later entries of the probe run into the hole when their
    // home bucket is not strictly between the hole and their position (cyclically).
    let hole = i;
    for (let j = (hole + 1) & this.mask; ; j = (j + 1) & this.mask) {
      const ref = this.index[j]!;
      if (ref === 0) break;
      const home = this.bucket(this.hi[ref - 1]!, this.lo[ref - 1]!);
      if (((j - home) & this.mask) >= ((j - hole) & this.mask)) {
        this.index[hole] = ref;
        hole = j;
      }
    }
    this.index[hole] = 0;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }
}
