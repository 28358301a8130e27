import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { groupDigits, observeConditions } from '../../../src/alerts/conditions.js';
import type { AlertsSettings } from '../../../src/config/types.js';
import type { HealthSnapshot } from '../../../src/observability/health-snapshot.js';

const T: AlertsSettings = {
  check_interval_seconds: 60,
  lnd_down_minutes: 5,
  relays_down_minutes: 2,
  escrow_deadline_blocks: 72,
  price_stale_seconds: 1800,
  overload_shed_events: 100,
  overload_quiet_minutes: 10,
  order_events_unaccepted_minutes: 15,
  dispute_events_unaccepted_minutes: 15,
};
const AT = 1_800_000_000;

function snap(p: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return {
    at: AT,
    startedAt: AT - 10_000,
    lightning: { state: 'up', downSince: AT, lastError: null },
    relays: { connected: 1, total: 1, allDownSince: AT, connectedSince: AT - 10_000, detail: 'ws://r: open' },
    price: { newestFetchedAt: AT - 60 },
    strandedPayouts: [],
    escrowsNearDeadline: [],
    backup: null,
    inbound: { shed: 0, since: null, lastShedAt: null, dropped: [] },
    book: { unaccepted: 0, oldestSince: null },
    disputes: { unaccepted: 0, oldestSince: null },
    ...p,
  };
}

function of(s: HealthSnapshot, kind: string) {
  const o = observeConditions(s, T).find((x) => x.kind === kind);
  assert.ok(o !== undefined);
  return o;
}

