/**
 * The unrated makers' order budget (app/unrated-orders.ts): a token bucket of N, refilled at N a
 * minute in whole seconds of the daemon's clock; 0 is no limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnratedOrderBudget } from '../../../src/app/unrated-orders.js';

const T = 1_700_000_000;

void test('a burst of N, then N a minute; a clock that goes back adds nothing; a lowered setting caps what is left', () => {
  const b = new UnratedOrderBudget();
  const takes = (now: number, n: number, perMinute: number): boolean[] => Array.from({ length: n }, () => b.take(now, perMinute));
  assert.deepEqual(takes(T, 7, 6), [true, true, true, true, true, true, false]);
  assert.deepEqual(takes(T + 9, 2, 6), [false, false], '9 s at 6 a minute: 0.9 of an order');
  assert.deepEqual(takes(T + 10, 2, 6), [true, false]);
  assert.deepEqual(takes(T + 5, 1, 6), [false], 'the clock went back: nothing added');
  assert.deepEqual(takes(T + 20, 1, 6), [true], 'counted from the latest time seen');
  // An hour later the bucket is full again (6), but the operator lowered the setting to 2.
  assert.deepEqual(takes(T + 3600, 3, 2), [true, true, false]);
  assert.equal(b.refused, 6);
});

void test('0 is no limit and counts nothing', () => {
  const b = new UnratedOrderBudget();
  for (let i = 0; i < 1000; i++) assert.equal(b.take(T, 0), true);
  assert.equal(b.refused, 0);
});
