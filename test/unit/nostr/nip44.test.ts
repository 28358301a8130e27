import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nodeCrypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import * as ntNip44 from 'nostr-tools/nip44';
import { conversationKey } from '../../../src/crypto/conversation-key.js';
import { generateSecretKey, getPublicKey, hexToBytes } from '../../../src/crypto/secp.js';
import { calcPaddedLen, Nip44Error, nip44Decrypt, nip44Encrypt } from '../../../src/nostr/nip44.js';

void describe('NIP-44 v2', () => {
  const ck = conversationKey(generateSecretKey(), getPublicKey(generateSecretKey()));

  void test('byte-identical to nostr-tools with a fixed nonce; decrypts each other', () => {
    for (const len of [1, 2, 31, 32, 33, 100, 255, 256, 257, 1000, 5000, 65535]) {
      const plain = 'x'.repeat(len - 1) + 'y';
      const nonce = hexToBytes((len % 256).toString(16).padStart(2, '0').repeat(32));
      assert.equal(nip44Encrypt(plain, ck, nonce), ntNip44.v2.encrypt(plain, ck, nonce));
      assert.equal(ntNip44.v2.decrypt(nip44Encrypt(plain, ck), ck), plain);
      assert.equal(nip44Decrypt(ntNip44.v2.encrypt(plain, ck), ck), plain);
    }
    const unicode = '¡Hola! 🙂 — ñ';
    assert.equal(nip44Decrypt(nip44Encrypt(unicode, ck), ck), unicode);
  });

  void test('NIP-44 spec vector (encrypt with fixed nonce)', () => {
    // nip44.vectors.json v2 valid.encrypt_decrypt[0]
    const key = hexToBytes('c41c775356fd92eadc63ff5a0dc1da211b268cbea22316767095b2871ea1412d');
    const nonce = hexToBytes('0000000000000000000000000000000000000000000000000000000000000001');
    assert.equal(
      nip44Encrypt('a', key, nonce),
      'AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABee0G5VSK0/9YypIObAtDKfYEAjD35uVkHyB0F4DwrcNaCXlCWZKaArsGrY6M9wnuTMxWfp1RTN9Xga8no+kF5Vsb',
    );
  });

  void test('padding lengths', () => {
    assert.equal(calcPaddedLen(1), 32);
    assert.equal(calcPaddedLen(32), 32);
    assert.equal(calcPaddedLen(33), 64);
    assert.equal(calcPaddedLen(257), 320);
    assert.equal(calcPaddedLen(65535), 65536);
  });

  void test('malformed payloads fail with Nip44Error only', () => {
    const good = nip44Encrypt('hello', ck);
    const flipped = good.slice(0, 60) + (good[60] === 'A' ? 'B' : 'A') + good.slice(61);
    const other = conversationKey(generateSecretKey(), getPublicKey(generateSecretKey()));
    const cases: unknown[] = ['', '#abc', 'A'.repeat(131), 'A'.repeat(200) + '!!!!', good.slice(0, -4), flipped, 'AQ' + good.slice(2), 42, null];
    for (const c of cases) {
      assert.throws(() => nip44Decrypt(c as string, ck), Nip44Error, String(c).slice(0, 20));
    }
    assert.throws(() => nip44Decrypt(good, other), Nip44Error);
    assert.throws(() => nip44Encrypt('', ck), Nip44Error);
  });
});

void describe('NIP-44 keys reach node:crypto as KeyObjects', () => {
  // Node 24 spends ≈ 10 µs per createHmac / createCipheriv telling a Buffer key from a KeyObject
  // (two TypeErrors thrown and caught); a KeyObject skips that. A regression would not show on
  // Node 20 or 22, where the check is cheap, so the calls are watched here.
  void test('every createHmac and createCipheriv of an encryption, a decryption and a conversation key gets a KeyObject', (t) => {
    const seen: string[] = [];
    const watch = (name: 'createHmac' | 'createCipheriv'): void => {
      const original = nodeCrypto[name] as (...args: unknown[]) => unknown;
      t.mock.method(nodeCrypto, name, (...args: unknown[]) => {
        seen.push(`${name}:${args[1] instanceof nodeCrypto.KeyObject ? 'KeyObject' : typeof args[1]}`);
        return original(...args);
      });
    };
    watch('createHmac');
    watch('createCipheriv');
    syncBuiltinESMExports();
    try {
      const ck = conversationKey(generateSecretKey(), getPublicKey(generateSecretKey()));
      assert.equal(nip44Decrypt(nip44Encrypt('hello', ck), ck), 'hello');
    } finally {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    }
    // conversation key: 1 HMAC; encryption and decryption: 3 HKDF blocks + the MAC + the cipher each
    assert.equal(seen.length, 1 + 2 * 5, seen.join(' '));
    assert.deepEqual(new Set(seen), new Set(['createHmac:KeyObject', 'createCipheriv:KeyObject']));
  });
});