void describe('alert conditions from a health snapshot', () => {
  void test('all healthy: every kind known, nothing active', () => {
    const obs = observeConditions(snap(), T);
    assert.deepEqual(
      obs.map((o) => [o.kind, o.known, o.active.length]),
      [
        ['lnd-down', true, 0],
        ['relays-down', true, 0],
        ['price-stale', true, 0],
        ['payout-stranded', true, 0],
        ['escrow-deadline', true, 0],
        ['backup-failed', false, 0],
        ['intake-overloaded', true, 0],
        ['order-events-unaccepted', true, 0],
        ['dispute-events-unaccepted', true, 0],
      ],
    );
  });

  void test('LND: down less than lnd_down_minutes is undecided, from then on active with the last error', () => {
    const short = of(snap({ lightning: { state: 'down', downSince: AT - 299, lastError: 'ECONNREFUSED' } }), 'lnd-down');
    assert.deepEqual(short, { kind: 'lnd-down', known: false, active: [] });
    const firstTry = { ...T, lnd_down_minutes: 0 };
    const connecting = observeConditions(snap({ lightning: { state: 'connecting', downSince: AT - 59, lastError: null } }), firstTry);
    assert.equal(connecting.find((o) => o.kind === 'lnd-down')?.known, false, 'a first connect gets a minute even at 0');
    const failed = observeConditions(snap({ lightning: { state: 'down', downSince: AT, lastError: 'ECONNREFUSED' } }), firstTry);
    assert.equal(failed.find((o) => o.kind === 'lnd-down')?.active.length, 1, 'a failed connect counts at once at 0');
    const long = of(snap({ lightning: { state: 'connecting', downSince: AT - 300, lastError: 'ECONNREFUSED' } }), 'lnd-down');
    assert.equal(long.known, true);
    assert.equal(long.active[0]?.key, 'lnd-down');
    assert.match(long.active[0]!.text, /connecting \(since 5 min\); last error: ECONNREFUSED/);
  });

  void test('relays: none connected for relays_down_minutes is active, naming each relay', () => {
    const o = of(snap({ relays: { connected: 0, total: 2, allDownSince: AT - 120, connectedSince: AT, detail: 'ws://a: backoff (refused); ws://b: connecting' } }), 'relays-down');
    assert.equal(o.active.length, 1);
    assert.match(o.active[0]!.text, /None of the 2 relays is connected \(for 2 min\): ws:\/\/a: backoff \(refused\); ws:\/\/b: connecting/);
    assert.equal(of(snap({ relays: { connected: 0, total: 2, allDownSince: AT - 119, connectedSince: AT, detail: '' } }), 'relays-down').known, false);
  });

  void test('prices: stale past price_stale_seconds; never fetched counts from the start', () => {
    assert.equal(of(snap({ price: { newestFetchedAt: AT - 1800 } }), 'price-stale').active.length, 1);
    assert.equal(of(snap({ price: { newestFetchedAt: AT - 1799 } }), 'price-stale').active.length, 0);
    const never = of(snap({ price: { newestFetchedAt: null }, startedAt: AT - 100 }), 'price-stale');
    assert.deepEqual(never, { kind: 'price-stale', known: false, active: [] });
    const neverLong = of(snap({ price: { newestFetchedAt: null }, startedAt: AT - 2000 }), 'price-stale');
    assert.match(neverLong.active[0]!.text, /No price has been fetched since the start/);
  });

  void test('scheduled backups: failing since the last success is active; a success clears it', () => {
    const failing = of(snap({ backup: { consecutiveFailures: 2, lastError: 'integrity_check: not ok', lastSuccessAt: AT - 86_400 } }), 'backup-failed');
    assert.equal(failing.active[0]?.key, 'backup-failed');
    assert.match(failing.active[0]!.text, /The last 2 scheduled backup\(s\) failed \(last error: integrity_check: not ok\); last good backup: 2027-01-14T08:00:00\.000Z/);
    assert.deepEqual(of(snap({ backup: { consecutiveFailures: 0, lastError: null, lastSuccessAt: AT } }), 'backup-failed'), { kind: 'backup-failed', known: true, active: [] });
  });

  void test('stranded payouts and escrows near deadline: one condition per order; unknown lists judge nothing', () => {
    const o = of(
      snap({ strandedPayouts: [{ orderId: 'o-1', amountSats: 19_880, hash: 'ab'.repeat(32), claimedAt: AT - 600 }] }),
      'payout-stranded',
    );
    assert.equal(o.active[0]?.key, 'payout-stranded:o-1');
    assert.match(o.active[0]!.text, /Order o-1: the buyer payout of 19880 sats .* claimed 10 min ago/);
    const e = of(
      snap({
        escrowsNearDeadline: [
          { orderId: 'o-2', status: 'active', expiryHeight: 1100, blockHeight: 1050, blocksLeft: 50 },
          { orderId: 'o-3', status: 'fiat-sent', expiryHeight: null, blockHeight: 1050, blocksLeft: null },
        ],
      }),
      'escrow-deadline',
    );
    assert.deepEqual(e.active.map((a) => a.key), ['escrow-deadline:o-2', 'escrow-deadline:o-3']);
    assert.match(e.active[0]!.text, /expires at height 1100, 50 blocks from the tip \(1050\)/);
    assert.match(e.active[1]!.text, /already canceled the escrow HTLC/);
    assert.equal(of(snap({ strandedPayouts: null }), 'payout-stranded').known, false);
    assert.equal(of(snap({ escrowsNearDeadline: null }), 'escrow-deadline').known, false);
  });
  void test('inbound flood: active once an episode shed overload_shed_events unchecked, with what the flood was made of; off at 0', () => {
    const below = of(snap({ inbound: { shed: 99, since: AT - 120, lastShedAt: AT, dropped: [] } }), 'intake-overloaded');
    assert.deepEqual(below, { kind: 'intake-overloaded', known: true, active: [] });
    const flood = of(snap({ inbound: { shed: 12_345, since: AT - 120, lastShedAt: AT - 60, dropped: [['pow', 40_000], ['signature', 7]] } }), 'intake-overloaded');
    assert.equal(flood.active.length, 1);
    assert.equal(flood.active[0]!.key, 'intake-overloaded');
    assert.match(flood.active[0]!.text, /shed 12,345 inbound events unchecked since 2027-01-15T07:58:00Z/);
    assert.match(flood.active[0]!.text, /Dropped at the gates in that time: pow 40,000, signature 7\./);
    assert.match(flood.active[0]!.text, /\[mostro\] pow/);
    // the episode ended (no shedding for overload_quiet_minutes): resolved
    assert.deepEqual(of(snap({ inbound: { shed: 0, since: null, lastShedAt: AT - 600, dropped: [] } }), 'intake-overloaded').active, []);
    // no intake counters, or the alert switched off: not judged
    assert.equal(of(snap({ inbound: null }), 'intake-overloaded').known, false);
    const off = observeConditions(snap({ inbound: { shed: 12_345, since: AT, lastShedAt: AT, dropped: [] } }), { ...T, overload_shed_events: 0 });
    assert.equal(off.find((o) => o.kind === 'intake-overloaded')?.known, false);
  });

  void test('order events no relay accepted: active once the oldest waited order_events_unaccepted_minutes with a relay connected; not judged with none; off at 0', () => {
    const kind = 'order-events-unaccepted';
    const relays = (connected: number, connectedSince: number) => ({ connected, total: 3, allDownSince: AT, connectedSince, detail: '' });
    // a handful in flight, seen for the first time a minute ago: nothing
    assert.deepEqual(of(snap({ book: { unaccepted: 4, oldestSince: AT - 60 } }), kind), { kind, known: true, active: [] });
    assert.deepEqual(of(snap({ book: { unaccepted: 1, oldestSince: AT - 899 } }), kind).active, []);
    const lag = of(snap({ book: { unaccepted: 1_234, oldestSince: AT - 900 }, relays: relays(2, AT - 5_000) }), kind);
    assert.equal(lag.active.length, 1);
    assert.equal(lag.active[0]!.key, kind);
    assert.match(lag.active[0]!.text, /^1,234 order\(s\) have a public event \(kind 38383\) that no relay accepted; the oldest has waited 15 min with 2 of 3 relays connected\./);
    assert.match(lag.active[0]!.text, /event not accepted by every relay after retries/);
    // the relays came back 5 minutes ago after an outage: counted from then, not from the change
    assert.deepEqual(of(snap({ book: { unaccepted: 50, oldestSince: AT - 3_600 }, relays: relays(1, AT - 300) }), kind).active, []);
    assert.equal(of(snap({ book: { unaccepted: 50, oldestSince: AT - 3_600 }, relays: relays(1, AT - 900) }), kind).active.length, 1);
    // no relay connected (relays-down speaks), the log unreadable, or the alert off: not judged
    assert.equal(of(snap({ book: { unaccepted: 50, oldestSince: AT - 3_600 }, relays: relays(0, AT) }), kind).known, false);
    assert.equal(of(snap({ book: null }), kind).known, false);
    const off = observeConditions(snap({ book: { unaccepted: 50, oldestSince: AT - 3_600 } }), { ...T, order_events_unaccepted_minutes: 0 });
    assert.equal(off.find((o) => o.kind === kind)?.known, false);
  });

  void test('dispute events no relay accepted: judged like the order book’s, on the dispute log, with their own limit', () => {
    const kind = 'dispute-events-unaccepted';
    const relays = (connected: number, connectedSince: number) => ({ connected, total: 3, allDownSince: AT - 90_000, connectedSince, detail: '' });
    assert.deepEqual(of(snap({ disputes: { unaccepted: 1, oldestSince: AT - 60 } }), kind), { kind, known: true, active: [] });
    // the order book lagging says nothing about the disputes, and the other way round
    assert.deepEqual(of(snap({ book: { unaccepted: 9, oldestSince: AT - 3_600 } }), kind).active, []);
    assert.deepEqual(of(snap({ disputes: { unaccepted: 2, oldestSince: AT - 3_600 } }), 'order-events-unaccepted').active, []);
    const lag = of(snap({ disputes: { unaccepted: 2, oldestSince: AT - 1_000 }, relays: relays(1, AT - 5_000) }), kind);
    assert.equal(lag.active.length, 1);
    assert.equal(lag.active[0]!.key, kind);
    assert.match(lag.active[0]!.text, /^2 dispute\(s\) have a public event \(kind 38386\) that no relay accepted; the oldest has waited 16 min with 1 of 3 relays connected\./);
    assert.match(lag.active[0]!.text, /mostrod-admin disputes/);
    assert.match(lag.active[0]!.text, /event not accepted by every relay after retries/);
    // counted from the relays' return; its own limit
    assert.deepEqual(of(snap({ disputes: { unaccepted: 2, oldestSince: AT - 3_600 }, relays: relays(1, AT - 600) }), kind).active, []);
    const five = observeConditions(snap({ disputes: { unaccepted: 2, oldestSince: AT - 3_600 }, relays: relays(1, AT - 600) }), { ...T, dispute_events_unaccepted_minutes: 5 });
    assert.equal(five.find((o) => o.kind === kind)?.active.length, 1);
    assert.equal(of(snap({ disputes: { unaccepted: 2, oldestSince: AT - 3_600 }, relays: relays(0, AT) }), kind).known, false);
    assert.equal(of(snap({ disputes: null }), kind).known, false);
    const off = observeConditions(snap({ disputes: { unaccepted: 2, oldestSince: AT - 3_600 } }), { ...T, dispute_events_unaccepted_minutes: 0 });
    assert.equal(off.find((o) => o.kind === kind)?.known, false);
  });

  void test('counts are grouped as en-US does, without the locale API', () => {
    for (const n of [0, 7, 999, 1000, 12_345, 999_999, 1_000_000, 40_000, 123_456_789, 2 ** 40, -1234]) {
      assert.equal(groupDigits(n), n.toLocaleString('en-US'), String(n));
    }
  });
});
