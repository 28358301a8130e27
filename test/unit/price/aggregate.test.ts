import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateQuotes, combine, type SourceQuotes } from '../../../src/price/aggregate.js';
import { CircuitBreaker } from '../../../src/price/breaker.js';
import type { ProviderId, Quote } from '../../../src/price/types.js';

const btc = (value: number): Quote => ({ kind: 'per-btc', value });
function src(id: ProviderId, quotes: Record<string, Quote>, asOf = 1000, fallbackOnly = false): SourceQuotes {
  return { id, quotes: new Map(Object.entries(quotes)), asOf, fallbackOnly };
}

void describe('combine: median with outlier guard', () => {
  const cases: Array<[string, number[], number | null, number[]]> = [
    ['no value', [], null, []],
    ['one value', [100], 100, []],
    ['two values: their mean', [100, 104], 102, []],
    ['three close values: the median', [100, 101, 104], 101, []],
    ['four close values: median of the kept', [100, 101, 102, 104], 101.5, []],
    ['one outlier of three is left out', [100, 101, 150], 100.5, [2]],
    ['exactly at the threshold is kept', [100, 105, 95], 100, []],
    ['just past the threshold is left out', [100, 100, 105.01], 100, [2]],
    ['non-finite, zero, negative values are ignored', [Number.NaN, 0, -5, Infinity, 100], 100, []],
    ['no value near the median: no price', [1, 1, 100, 100], null, []],
  ];
  for (const [name, xs, price, outliers] of cases) {
    void test(name, () => {
      const c = combine(xs, 5);
      if (price === null) assert.equal(c, null);
      else {
        assert.ok(c !== null);
        assert.equal(c.price, price);
        assert.deepEqual(c.outliers, outliers);
      }
    });
  }
});

void describe('aggregateQuotes', () => {
  void test('union of partial coverage; sources per currency; outliers named; the oldest kept source dates the price', () => {
    const a = aggregateQuotes(
      [
        src('yadio', { USD: btc(100_000), CUP: btc(40_000_000) }, 1000),
        src('coingecko', { USD: btc(100_400) }, 990),
        src('blockchain', { USD: btc(130_000), GBP: btc(78_000) }, 1000),
      ],
      5,
    );
    const { spreadPct, ...usd } = a.get('USD')!;
    assert.deepEqual(usd, { price: 100_200, sources: ['coingecko', 'yadio'], outliers: ['blockchain'], asOf: 990, viaFallback: false });
    assert.equal(spreadPct, (200 / 100_200) * 100);
    assert.deepEqual(a.get('CUP')?.sources, ['yadio']);
    assert.deepEqual(a.get('GBP')?.sources, ['blockchain']);
  });

  void test('fiat-cross quotes resolve against this poll’s aggregated base; dropped without it', () => {
    const cross: Quote = { kind: 'per-base', base: 'USD', value: 400 };
    const a = aggregateQuotes([src('yadio', { USD: btc(100_000), CUP: btc(41_000_000) }), src('eltoque', { CUP: cross })], 5);
    assert.equal(a.get('CUP')?.price, (41_000_000 + 40_000_000) / 2);
    assert.deepEqual(a.get('CUP')?.sources, ['eltoque', 'yadio']);
    const none = aggregateQuotes([src('eltoque', { CUP: cross })], 5);
    assert.equal(none.size, 0);
  });

  void test('sources that do not agree make no price, and are reported', () => {
    const disagree = new Map<string, ProviderId[]>();
    const a = aggregateQuotes(
      [
        src('yadio', { ARS: btc(130_000_000) }),
        src('coingecko', { ARS: btc(129_000_000) }),
        src('currency_api', { ARS: btc(90_000_000) }),
        src('blockchain', { ARS: btc(91_000_000) }),
      ],
      5,
      disagree,
    );
    assert.equal(a.has('ARS'), false);
    assert.deepEqual(disagree.get('ARS'), ['blockchain', 'coingecko', 'currency_api', 'yadio']);
  });

  void test('a fallback-only source (nostr) fills only what nothing else produced, and is marked', () => {
    const a = aggregateQuotes(
      [src('yadio', { USD: btc(100_000) }), src('nostr', { USD: btc(1), VES: btc(12_000_000) }, 900, true)],
      5,
    );
    assert.equal(a.get('USD')?.price, 100_000);
    assert.deepEqual(a.get('USD')?.sources, ['yadio']);
    assert.deepEqual(a.get('VES'), { price: 12_000_000, sources: ['nostr'], outliers: [], asOf: 900, viaFallback: true, spreadPct: 0 });
  });
});

void describe('CircuitBreaker', () => {
  const policy = { enabled: true, failureThreshold: 3, cooldownSeconds: 120, maxCooldownSeconds: 300 };

  void test('opens at the threshold, half-opens after the cooldown, doubles up to the cap, closes on success', () => {
    const b = new CircuitBreaker(policy);
    b.recordFailure(0);
    b.recordFailure(0);
    assert.equal(b.state(0), 'closed');
    b.recordFailure(1000);
    assert.equal(b.state(1000), 'open');
    assert.equal(b.state(1119), 'open');
    assert.equal(b.state(1120), 'half-open');
    assert.ok(b.allows(1120));
    b.recordFailure(1120); // failed trial: 240 s
    assert.equal(b.retryAt, 1360);
    b.recordFailure(1360); // 480 → capped at 300
    assert.equal(b.retryAt, 1660);
    b.recordSuccess();
    assert.equal(b.state(1660), 'closed');
    assert.equal(b.consecutiveFailures, 0);
  });

  void test('disabled (Yadio-only mode): counts failures, never opens', () => {
    const b = new CircuitBreaker({ ...policy, enabled: false });
    for (let i = 0; i < 10; i++) b.recordFailure(i);
    assert.equal(b.state(10), 'closed');
    assert.equal(b.consecutiveFailures, 10);
  });
});
