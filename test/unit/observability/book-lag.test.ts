/**
 * BookLagTracker: how long the oldest row of the order change log has waited, from the log's
 * change numbers at each monitor check (the table has no timestamps).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BookLagTracker } from '../../../src/observability/monitor.js';

const span = (count: number, oldest: number | null, newest: number | null) => ({ count, oldest, newest });

void describe('BookLagTracker', () => {
  void test('the oldest row is dated by the first check whose top change number reached it', () => {
    const t = new BookLagTracker();
    assert.deepEqual(t.observe(span(0, null, null), 100), { unaccepted: 0, oldestSince: null });
    // changes 1..5 written before the check at 160: dated 160 (not earlier: nothing saw them before)
    assert.deepEqual(t.observe(span(5, 1, 5), 160), { unaccepted: 5, oldestSince: 160 });
    // 1..3 accepted, 6..9 written: the oldest (4) was there by 160
    assert.deepEqual(t.observe(span(6, 4, 9), 220), { unaccepted: 6, oldestSince: 160 });
    // 4 and 5 accepted: 6 was first covered by the check at 220
    assert.deepEqual(t.observe(span(4, 6, 9), 280), { unaccepted: 4, oldestSince: 220 });
    // nothing new, nothing accepted: unchanged
    assert.deepEqual(t.observe(span(4, 6, 9), 340), { unaccepted: 4, oldestSince: 220 });
    // all accepted, then a new change: dated by the check that first saw it
    assert.deepEqual(t.observe(span(0, null, null), 400), { unaccepted: 0, oldestSince: null });
    assert.deepEqual(t.observe(span(1, 10, 10), 460), { unaccepted: 1, oldestSince: 460 });
  });

  void test('a newest row that was accepted first does not make the top go down', () => {
    const t = new BookLagTracker();
    t.observe(span(3, 1, 3), 100);
    // 3 accepted, 1 and 2 still there: max(seq) fell to 2, the mark of 100 still dates 1
    assert.deepEqual(t.observe(span(2, 1, 2), 160), { unaccepted: 2, oldestSince: 100 });
    // 4 written, then 1..2 accepted: 4 was first seen at 220
    t.observe(span(3, 1, 4), 220);
    assert.deepEqual(t.observe(span(1, 4, 4), 280), { unaccepted: 1, oldestSince: 220 });
  });

  void test('a long lag episode keeps a bounded number of marks, and the age only ever shrinks when it drops one', () => {
    const t = new BookLagTracker();
    let seq = 0;
    let last = { unaccepted: 0, oldestSince: null as number | null };
    for (let i = 0; i < BookLagTracker.MAX_MARKS + 50; i++) {
      seq += 1;
      last = t.observe(span(seq, 1, seq), 1_000 + i * 60);
    }
    // the first 50 marks were dropped: the oldest is dated by the 51st check, later than its true date
    assert.equal(last.oldestSince, 1_000 + 50 * 60);
    assert.equal(last.unaccepted, BookLagTracker.MAX_MARKS + 50);
  });
});
