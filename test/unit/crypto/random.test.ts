import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from '../../../src/crypto/random.js';

void describe('pooled random bytes', () => {
  void test('gives the requested length, fresh arrays, across many pool refills', () => {
    const seen = new Set<string>();
    // 2,000 draws of 1..65 bytes cross the 4 KiB buffer's end ~30 times, at every offset parity.
    for (let i = 0; i < 2000; i++) {
      const n = 1 + (i % 65);
      const b = randomBytes(n);
      assert.ok(b instanceof Uint8Array);
      assert.equal(b.length, n);
      if (n >= 16) {
        const hex = Buffer.from(b).toString('hex');
        assert.ok(!seen.has(hex), `a ${n}-byte draw repeated`);
        seen.add(hex);
      }
    }
  });

  void test('the bytes look uniform (catches zeroed or repeated buffer contents)', () => {
    const counts = new Array<number>(256).fill(0);
    const draws = 8192; // 256 KiB in 32-byte draws: 64 refills
    for (let i = 0; i < draws; i++) for (const v of randomBytes(32)) counts[v]!++;
    const expected = (draws * 32) / 256;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 255 degrees of freedom: the 1e-9 tail starts near 420; zeros or a repeated block give millions.
    assert.ok(chi2 < 420, `chi-square ${chi2.toFixed(1)}`);
    // A 32-byte value of all zeros would mean a draw read the buffer after it was wiped.
    for (let i = 0; i < 1000; i++) assert.ok(randomBytes(32).some((v) => v !== 0));
  });

  void test('a caller writing to its array does not touch later draws', () => {
    const a = randomBytes(32);
    a.fill(0xab);
    const b = randomBytes(32);
    assert.notDeepEqual(Buffer.from(b), Buffer.alloc(32, 0xab));
  });

  void test('large and empty requests, and bad lengths', () => {
    assert.equal(randomBytes(0).length, 0);
    const big = randomBytes(10_000);
    assert.equal(big.length, 10_000);
    assert.ok(big.some((v) => v !== 0));
    assert.throws(() => randomBytes(-1), RangeError);
    assert.throws(() => randomBytes(1.5), RangeError);
  });
});
