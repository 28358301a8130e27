import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bech32 } from '@scure/base';
import { nip19 as nt } from 'nostr-tools';
import { nip19 } from '../../../src/crypto/nip19.js';

/** Deterministic pseudo-random bytes. */
const bytes = (seed: string, n = 32): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 32) out.set(createHash('sha256').update(`${seed}/${i}`).digest().subarray(0, Math.min(32, n - i)), i);
  return out;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Same value, or both throw. */
function same<T>(ours: () => T, theirs: () => unknown, label: string): void {
  let a: { ok: true; v: T } | { ok: false };
  let b: { ok: true; v: unknown } | { ok: false };
  try {
    a = { ok: true, v: ours() };
  } catch {
    a = { ok: false };
  }
  try {
    b = { ok: true, v: theirs() };
  } catch {
    b = { ok: false };
  }
  assert.deepEqual(a, b, label);
}

void describe('nip19 (our subset) against nostr-tools', () => {
  void test('encode: npub, nsec, note of 500 keys', () => {
    for (let i = 0; i < 500; i++) {
      const k = bytes(`k${i}`);
      assert.equal(nip19.npubEncode(hex(k)), nt.npubEncode(hex(k)));
      assert.equal(nip19.nsecEncode(k), nt.nsecEncode(k));
      assert.equal(nip19.noteEncode(hex(k)), nt.noteEncode(hex(k)));
    }
  });

  void test('decode: the same type and data, lower and upper case', () => {
    for (let i = 0; i < 500; i++) {
      const k = bytes(`d${i}`);
      for (const s of [nt.npubEncode(hex(k)), nt.nsecEncode(k), nt.noteEncode(hex(k))]) {
        assert.deepEqual(nip19.decode(s), nt.decode(s), s);
        assert.deepEqual(nip19.decode(s.toUpperCase()), nt.decode(s.toUpperCase()), s.toUpperCase());
      }
    }
    const d = nip19.decode(nt.nsecEncode(bytes('x')));
    assert.ok(d.type === 'nsec' && d.data instanceof Uint8Array);
  });

  void test('payloads other than 32 bytes are refused (nostr-tools decodes them: a 20-byte npub is not a key)', () => {
    for (const n of [0, 1, 20, 31, 33, 64, 100]) {
      const b = bytes(`len${n}`, n);
      for (const prefix of ['npub', 'nsec', 'note']) {
        const s = bech32.encode(prefix, bech32.toWords(b), 5000);
        assert.doesNotThrow(() => nt.decode(s), `nostr-tools decodes ${prefix} ${n}`);
        assert.throws(() => nip19.decode(s), new RegExp(`${prefix} must hold 32 bytes, not ${n}`));
      }
    }
  });

  void test('errors where nostr-tools throws', () => {
    const npub = nt.npubEncode(hex(bytes('e')));
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'q' ? 'p' : 'q') + s.slice(i + 1);
    const bad = [
      '',
      'npub1',
      'npub',
      npub.slice(0, -1),
      flip(npub, 10),
      flip(npub, npub.length - 1),
      npub.slice(0, 8) + npub.slice(8).toUpperCase(),
      `x${npub}`,
      npub.replace('npub', 'npux'),
      bech32.encode('nsec', [...bech32.toWords(bytes('p')), 31], 5000), // non-zero padding
      bech32.encode('npub', [...bech32.toWords(bytes('p')), 0, 0], 5000), // excess padding
      bech32.encode('npub', bech32.toWords(bytes('long', 3200)), false), // over 5000 characters
      bech32.encode('nfoo', bech32.toWords(bytes('f')), 5000),
      'npub1 ',
      'hello',
    ];
    for (const s of bad) {
      same(() => nip19.decode(s), () => nt.decode(s), JSON.stringify(s.slice(0, 80)));
      assert.throws(() => nip19.decode(s), JSON.stringify(s.slice(0, 80)));
    }
    for (const h of ['', 'zz', 'abc', '0g'.repeat(32)]) same(() => nip19.npubEncode(h), () => nt.npubEncode(h), `npubEncode ${h}`);
  });

  void test('TLV entities (nprofile, nevent, naddr) are not read here: they throw', () => {
    const pk = hex(bytes('tlv'));
    for (const s of [nt.nprofileEncode({ pubkey: pk, relays: ['wss://r'] }), nt.neventEncode({ id: pk }), nt.naddrEncode({ pubkey: pk, kind: 1, identifier: 'x' })]) {
      assert.throws(() => nip19.decode(s), /unknown prefix/);
      assert.notEqual(nt.decode(s).type, 'npub');
    }
  });
});
