import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getPow } from 'nostr-tools/nip13';
import { getEventHash, signWithId, verifyEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { leadingZeroBits, minePow } from '../../../src/nostr/pow.js';

void describe('NIP-13', () => {
  void test('leadingZeroBits', () => {
    assert.equal(leadingZeroBits('f' + '0'.repeat(63)), 0);
    assert.equal(leadingZeroBits('7' + '0'.repeat(63)), 1);
    assert.equal(leadingZeroBits('1' + '0'.repeat(63)), 3);
    assert.equal(leadingZeroBits('0f' + '0'.repeat(62)), 4);
    assert.equal(leadingZeroBits('000000000e' + 'f'.repeat(54)), 36);
    assert.equal(leadingZeroBits('0'.repeat(64)), 256);
    for (const id of ['00ab', '0003', '8', '00001']) assert.equal(leadingZeroBits(id.padEnd(64, 'f')), getPow(id.padEnd(64, 'f')));
  });

  void test('minePow reaches the difficulty, keeps other tags, yields a valid signed event', () => {
    const sk = generateSecretKey();
    const unsigned = { pubkey: getPublicKey(sk), created_at: 1700000000, kind: 1059, tags: [['p', 'ab'], ['nonce', '1', '1']], content: 'c"\n' };
    const mined = minePow(unsigned, 10);
    assert.ok(leadingZeroBits(mined.id) >= 10);
    assert.equal(mined.id, getEventHash(mined));
    assert.deepEqual(mined.tags.slice(0, 1), [['p', 'ab']]);
    assert.equal(mined.tags.length, 2);
    assert.deepEqual(mined.tags[1]!.slice(0, 1), ['nonce']);
    assert.equal(mined.tags[1]![2], '10');
    assert.ok(verifyEvent(signWithId(mined, sk)));
    const noTags = minePow({ ...unsigned, tags: [] }, 4);
    assert.equal(noTags.id, getEventHash(noTags));
  });
});
