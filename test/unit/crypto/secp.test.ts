import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { secp256k1 as nobleSecp } from '@noble/curves/secp256k1.js';
import * as ntNip44 from 'nostr-tools/nip44';
import { finalizeEvent as ntFinalize, verifyEvent as ntVerify } from 'nostr-tools/pure';
import {
  bytesToHex,
  cryptoBackend,
  ecdhSharedX,
  ecdsaRecoverPublicKey,
  generateSecretKey,
  getPublicKey,
  hexToBytes,
  nobleBackend,
  schnorrSign,
  schnorrVerify,
  sha256,
  sha256Hex,
} from '../../../src/crypto/secp.js';
import { ConversationKeyCache, conversationKey } from '../../../src/crypto/conversation-key.js';
import { finalizeEvent, getEventHash, verifyEvent } from '../../../src/crypto/event.js';
import { LruCache } from '../../../src/crypto/lru-cache.js';

void describe('secp backend', () => {
  void test('fast backends load on this platform (native ECDH, native schnorr)', () => {
    assert.equal(cryptoBackend(), process.env.MOSTROD_SCHNORR_BACKEND ? `ecdh:native,schnorr:${process.env.MOSTROD_SCHNORR_BACKEND}` : 'ecdh:native,schnorr:native');
  });

  void test('sha256 matches a known vector', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(bytesToHex(sha256(new TextEncoder().encode('abc'))), sha256Hex('abc'));
  });

  void test('public keys, ECDH and signatures agree with the noble reference', () => {
    for (let i = 0; i < 25; i++) {
      const a = generateSecretKey();
      const b = generateSecretKey();
      const pa = getPublicKey(a);
      const pb = getPublicKey(b);
      assert.equal(pa, bytesToHex(nobleBackend.publicKey(a)));
      const x = ecdhSharedX(a, pb);
      assert.equal(bytesToHex(x), bytesToHex(nobleBackend.ecdhX(a, hexToBytes(pb))));
      assert.equal(bytesToHex(x), bytesToHex(ecdhSharedX(b, pa)), 'ECDH is symmetric');
      const msg = sha256(`m${i}`);
      const sig = schnorrSign(msg, a);
      assert.ok(nobleBackend.verify(hexToBytes(sig), msg, hexToBytes(pa)));
      assert.ok(schnorrVerify(sig, msg, pa));
      assert.ok(!schnorrVerify(sig, sha256('other'), pa));
      assert.ok(!schnorrVerify(sig, msg, pb));
    }
  });

  void test('ECDSA recovery (BOLT11 payee) agrees with the noble reference, and refuses what it refuses', () => {
    for (let i = 0; i < 25; i++) {
      const sk = generateSecretKey();
      const msg = sha256(`r${i}`);
      const rec = nobleSecp.sign(msg, sk, { prehash: false, format: 'recovered' });
      const sig = rec.subarray(1);
      const key = ecdsaRecoverPublicKey(sig, rec[0]!, msg);
      assert.equal(bytesToHex(key), bytesToHex(nobleSecp.getPublicKey(sk, true)));
      assert.equal(bytesToHex(key), bytesToHex(nobleBackend.ecdsaRecover(sig, rec[0]!, msg)));
      // Another recovery id gives another key (or none), the same from both.
      const other = (r: number): string => {
        try {
          return bytesToHex(ecdsaRecoverPublicKey(sig, r, msg));
        } catch {
          return 'none';
        }
      };
      const otherNoble = (r: number): string => {
        try {
          return bytesToHex(nobleBackend.ecdsaRecover(sig, r, msg));
        } catch {
          return 'none';
        }
      };
      for (const r of [0, 1, 2, 3]) assert.equal(other(r), otherNoble(r), `recovery id ${r}`);
    }
    const msg = sha256('x');
    const n = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
    for (const sig of ['00'.repeat(64), `${'00'.repeat(32)}${'11'.repeat(32)}`, `${n}${'11'.repeat(32)}`, `${'11'.repeat(32)}${n}`, 'ff'.repeat(64)]) {
      assert.throws(() => ecdsaRecoverPublicKey(hexToBytes(sig), 0, msg), sig);
      assert.throws(() => nobleBackend.ecdsaRecover(hexToBytes(sig), 0, msg), sig);
    }
    assert.throws(() => ecdsaRecoverPublicKey(new Uint8Array(64).fill(1), 4, msg));
    assert.throws(() => ecdsaRecoverPublicKey(new Uint8Array(63).fill(1), 0, msg));
  });

  void test('schnorrVerify never throws on malformed input', () => {
    const msg = sha256('x');
    assert.equal(schnorrVerify('zz', msg, 'aa'), false);
    assert.equal(schnorrVerify('00'.repeat(64), msg, '00'.repeat(32)), false);
    assert.equal(schnorrVerify('ff'.repeat(64), msg, 'ff'.repeat(32)), false);
    assert.equal(schnorrVerify('00'.repeat(64), new Uint8Array(5), getPublicKey(generateSecretKey())), false);
  });

  void test('ECDH with a point not on the curve throws', () => {
    // x = 5 has no y on secp256k1 (5^3 + 7 = 132 is not a square mod p)
    const bad = '00'.repeat(31) + '05';
    assert.throws(() => ecdhSharedX(generateSecretKey(), bad));
    assert.throws(() => ecdhSharedX(generateSecretKey(), 'nothex'));
  });
});

