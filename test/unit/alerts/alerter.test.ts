import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Alerter, type Observation } from '../../../src/alerts/alerter.js';
import { countOpenIncidents, findLiveIncidents } from '../../../src/alerts/incidents.js';
import type { Db } from '../../../src/db/schema.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';

const silent = pino({ level: 'silent' });

function harness(db: Db, clock: FakeClock) {
  const sent: string[] = [];
  const box = { accept: true };
  const alerter = new Alerter({
    db,
    clock,
    logger: silent,
    nodeName: 'Test node',
    send: (text) => {
      if (box.accept) sent.push(text);
      return Promise.resolve(box.accept);
    },
  });
  return { alerter, sent, box };
}

const lndDown: Observation = { kind: 'lnd-down', known: true, active: [{ key: 'lnd-down', text: 'LND is down: connection refused' }] };
const lndUp: Observation = { kind: 'lnd-down', known: true, active: [] };
const lndUnknown: Observation = { kind: 'lnd-down', known: false, active: [] };

void describe('Alerter: one alert per incident, one resolved message', () => {
  void test('an incident is alerted once while it lasts and resolved once when it clears', async () => {
    const db = await testDb();
    const clock = new FakeClock(1_800_000_000);
    const { alerter, sent } = harness(db, clock);

    const r1 = await alerter.evaluate([lndDown]);
    assert.deepEqual(r1.opened, ['lnd-down']);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /^\[Test node\] ALERT: LND unreachable\nLND is down: connection refused\nSince 2027-01-15T08:00:00Z\.$/);

    clock.advance(60);
    const r2 = await alerter.evaluate([lndDown]);
    assert.deepEqual(r2, { opened: [], resolved: [], sent: [], undelivered: 0 });

    clock.advance(240);
    const r3 = await alerter.evaluate([lndUp]);
    assert.deepEqual(r3.resolved, ['lnd-down']);
    assert.equal(sent.length, 2);
    assert.match(sent[1]!, /^\[Test node\] RESOLVED: LND unreachable\n.*\nOpen from 2027-01-15T08:00:00Z to 2027-01-15T08:05:00Z \(5 min\)\.$/s);

    clock.advance(60);
    await alerter.evaluate([lndUp]);
    assert.equal(sent.length, 2, 'nothing more once resolved and announced');
    assert.deepEqual(await findLiveIncidents(db), []);

    // The same condition coming back is a new incident.
    await alerter.evaluate([lndDown]);
    assert.equal(sent.length, 3);
    assert.match(sent[2]!, /ALERT: LND unreachable/);
  });

  void test('a kind that cannot be judged neither opens nor resolves', async () => {
    const db = await testDb();
    const clock = new FakeClock();
    const { alerter, sent } = harness(db, clock);
    await alerter.evaluate([lndDown]);
    const r = await alerter.evaluate([lndUnknown]);
    assert.deepEqual(r.resolved, []);
    assert.equal((await countOpenIncidents(db)).get('lnd-down'), 1);
    assert.equal(sent.length, 1);
  });

  void test('an undelivered alert is retried at the next check, not lost, not doubled', async () => {
    const db = await testDb();
    const clock = new FakeClock();
    const { alerter, sent, box } = harness(db, clock);
    box.accept = false;
    const r1 = await alerter.evaluate([lndDown]);
    assert.equal(r1.undelivered, 1);
    assert.equal(sent.length, 0);
    clock.advance(60);
    await alerter.evaluate([lndDown]);
    assert.equal(sent.length, 0);
    box.accept = true;
    clock.advance(60);
    const r3 = await alerter.evaluate([lndDown]);
    assert.equal(r3.sent.length, 1);
    assert.match(sent[0]!, /ALERT: LND unreachable/);
    await alerter.evaluate([lndDown]);
    assert.equal(sent.length, 1);
  });

  void test('an incident that cleared before its alert went out gets one RESOLVED message saying so', async () => {
    const db = await testDb();
    const clock = new FakeClock();
    const { alerter, sent, box } = harness(db, clock);
    const relaysDown: Observation = { kind: 'relays-down', known: true, active: [{ key: 'relays-down', text: 'no relay' }] };
    box.accept = false;
    await alerter.evaluate([relaysDown]);
    clock.advance(120);
    box.accept = true;
    await alerter.evaluate([{ kind: 'relays-down', known: true, active: [] }]);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /RESOLVED: Every relay disconnected/);
    assert.match(sent[0]!, /not announced while open/);
    await alerter.evaluate([{ kind: 'relays-down', known: true, active: [] }]);
    assert.equal(sent.length, 1);
  });

  void test('per-order incidents: each order alerted once; one clearing resolves only that one', async () => {
    const db = await testDb();
    const clock = new FakeClock();
    const { alerter, sent } = harness(db, clock);
    const both: Observation = {
      kind: 'payout-stranded',
      known: true,
      active: [
        { key: 'payout-stranded:a', text: 'order a' },
        { key: 'payout-stranded:b', text: 'order b' },
      ],
    };
    await alerter.evaluate([both]);
    assert.equal(sent.length, 2);
    const r = await alerter.evaluate([{ kind: 'payout-stranded', known: true, active: [{ key: 'payout-stranded:b', text: 'order b' }] }]);
    assert.deepEqual(r.resolved, ['payout-stranded:a']);
    assert.equal(sent.length, 3);
    assert.match(sent[2]!, /RESOLVED: Payout stranded\norder a/);
    assert.equal((await countOpenIncidents(db)).get('payout-stranded'), 1);
  });

  void test('a restart (new Alerter on the same database) does not alert a still-open incident again', async () => {
    const db = await testDb();
    const clock = new FakeClock();
    const first = harness(db, clock);
    await first.alerter.evaluate([lndDown]);
    assert.equal(first.sent.length, 1);
    clock.advance(3600);
    const second = harness(db, clock);
    await second.alerter.evaluate([lndDown]);
    assert.equal(second.sent.length, 0);
    await second.alerter.evaluate([lndUp]);
    assert.equal(second.sent.length, 1);
    assert.match(second.sent[0]!, /RESOLVED: LND unreachable/);
  });
});
