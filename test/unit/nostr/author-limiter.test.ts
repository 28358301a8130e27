import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthorLimiter } from '../../../src/nostr/author-limiter.js';

const limits = { rate: 2, burst: 4, maxQueued: 2, demoteSeconds: 60, maxAuthors: 3 };

void describe('AuthorLimiter', () => {
  void test('token bucket: burst, then rate per second; exhausted only once spent', () => {
    const l = new AuthorLimiter(limits);
    assert.equal(l.exhausted('a', 100), false, 'unknown author');
    const took = Array.from({ length: 6 }, () => l.take('a', 100));
    assert.deepEqual(took, [true, true, true, true, false, false]);
    assert.equal(l.exhausted('a', 100), true);
    assert.equal(l.exhausted('b', 100), false, 'per author');
    assert.equal(l.exhausted('a', 101), false, 'refilled by rate');
    assert.deepEqual([l.take('a', 101), l.take('a', 101), l.take('a', 101)], [true, true, false]);
    assert.deepEqual(Array.from({ length: 5 }, () => l.take('a', 200)), [true, true, true, true, false], 'refill capped at burst');
  });

  void test('priority share per author; demotion for a while', () => {
    const l = new AuthorLimiter(limits);
    assert.deepEqual([l.enterPriority('a', 100), l.enterPriority('a', 100), l.enterPriority('a', 100)], [true, true, false]);
    assert.equal(l.enterPriority('b', 100), true);
    l.leavePriority('a');
    assert.equal(l.enterPriority('a', 100), true);
    l.demote('c', 100);
    assert.equal(l.enterPriority('c', 159), false);
    assert.equal(l.enterPriority('c', 160), true);
  });

  void test('bounded: the least recently used author is forgotten first', () => {
    const l = new AuthorLimiter(limits);
    for (const a of ['a', 'b', 'c']) for (let i = 0; i < 4; i++) l.take(a, 100);
    assert.equal(l.exhausted('a', 100), true);
    l.take('b', 100); // touch b
    l.take('d', 100); // evicts a (least recently used)
    assert.equal(l.size, 3);
    assert.equal(l.exhausted('a', 100), false, 'forgotten');
    assert.equal(l.exhausted('b', 100), true, 'kept');
  });
});
