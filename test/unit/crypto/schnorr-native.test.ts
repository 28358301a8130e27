/**
 * The native BIP-340 implementation (src/crypto/schnorr-native.ts) against the BIP-340 vectors and,
 * differentially, against @noble/curves and tiny-secp256k1 (WASM libsecp256k1): same public keys,
 * same signature bytes for the same auxiliary randomness, same verdict on valid, mutated and crafted
 * out-of-range signatures.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bytesToHex, hexToBytes, nobleBackend } from '../../../src/crypto/secp.js';
import { secp256k1 as nobleCurve } from '@noble/curves/secp256k1.js';
import { nativeSchnorr, type SchnorrImpl, type SecpAddon } from '../../../src/crypto/schnorr-native.js';

const require = createRequire(import.meta.url);
const addon = require('secp256k1/bindings') as SecpAddon;
const tiny = require('tiny-secp256k1') as {
  xOnlyPointFromScalar(d: Uint8Array): Uint8Array;
  signSchnorr(h: Uint8Array, d: Uint8Array, e?: Uint8Array): Uint8Array;
  verifySchnorr(h: Uint8Array, q: Uint8Array, sig: Uint8Array): boolean;
};

/** A fallback that counts its calls, so the tests see which inputs leave the native path. */
function countingFallback(): SchnorrImpl & { calls: number } {
  const f = {
    calls: 0,
    publicKey: (sk: Uint8Array) => nobleBackend.publicKey(sk),
    sign: (m: Uint8Array, sk: Uint8Array, a: Uint8Array) => (f.calls++, nobleBackend.sign(m, sk, a)),
    verify: (s: Uint8Array, m: Uint8Array, p: Uint8Array) => (f.calls++, nobleBackend.verify(s, m, p)),
  };
  return f;
}

const nobleVerify = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean => {
  try {
    return nobleBackend.verify(sig, msg, pk);
  } catch {
    return false;
  }
};

/** Deterministic bytes: SHA-256 chain from a seed (the test is the same on every run). */
function stream(seed: string): () => Uint8Array {
  let state = createHash('sha256').update(seed).digest();
  return () => {
    state = createHash('sha256').update(state).digest();
    return new Uint8Array(state);
  };
}

const N = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
const P = 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f';

