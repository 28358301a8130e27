/**
 * NIP-44 v2 conversation keys: HKDF-extract(salt = "nip44-v2", IKM = ECDH shared x).
 */
import { createHmac } from 'node:crypto';
import { LruCache } from './lru-cache.js';
import { ecdhSharedX } from './secp.js';

const SALT = Buffer.from('nip44-v2', 'utf8');

/** Conversation key between `secretKey` and x-only `pubkeyHex`. Throws on an invalid public key. */
export function conversationKey(secretKey: Uint8Array, pubkeyHex: string): Uint8Array {
  const shared = ecdhSharedX(secretKey, pubkeyHex);
  return new Uint8Array(createHmac('sha256', SALT).update(shared).digest());
}

/**
 * Conversation keys of ONE fixed secret key (the node's) with long-lived peers — identity and
 * trade keys at the seal layer — kept in a bounded LRU. The wrap layer uses a fresh ephemeral key
 * per event and must not go through this cache (it would only evict useful entries).
 */
export class ConversationKeyCache {
  private readonly cache: LruCache<string, Uint8Array>;
  hits = 0;
  misses = 0;

  constructor(
    private readonly secretKey: Uint8Array,
    capacity = 10_000,
  ) {
    this.cache = new LruCache(capacity);
  }

  get(pubkeyHex: string): Uint8Array {
    const hit = this.cache.get(pubkeyHex);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const key = conversationKey(this.secretKey, pubkeyHex);
    this.cache.set(pubkeyHex, key);
    return key;
  }

  /**
   * Run `use` with the key of `pubkeyHex` and cache the key only if `use` returned (e.g. a
   * decryption whose MAC verified): keys from events that fail — junk from fresh random keys —
   * never evict the keys of real peers.
   */
  use<T>(pubkeyHex: string, use: (key: Uint8Array) => T): T {
    const hit = this.cache.get(pubkeyHex);
    if (hit !== undefined) {
      this.hits++;
      return use(hit);
    }
    this.misses++;
    const key = conversationKey(this.secretKey, pubkeyHex);
    const out = use(key);
    this.cache.set(pubkeyHex, key);
    return out;
  }

  get size(): number {
    return this.cache.size;
  }
}
