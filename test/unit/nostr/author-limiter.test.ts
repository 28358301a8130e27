import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthorLimiter } from '../../../src/nostr/author-limiter.js';

const limits = { rate: 2, burst: 4, maxQueued: 2, demoteSeconds: 60, maxAuthors: 3 };

/** Admit and charge at once (a verified event): true when both went through. */
function verified(l: AuthorLimiter, author: string, now: number): boolean {
  const t = l.admit(author, now);
  return t !== null && l.take(t, now);
}

void describe('AuthorLimiter', () => {
  void test('token bucket: burst, then rate per second; refused only once spent', () => {
    const l = new AuthorLimiter(limits);
    const took = Array.from({ length: 6 }, () => verified(l, 'a', 100));
    assert.deepEqual(took, [true, true, true, true, false, false]);
    assert.equal(l.admit('a', 100), null);
    assert.notEqual(l.admit('b', 100), null, 'per author');
    assert.notEqual(l.admit('a', 101), null, 'refilled by rate');
  });

  void test('refill: by rate, capped at burst', () => {
    const l = new AuthorLimiter(limits);
    for (let i = 0; i < 4; i++) verified(l, 'a', 100);
    assert.deepEqual([verified(l, 'a', 101), verified(l, 'a', 101), verified(l, 'a', 101)], [true, true, false]);
    assert.deepEqual(Array.from({ length: 5 }, () => verified(l, 'a', 200)), [true, true, true, true, false], 'refill capped at burst');
  });

  void test('events admitted and not yet charged count: a burst of one key is cut at its tokens before any is verified', () => {
    const l = new AuthorLimiter(limits);
    const tickets = Array.from({ length: 10 }, () => l.admit('a', 100));
    assert.equal(tickets.filter((t) => t !== null).length, 4, 'as many in flight as tokens');
    // two turn out forged (released, nothing spent), two verify (charged)
    l.release(tickets[0]!);
    l.release(tickets[1]!);
    assert.equal(l.take(tickets[2]!, 100), true);
    assert.equal(l.take(tickets[3]!, 100), true);
    l.release(tickets[3]!); // settling twice is a no-op
    // 2 tokens left, none in flight
    assert.equal([l.admit('a', 100), l.admit('a', 100), l.admit('a', 100)].filter((t) => t !== null).length, 2);
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

  void test('a demoted author with tokens left is admitted unreserved past its in-flight events; charged once verified', () => {
    const l = new AuthorLimiter(limits);
    const held = Array.from({ length: 4 }, () => l.admit('a', 100)); // forgeries in flight hold the allowance
    assert.ok(held.every((t) => t !== null));
    assert.equal(l.admit('a', 100), null);
    assert.equal(l.admitSuspected('a', 100), null, 'not demoted: refused');
    l.demote('a', 100);
    const t = l.admitSuspected('a', 100);
    assert.ok(t !== null && !t.reserved);
    l.release(t); // an unreserved ticket frees nothing
    assert.equal(l.admit('a', 100), null, 'the reservations still hold');
    const u = l.admitSuspected('a', 100)!;
    assert.equal(l.take(u, 100), true, 'verified: charged (3 tokens left)');
    for (const h of held) l.release(h!); // the forgeries failed: released
    assert.deepEqual([verified(l, 'a', 100), verified(l, 'a', 100), verified(l, 'a', 100), verified(l, 'a', 100)], [true, true, true, false]);
    assert.equal(l.admitSuspected('a', 100), null, 'no tokens: refused even when demoted');
    assert.equal(l.admitSuspected('a', 160), null, 'demotion over');
  });

  void test('bounded: the least recently used author is forgotten first', () => {
    const l = new AuthorLimiter(limits);
    for (const a of ['a', 'b', 'c']) for (let i = 0; i < 4; i++) verified(l, a, 100);
    assert.equal(l.admit('a', 100), null);
    verified(l, 'b', 100); // touch b
    verified(l, 'd', 100); // evicts c (least recently used: a was touched by the admit above)
    assert.equal(l.size, 3);
    assert.notEqual(l.admit('c', 100), null, 'forgotten');
    assert.equal(l.admit('b', 100), null, 'kept');
  });
  void test('refuses: exactly when admit and admitSuspected would both refuse, and it changes nothing', () => {
    const l = new AuthorLimiter({ ...limits, maxAuthors: 10 });
    assert.equal(l.refuses('a', 100), false, 'unknown author');
    assert.equal(l.size, 0, 'no state created');
    const tickets = Array.from({ length: 4 }, () => l.admit('a', 100));
    assert.equal(l.refuses('a', 100), true, 'its tokens are all held by events in flight');
    l.demote('a', 100);
    assert.equal(l.refuses('a', 100), false, 'demoted with tokens: admitSuspected would admit');
    assert.notEqual(l.admitSuspected('a', 100), null);
    for (const t of tickets) l.take(t!, 100);
    assert.equal(l.refuses('a', 100), true, 'spent and demoted, no token');
    assert.equal(l.admit('a', 100), null);
    assert.equal(l.admitSuspected('a', 100), null);
    assert.equal(l.refuses('a', 101), false, 'refilled a second later (pure: the bucket itself is not touched)');
    assert.equal(l.refuses('a', 100), true, 'still spent at 100');
    // it does not refresh the least-recently-used order: 'a' is still the oldest
    for (const k of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']) l.admit(k, 100);
    l.refuses('a', 100);
    l.admit('k', 100);
    assert.equal(l.refuses('a', 100), false, "'a' was evicted: refuses did not touch it");
    // across random histories refuses equals 'both admissions refuse'
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const m = new AuthorLimiter({ ...limits, maxAuthors: 100 });
    let now = 1000;
    const open: ReturnType<AuthorLimiter['admit']>[] = [];
    for (let i = 0; i < 2000; i++) {
      const who = ['x', 'y', 'z'][rnd(3)]!;
      const op = rnd(6);
      if (op === 0) now += rnd(2);
      else if (op === 1) m.demote(who, now);
      else if (op === 2 && open.length > 0) {
        const t = open.splice(rnd(open.length), 1)[0]!;
        if (rnd(2) === 0) m.take(t!, now);
        else m.release(t!);
      } else {
        const predicted = m.refuses(who, now);
        const t = m.admit(who, now) ?? m.admitSuspected(who, now);
        assert.equal(predicted, t === null, `step ${i}`);
        if (t !== null) open.push(t);
      }
    }
  });
});