void describe('native BIP-340 Schnorr', () => {
  const rows = readFileSync(new URL('../../fixtures/bip340/test-vectors.csv', import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));

  void test('BIP-340 vectors 0–14: public keys, signatures byte for byte, verdicts', () => {
    const fb = countingFallback();
    const impl = nativeSchnorr(addon, fb);
    assert.equal(rows.length, 15);
    for (const [index, sk, pk, aux, msg, sig, result, comment] of rows) {
      const label = `vector ${index} ${comment ?? ''}`;
      if (sk) {
        assert.equal(bytesToHex(impl.publicKey(hexToBytes(sk.toLowerCase()))), pk!.toLowerCase(), label);
        assert.equal(bytesToHex(impl.sign(hexToBytes(msg!.toLowerCase()), hexToBytes(sk.toLowerCase()), hexToBytes(aux!.toLowerCase()))), sig!.toLowerCase(), label);
      }
      assert.equal(impl.verify(hexToBytes(sig!.toLowerCase()), hexToBytes(msg!.toLowerCase()), hexToBytes(pk!.toLowerCase())), result === 'TRUE', label);
    }
    assert.equal(fb.calls, 0, 'no vector needs the fallback');
  });

  void test('2,000 seeded keys: same public key and signature bytes as noble and WASM libsecp256k1, and each verifies', () => {
    const impl = nativeSchnorr(addon, countingFallback());
    const next = stream('schnorr-native sign');
    for (let i = 0; i < 2000; i++) {
      const sk = next();
      const msg = next();
      const aux = next();
      const pk = impl.publicKey(sk);
      assert.deepEqual(pk, nobleBackend.publicKey(sk));
      const sig = impl.sign(msg, sk, aux);
      assert.equal(bytesToHex(sig), bytesToHex(nobleBackend.sign(msg, sk, aux)), `key ${i}`);
      assert.equal(bytesToHex(sig), bytesToHex(tiny.signSchnorr(msg, sk, aux)));
      assert.ok(impl.verify(sig, msg, pk));
    }
  });

  void test('the signing-key cache: keys signed in turn (more than it holds) all sign correctly', () => {
    const impl = nativeSchnorr(addon, countingFallback());
    const next = stream('cache');
    const keys = Array.from({ length: 9 }, () => next());
    for (let round = 0; round < 4; round++) {
      for (const [i, sk] of keys.entries()) {
        const msg = next();
        const aux = next();
        if ((i + round) % 3 === 0) impl.publicKey(sk);
        assert.equal(bytesToHex(impl.sign(msg, sk, aux)), bytesToHex(nobleBackend.sign(msg, sk, aux)), `round ${round} key ${i}`);
      }
    }
    // The cache holds copies: changing the caller's array afterwards changes nothing.
    const sk = next();
    const copy = sk.slice();
    const msg = next();
    const aux = next();
    impl.publicKey(sk);
    sk.fill(7);
    assert.equal(bytesToHex(impl.sign(msg, copy, aux)), bytesToHex(nobleBackend.sign(msg, copy, aux)));
    assert.equal(bytesToHex(impl.sign(msg, sk, aux)), bytesToHex(nobleBackend.sign(msg, sk, aux)));
  });

  void test('mutated and crafted signatures: the same verdict as noble and WASM libsecp256k1 (4,126 cases)', () => {
    const fb = countingFallback();
    const impl = nativeSchnorr(addon, fb);
    const next = stream('schnorr-native verify');
    const cases: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [];
    for (let i = 0; i < 400; i++) {
      const sk = next();
      const msg = next();
      const pk = nobleBackend.publicKey(sk);
      const sig = nobleBackend.sign(msg, sk, next());
      const rnd = next();
      const flip = (a: Uint8Array, bit: number): Uint8Array => {
        const b = a.slice();
        b[bit >> 3]! ^= 1 << (bit & 7);
        return b;
      };
      const withR = (r: Uint8Array): Uint8Array => Uint8Array.from([...r, ...sig.subarray(32)]);
      const withS = (s: Uint8Array): Uint8Array => Uint8Array.from([...sig.subarray(0, 32), ...s]);
      cases.push(
        ['valid', sig, msg, pk],
        ['bit of r', flip(sig, rnd[0]! % 256), msg, pk],
        ['bit of s', flip(sig, 256 + (rnd[1]! % 256)), msg, pk],
        ['bit of msg', sig, flip(msg, rnd[2]! % 256), pk],
        ['bit of pk', sig, msg, flip(pk, rnd[3]! % 256)],
        ['random r', withR(next()), msg, pk],
        ['r = p', withR(hexToBytes(P)), msg, pk],
        ['s = n', withS(hexToBytes(N)), msg, pk],
        ['s = 0', withS(new Uint8Array(32)), msg, pk],
        ['pk >= p', sig, msg, hexToBytes(i % 2 ? P : 'f'.repeat(64))],
      );
    }
    // R with odd y: a signature made with the un-negated nonce (the parity check alone refuses it).
    const n = BigInt(`0x${N}`);
    const big = (b: Uint8Array): bigint => BigInt(`0x${bytesToHex(b)}`);
    const bytes32 = (x: bigint): Uint8Array => hexToBytes(x.toString(16).padStart(64, '0'));
    const tagged = (tag: string, ...parts: Uint8Array[]): Uint8Array => {
      const t = createHash('sha256').update(tag).digest();
      const h = createHash('sha256').update(t).update(t);
      for (const x of parts) h.update(x);
      return new Uint8Array(h.digest());
    };
    let oddR = 0;
    while (oddR < 100) {
      const d0 = big(next()) % n;
      const k = big(next()) % n;
      if (d0 === 0n || k === 0n) continue;
      const pPoint = nobleCurve.Point.BASE.multiply(d0).toAffine();
      const d = pPoint.y % 2n === 0n ? d0 : n - d0;
      const rPoint = nobleCurve.Point.BASE.multiply(k).toAffine();
      if (rPoint.y % 2n === 0n) continue;
      const msg = next();
      const pk = bytes32(pPoint.x);
      const e = big(tagged('BIP0340/challenge', bytes32(rPoint.x), pk, msg)) % n;
      const sig = Uint8Array.from([...bytes32(rPoint.x), ...bytes32((k + e * d) % n)]);
      cases.push(['odd-y R', sig, msg, pk]);
      oddR++;
    }
    // The recovery path's edges: R at infinity (s·G = e·P), pk = 0, and keys in [n, p) that are on
    // the curve (they take the two-multiplication path).
    for (let i = 0; i < 20; i++) {
      const d0 = big(next()) % n;
      if (d0 === 0n) continue;
      const pPoint = nobleCurve.Point.BASE.multiply(d0).toAffine();
      const d = pPoint.y % 2n === 0n ? d0 : n - d0;
      const pk = bytes32(pPoint.x);
      const msg = next();
      const r = next();
      const e = big(tagged('BIP0340/challenge', r, pk, msg)) % n;
      cases.push(['R at infinity', Uint8Array.from([...r, ...bytes32((e * d) % n)]), msg, pk]);
    }
    const sample = cases[0]!;
    cases.push(['pk = 0', sample[1], sample[2], new Uint8Array(32)]);
    let highKeys = 0;
    for (let x = n; highKeys < 5; x++) {
      try {
        nobleCurve.Point.fromHex(`02${x.toString(16)}`);
      } catch {
        continue; // not the x of a point
      }
      highKeys++;
      cases.push(['pk in [n, p)', sample[1], sample[2], bytes32(x)]);
    }
    let fallbacks = 0;
    for (const [kind, sig, msg, pk] of cases) {
      const before = fb.calls;
      const got = impl.verify(sig, msg, pk);
      fallbacks += fb.calls - before;
      assert.equal(got, nobleVerify(sig, msg, pk), kind);
      let wasm = false;
      try {
        wasm = tiny.verifySchnorr(msg, pk, sig);
      } catch {
        wasm = false;
      }
      assert.equal(got, wasm, `${kind} (wasm)`);
    }
    assert.equal(cases.filter(([k]) => k === 'valid').length, 400);
    assert.equal(cases.filter(([k]) => k === 'R at infinity').length, 20);
    assert.equal(fallbacks, 400, 'only the s = 0 signatures go to the reference implementation');
  });

  void test('wrong lengths are refused without throwing (verify) or with an error (sign)', () => {
    const impl = nativeSchnorr(addon, countingFallback());
    const k = new Uint8Array(32).fill(1);
    assert.equal(impl.verify(new Uint8Array(63), k, k), false);
    assert.equal(impl.verify(new Uint8Array(64), k.subarray(1), k), false);
    assert.throws(() => impl.sign(k, k.subarray(1), k));
    assert.throws(() => impl.sign(k, new Uint8Array(32), k), 'the zero key is refused');
    assert.throws(() => impl.publicKey(hexToBytes(N)), 'a key of n is refused');
  });

  void test('MOSTROD_SCHNORR_BACKEND picks the implementation; a bad value stops the load naming it', () => {
    const run = (value: string): string =>
      execFileSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/crypto/secp.ts').then((m) => console.log(m.cryptoBackend()))"], {
        env: { ...process.env, MOSTROD_SCHNORR_BACKEND: value },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    assert.equal(run('wasm'), 'ecdh:native,schnorr:wasm');
    assert.equal(run('noble'), 'ecdh:native,schnorr:noble');
    assert.equal(run(''), 'ecdh:native,schnorr:native');
    assert.throws(() => run('fast'), (e: Error & { stderr?: string }) => /MOSTROD_SCHNORR_BACKEND must be native, wasm or noble/.test(String(e.stderr)));
  });
});
