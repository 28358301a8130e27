/**
 * NIP-44 v2 conversation keys: HKDF-extract(salt = "nip44-v2", IKM = ECDH shared x).
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { ecdhSharedX, isHex64 } from './secp.js';

/** The HKDF salt as a KeyObject, made once: a Buffer key costs ≈ 10 µs more per call on Node 24 (nip44.ts). */
const SALT = createSecretKey(Buffer.from('nip44-v2', 'utf8'));

/** Conversation key between `secretKey` and x-only `pubkeyHex`. Throws on an invalid public key. */
export function conversationKey(secretKey: Uint8Array, pubkeyHex: string): Uint8Array {
  const shared = ecdhSharedX(secretKey, pubkeyHex);
  return new Uint8Array(createHmac('sha256', SALT).update(shared).digest());
}

/**
 * Conversation keys of ONE fixed secret key (the node's) with long-lived peers — identity and
 * trade keys at the seal layer — kept in a bounded cache. The wrap layer uses a fresh ephemeral key
 * per event and must not go through this cache (it would only evict useful entries).
 *
 * Fixed memory, allocated once (docs/PERFORMANCE.md "Memory"): a ring of `capacity` slots holding
 * each peer's 32-byte x-only key and its 32-byte conversation key, a referenced bit per slot, and
 * an open-addressing index of slots (linear probing, backward-shift deletion, load ≤ ½) whose hash
 * is keyed per process, so keys ground to collide do not pile up in one probe run. 10,000 entries
 * are about 0.7 MB whatever the traffic; the Map of hex strings and Uint8Arrays it replaces grew to
 * about 2.5 MB of V8 heap per cache as reply recipients (a new trade key per order) filled it.
 *
 * Eviction is CLOCK (second chance): when full, the oldest slot is reused unless it was used since
 * it was cached or last passed over; a used one has its bit cleared and counts as newest. Keys in
 * steady use stay; a key seen once leaves after `capacity` newer ones — an approximation of LRU
 * whose miss costs one ECDH. Lookups compare the whole key.
 */
export class ConversationKeyCache {
  private readonly capacity: number;
  private readonly peers: Uint8Array;
  private readonly keys: Uint8Array;
  private readonly referenced: Uint8Array;
  private head = 0;
  private count = 0;
  /** Slot + 1 of each entry, 0 = free. Power-of-two size. */
  private readonly index: Uint32Array;
  private readonly mask: number;
  private readonly mix: number;
  private readonly peer = new Uint8Array(32);
  hits = 0;
  misses = 0;

  constructor(
    private readonly secretKey: Uint8Array,
    capacity = 10_000,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('conversation key cache capacity must be a positive integer');
    this.capacity = capacity;
    this.peers = new Uint8Array(capacity * 32);
    this.keys = new Uint8Array(capacity * 32);
    this.referenced = new Uint8Array(capacity);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Uint32Array(size);
    this.mask = size - 1;
    this.mix = randomBytes(4).readUInt32LE(0) | 1;
  }

  get(pubkeyHex: string): Uint8Array {
    const slot = this.lookup(pubkeyHex);
    if (slot >= 0) {
      this.hits++;
      return this.keys.slice(slot * 32, slot * 32 + 32);
    }
    this.misses++;
    const key = conversationKey(this.secretKey, pubkeyHex);
    this.insert(key);
    return key;
  }

  /**
   * Run `use` with the key of `pubkeyHex` and cache the key only if `use` returned (e.g. a
   * decryption whose MAC verified): keys from events that fail — junk from fresh random keys —
   * never evict the keys of real peers.
   */
  use<T>(pubkeyHex: string, use: (key: Uint8Array) => T): T {
    const slot = this.lookup(pubkeyHex);
    if (slot >= 0) {
      this.hits++;
      return use(this.keys.slice(slot * 32, slot * 32 + 32));
    }
    this.misses++;
    const key = conversationKey(this.secretKey, pubkeyHex);
    const out = use(key);
    // `use` may have looked up other keys: parse this one again into the scratch buffer.
    if (this.lookup(pubkeyHex) < 0) this.insert(key);
    return out;
  }

  get size(): number {
    return this.count;
  }

  /** Parses `pubkeyHex` into `this.peer`; the slot holding it (marked used), or -1. */
  private lookup(pubkeyHex: string): number {
    if (!isHex64(pubkeyHex) || Buffer.from(this.peer.buffer, this.peer.byteOffset, 32).write(pubkeyHex, 'hex') !== 32) {
      throw new Error('invalid public key');
    }
    if (this.count === 0) return -1;
    for (let i = this.bucket(); ; i = (i + 1) & this.mask) {
      const ref = this.index[i]!;
      if (ref === 0) return -1;
      if (this.holds(ref - 1)) {
        this.referenced[ref - 1] = 1;
        return ref - 1;
      }
    }
  }

  private holds(slot: number): boolean {
    const base = slot * 32;
    for (let j = 0; j < 32; j++) if (this.peers[base + j] !== this.peer[j]) return false;
    return true;
  }

  /** Home bucket of the key in `this.peer` (first 8 bytes, keyed mix). */
  private bucket(): number {
    return this.bucketOf(this.peer, 0);
  }

  private bucketOf(bytes: Uint8Array, base: number): number {
    const a = (bytes[base]! | (bytes[base + 1]! << 8) | (bytes[base + 2]! << 16) | (bytes[base + 3]! << 24)) >>> 0;
    const b = (bytes[base + 4]! | (bytes[base + 5]! << 8) | (bytes[base + 6]! << 16) | (bytes[base + 7]! << 24)) >>> 0;
    let h = Math.imul(a ^ this.mix, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae3d);
    h ^= h >>> 13;
    return h & this.mask;
  }

  /** Caches `key` for the peer in `this.peer` (not present). */
  private insert(key: Uint8Array): void {
    if (this.count === this.capacity) {
      // Second chance: used slots become the newest (full ring: advancing the head does that).
      while (this.referenced[this.head] === 1) {
        this.referenced[this.head] = 0;
        this.head = (this.head + 1) % this.capacity;
      }
      this.unindex(this.head);
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    const slot = (this.head + this.count) % this.capacity;
    this.peers.set(this.peer, slot * 32);
    this.keys.set(key, slot * 32);
    this.referenced[slot] = 0;
    this.count++;
    let i = this.bucket();
    while (this.index[i] !== 0) i = (i + 1) & this.mask;
    this.index[i] = slot + 1;
  }

  private unindex(slot: number): void {
    let i = this.bucketOf(this.peers, slot * 32);
    while (this.index[i] !== slot + 1) i = (i + 1) & this.mask;
    // Backward-shift deletion: pull later entries of the probe run into the hole unless their
    // home bucket lies cyclically in (hole, position].
    let hole = i;
    for (let j = (i + 1) & this.mask; this.index[j] !== 0; j = (j + 1) & this.mask) {
      const home = this.bucketOf(this.peers, (this.index[j]! - 1) * 32);
      const between = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!between) {
        this.index[hole] = this.index[j]!;
        hole = j;
      }
    }
    this.index[hole] = 0;
  }
}