void describe('conversation key', () => {
  void test('equals nostr-tools getConversationKey', () => {
    for (let i = 0; i < 20; i++) {
      const a = generateSecretKey();
      const pb = getPublicKey(generateSecretKey());
      assert.equal(bytesToHex(conversationKey(a, pb)), bytesToHex(ntNip44.v2.utils.getConversationKey(a, pb)));
    }
  });

  void test('NIP-44 spec vector', () => {
    // nip44.vectors.json v2 valid.get_conversation_key[0]
    const sec1 = hexToBytes('315e59ff51cb9209768cf7da80791ddcaae56ac9775eb25b6dee1234bc5d2268');
    const pub2 = 'c2f9d9948dc8c7c38321e4b85c8558872eafa0641cd269db76848a6073e69133';
    assert.equal(bytesToHex(conversationKey(sec1, pub2)), '3dfef0ce2a4d80a25e7a328accf73448ef67096f65f79588e358d9a0eb9013f1');
  });

  void test('cache returns the same key and counts hits', () => {
    const sk = generateSecretKey();
    const cache = new ConversationKeyCache(sk, 2);
    const p1 = getPublicKey(generateSecretKey());
    const p2 = getPublicKey(generateSecretKey());
    const p3 = getPublicKey(generateSecretKey());
    assert.deepEqual(cache.get(p1), conversationKey(sk, p1));
    cache.get(p1);
    cache.get(p2);
    cache.get(p3); // evicts p2: p1 was used since it was cached (second chance)
    assert.equal(cache.size, 2);
    assert.equal(cache.hits, 1);
    assert.equal(cache.misses, 3);
    cache.get(p1);
    assert.equal(cache.misses, 3);
    cache.get(p2);
    assert.equal(cache.misses, 4);
    assert.throws(() => cache.get(p1.toUpperCase()), /invalid public key/);
    assert.throws(() => cache.get('zz'.repeat(32)), /invalid public key/);
  });

  void test('cache: 20,000 seeded operations on 40 peers agree with a model of CLOCK eviction', () => {
    const sk = generateSecretKey();
    const peers = Array.from({ length: 40 }, () => getPublicKey(generateSecretKey()));
    const truth = new Map(peers.map((p) => [p, bytesToHex(conversationKey(sk, p))]));
    for (const capacity of [1, 7, 16]) {
      const cache = new ConversationKeyCache(sk, capacity);
      // The model: a ring of [peer, referenced] in age order.
      const ring: Array<[string, boolean]> = [];
      let seed = 20261203 + capacity;
      const rand = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      let hits = 0;
      for (let op = 0; op < 20_000; op++) {
        // Skewed: a few peers are hot, so hits, second chances and evictions all happen.
        const peer = peers[rand(4) === 0 ? rand(40) : rand(Math.min(40, capacity + 3))]!;
        const failing = rand(10) === 0;
        const at = ring.findIndex(([p]) => p === peer);
        const miss = at < 0;
        if (!miss) {
          ring[at]![1] = true;
          hits++;
        } else if (!failing) {
          if (ring.length === capacity) {
            while (ring[0]![1]) {
              const [p] = ring.shift()!;
              ring.push([p, false]);
            }
            ring.shift();
          }
          ring.push([peer, false]);
        }
        const key = failing
          ? (() => {
              try {
                cache.use(peer, () => {
                  throw new Error('MAC');
                });
              } catch {
                // a failed use caches nothing
              }
              return truth.get(peer)!;
            })()
          : bytesToHex(rand(2) === 0 ? cache.get(peer) : cache.use(peer, (k) => k));
        assert.equal(key, truth.get(peer), `op ${op}`);
        assert.equal(cache.size, ring.length, `size at op ${op}`);
        assert.equal(cache.hits, hits, `hits at op ${op} (capacity ${capacity})`);
      }
      assert.ok(hits > 2_000 && cache.misses > 2_000, `${hits} hits, ${cache.misses} misses`);
    }
  });
});

void describe('events', () => {
  void test('our signed events verify in nostr-tools and vice versa', () => {
    const sk = generateSecretKey();
    const ours = finalizeEvent({ kind: 1, created_at: 1700000000, tags: [['p', 'x'], ['e', 'y', 'z']], content: 'hi "there" \n ü' }, sk);
    assert.ok(ntVerify({ ...ours }));
    assert.ok(verifyEvent(ours));
    const theirs = ntFinalize({ kind: 38383, created_at: 1700000001, tags: [['d', 'abc']], content: '' }, sk);
    assert.ok(verifyEvent({ ...theirs }));
    assert.equal(getEventHash(theirs), theirs.id);
  });

  void test('verifyEvent rejects tampering and malformed shapes without throwing', () => {
    const sk = generateSecretKey();
    const e = finalizeEvent({ kind: 1059, created_at: 1700000000, tags: [], content: 'c' }, sk);
    assert.ok(verifyEvent(e));
    assert.equal(verifyEvent({ ...e, content: 'd' }), false);
    assert.equal(verifyEvent({ ...e, sig: bytesToHex(randomBytes(64)) }), false);
    assert.equal(verifyEvent({ ...e, id: 'A'.repeat(64) }), false);
    assert.equal(verifyEvent({ ...e, created_at: -1 }), false);
    assert.equal(verifyEvent({ ...e, tags: [[1]] }), false);
    assert.equal(verifyEvent(null), false);
    assert.equal(verifyEvent('x'), false);
    assert.equal(verifyEvent([]), false);
  });
});

void describe('LruCache', () => {
  void test('evicts least recently used', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1);
    c.set('c', 3);
    assert.equal(c.has('b'), false);
    assert.equal(c.has('a'), true);
    assert.throws(() => new LruCache(0));
  });

  void test('evictWhile drops stale entries from the least recently used end only', () => {
    const c = new LruCache<string, number>(10);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 100);
    c.set('d', 3); // stale but behind a fresh entry: kept until that one goes
    assert.equal(c.evictWhile((v) => v < 50), 2);
    assert.deepEqual([c.has('a'), c.has('b'), c.has('c'), c.has('d')], [false, false, true, true]);
  });
});
