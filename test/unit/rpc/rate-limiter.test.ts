import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, RATE_LIMIT_LOCKOUT_MS } from '../../../src/rpc/rate-limiter.js';
import { FakeClock } from '../../support/fake-clock.js';

const IP = '127.0.0.1';

function setup(retentionSeconds = 3600) {
  const clock = new FakeClock(1_700_000_000);
  return { clock, limiter: new RateLimiter(clock, retentionSeconds * 1000) };
}

void describe('RateLimiter (DAEMON.md §7.4)', () => {
  void test('a fresh client is allowed', () => {
    const { limiter } = setup();
    assert.deepEqual(limiter.check(IP), { allowed: true });
  });

  void test('after a failure the client waits the exponential backoff (1 s, 2 s, 4 s, 8 s)', () => {
    const { clock, limiter } = setup();
    const delays = [1, 2, 4, 8];
    for (const [i, delay] of delays.entries()) {
      limiter.recordFailure(IP);
      assert.equal(limiter.failures(IP), i + 1);
      const denied = limiter.check(IP);
      assert.equal(denied.allowed, false);
      // mostrod: whole seconds remaining + 1
      if (!denied.allowed) assert.equal(denied.reason, `Rate limited. Try again in ${delay + 1} seconds.`);
      clock.advance(delay - 0.5);
      assert.equal(limiter.check(IP).allowed, false, `still within the ${delay} s backoff`);
      clock.advance(0.5);
      assert.equal(limiter.check(IP).allowed, true, `allowed once the ${delay} s backoff passed`);
    }
  });

  void test('five failures lock the client out for 300 s, then it starts over', () => {
    const { clock, limiter } = setup();
    for (let i = 0; i < 5; i++) {
      limiter.recordFailure(IP);
      clock.advance(60);
    }
    // The fifth failure locked it 60 s ago: 240 s remain.
    const d = limiter.check(IP);
    assert.equal(d.allowed, false);
    if (!d.allowed) assert.equal(d.reason, 'Too many failed attempts. Locked out for 240 seconds.');
    clock.advance(239);
    assert.equal(limiter.check(IP).allowed, false);
    clock.advance(1);
    assert.equal(limiter.check(IP).allowed, true);
    assert.equal(limiter.failures(IP), 0, 'lockout expiry resets the failure count');
  });

  void test('a lockout is never evicted while it runs, even past the retention', () => {
    const { clock, limiter } = setup(10);
    for (let i = 0; i < 5; i++) limiter.recordFailure(IP);
    clock.advance(RATE_LIMIT_LOCKOUT_MS / 1000 - 1);
    assert.equal(limiter.check(IP).allowed, false);
  });

  void test('success clears the record', () => {
    const { clock, limiter } = setup();
    limiter.recordFailure(IP);
    limiter.recordFailure(IP);
    clock.advance(2);
    limiter.recordSuccess(IP);
    assert.equal(limiter.failures(IP), 0);
    assert.equal(limiter.check(IP).allowed, true);
    limiter.recordFailure(IP);
    assert.equal(limiter.failures(IP), 1, 'counting restarts from one');
  });

  void test('clients are independent', () => {
    const { limiter } = setup();
    for (let i = 0; i < 5; i++) limiter.recordFailure(IP);
    assert.equal(limiter.check(IP).allowed, false);
    assert.equal(limiter.check('10.0.0.2').allowed, true);
  });

  void test('idle entries are evicted after the retention', () => {
    const { clock, limiter } = setup(60);
    limiter.recordFailure(IP);
    assert.equal(limiter.size, 1);
    clock.advance(61);
    assert.equal(limiter.check(IP).allowed, true);
    assert.equal(limiter.size, 0);
    assert.equal(limiter.failures(IP), 0);
  });
});
