import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import nodeCron from 'node-cron';
import { cronProblem, parseCron, scheduleCron } from '../../../src/ops/cron.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

/** A small seeded generator (the same cases on every run). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) % n;
  };
}

/** One random field in the syntax both parsers share. */
function randomField(r: (n: number) => number, min: number, max: number, names?: readonly string[]): string {
  const v = () => {
    const n = min + r(max - min + 1);
    return names !== undefined && r(3) === 0 && n - min < names.length ? names[n - min]! : String(n);
  };
  const items = 1 + r(3);
  const out: string[] = [];
  for (let i = 0; i < items; i++) {
    switch (r(5)) {
      case 0:
        out.push('*');
        break;
      case 1:
        out.push(`*/${1 + r(Math.max(1, Math.floor((max - min) / 2)))}`);
        break;
      case 2: {
        const a = min + r(max - min + 1);
        const b = a + r(max - a + 1);
        out.push(`${a}-${b}${r(2) === 0 ? `/${1 + r(5)}` : ''}`);
        break;
      }
      default:
        out.push(v());
    }
  }
  return out.join(',');
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function randomExpression(r: (n: number) => number): string {
  const fields = [
    randomField(r, 0, 23),
    randomField(r, 1, 31),
    randomField(r, 1, 12, MONTHS),
    randomField(r, 0, 7, DAYS),
  ];
  const minute = randomField(r, 0, 59);
  return r(2) === 0 ? [minute, ...fields].join(' ') : [randomField(r, 0, 59), minute, ...fields].join(' ');
}

/**
 * The reference: node-cron's own expansion of the fields, and a search that skips ahead a day, an
 * hour or a minute at a time (not the implementation's walk).
 */
function referenceNext(expression: string, afterMs: number): number {
  const f = nodeCron.parse(expression);
  const has = (list: readonly (number | string)[], v: number) => list.includes(v);
  let t = Math.floor(afterMs / 1000) + 1;
  for (let guard = 0; guard < 10_000_000; guard++) {
    const d = new Date(t * 1000);
    if (!has(f.month, d.getUTCMonth() + 1) || !has(f.dayOfMonth, d.getUTCDate()) || !has(f.dayOfWeek, d.getUTCDay())) {
      t = Math.floor(t / 86_400) * 86_400 + 86_400;
    } else if (!has(f.hour, d.getUTCHours())) {
      t = Math.floor(t / 3600) * 3600 + 3600;
    } else if (!has(f.minute, d.getUTCMinutes())) {
      t = Math.floor(t / 60) * 60 + 60;
    } else if (!has(f.second, d.getUTCSeconds())) {
      t += 1;
    } else {
      return t * 1000;
    }
  }
  throw new Error(`reference found nothing for ${expression}`);
}

void describe('cron schedules (UTC, no ICU)', () => {
  void test('next times of common schedules', () => {
    const from = at('2026-12-05T10:17:42.500Z');
    const cases: [string, string][] = [
      ['0 3 * * *', '2026-12-06T03:00:00.000Z'],
      ['*/10 * * * *', '2026-12-05T10:20:00.000Z'],
      ['* * * * * *', '2026-12-05T10:17:43.000Z'],
      ['*/15 * * * * *', '2026-12-05T10:17:45.000Z'],
      ['30 2 * * sun', '2026-12-06T02:30:00.000Z'],
      ['0 0 1 jan *', '2027-01-01T00:00:00.000Z'],
      ['@daily', '2026-12-06T00:00:00.000Z'],
      ['@hourly', '2026-12-05T11:00:00.000Z'],
      ['@weekly', '2026-12-06T00:00:00.000Z'],
      ['@monthly', '2027-01-01T00:00:00.000Z'],
      ['@YEARLY', '2027-01-01T00:00:00.000Z'],
      ['0 12 ? * MON-FRI', '2026-12-07T12:00:00.000Z'],
      ['0 0 29 2 *', '2028-02-29T00:00:00.000Z'],
      // day of month AND day of week (node-cron's rule): the next Friday the 13th
      ['0 0 13 * fri', '2027-08-13T00:00:00.000Z'],
      ['0 0 * * 7', '2026-12-06T00:00:00.000Z'],
      ['  0   3  *  *  *  ', '2026-12-06T03:00:00.000Z'],
    ];
    for (const [expr, want] of cases) assert.equal(iso(parseCron(expr).next(from)), want, expr);
  });

  void test('strictly after: a time exactly on the schedule gives the following one', () => {
    const s = parseCron('0 3 * * *');
    assert.equal(iso(s.next(at('2026-12-06T03:00:00.000Z'))), '2026-12-07T03:00:00.000Z');
    assert.equal(iso(s.next(at('2026-12-06T02:59:59.999Z'))), '2026-12-06T03:00:00.000Z');
    assert.equal(iso(parseCron('0 0 1 1 *').next(at('2026-12-31T23:59:59.999Z'))), '2027-01-01T00:00:00.000Z');
  });

  void test('refuses what it cannot run, saying why', () => {
    const bad: [string, RegExp][] = [
      ['every night', /expected 5 or 6 fields, got 2/],
      ['', /expected 5 or 6 fields, got 0/],
      ['* * * * * * *', /expected 5 or 6 fields, got 7/],
      ['60 * * * *', /minute "60": 60 is outside 0–59/],
      ['0 24 * * *', /hour "24": 24 is outside 0–23/],
      ['0 0 0 * *', /day of month "0": 0 is outside 1–31/],
      ['0 0 * 13 *', /month "13": 13 is outside 1–12/],
      ['0 0 * * 8', /day of week "8": 8 is outside 0–7/],
      ['0 0 L * *', /L, W and # are not supported/],
      ['0 0 15W * *', /L, W and # are not supported/],
      ['0 0 * * 5#3', /L, W and # are not supported/],
      ['0 0 * * 5L', /L, W and # are not supported/],
      ['5-1 * * * *', /runs backwards/],
      ['*/0 * * * *', /step must be a whole number ≥ 1/],
      ['5/15 * * * *', /a step needs "\*" or a range \("5-59\/15"\)/],
      ['1,,2 * * * *', /empty list item/],
      ['0 0 30 2 *', /no month in "2" has a day "30"/],
      ['0 0 31 4,6,9,11 *', /no month in "4,6,9,11" has a day "31"/],
      ['@every_minute', /unknown nickname/],
      ['0 ? * * *', /hour "\?": "\?" is not a number/],
      ['x * * * *', /minute "x": "x" is not a number/],
      ['0 0 * foo *', /month "foo": "foo" is not a number or a name/],
    ];
    for (const [expr, why] of bad) {
      const problem = cronProblem(expr);
      assert.ok(problem !== null, `${JSON.stringify(expr)} accepted`);
      assert.match(problem, why, expr);
      assert.match(problem, new RegExp(`^${JSON.stringify(expr).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), 'names the expression');
    }
  });

  void test('the same fields as node-cron, and the same next time as a skip-ahead search (seeded, 400 expressions)', () => {
    const r = rng(20261205);
    let compared = 0;
    for (let i = 0; i < 400; i++) {
      const expr = randomExpression(r);
      const ours = cronProblem(expr);
      const theirs = nodeCron.validate(expr);
      assert.equal(ours === null, theirs, `${expr}: ours ${ours ?? 'valid'}, node-cron ${theirs ? 'valid' : 'invalid'}`);
      if (ours !== null) continue;
      const from = at('2026-01-01T00:00:00Z') + r(4 * 365) * 86_400_000 + r(86_400_000);
      assert.equal(iso(parseCron(expr).next(from)), iso(referenceNext(expr, from)), `${expr} after ${iso(from)}`);
      compared++;
    }
    assert.ok(compared > 300, `${compared} valid expressions compared`);
  });

  void test('never touches ICU: no Intl, no locale formatting', () => {
    const touched: string[] = [];
    const restore: (() => void)[] = [];
    for (const k of ['DateTimeFormat', 'NumberFormat', 'Collator'] as const) {
      const orig = Intl[k];
      const spy = mock.method(Intl, k, function (this: unknown, ...a: unknown[]) {
        touched.push(`Intl.${k}`);
        return Reflect.construct(orig, a);
      });
      restore.push(() => spy.mock.restore());
    }
    const localeSpy = mock.method(Date.prototype, 'toLocaleString');
    restore.push(() => localeSpy.mock.restore());
    try {
      // node-cron itself does (what this module replaced): the spies see it.
      // (a time zone of its own: node-cron keeps one formatter per zone)
      nodeCron.createTask('0 3 * * *', () => undefined, { timezone: 'Etc/GMT+5' }).getNextRuns(1);
      assert.ok(touched.length > 0, 'the spies catch Intl use');
      touched.length = 0;
      for (const expr of ['0 3 * * *', '*/10 * * * * *', '0 0 13 * fri', '@weekly']) parseCron(expr).next(Date.now());
      const task = scheduleCron(parseCron('* * * * * *'), () => undefined);
      task.stop();
      assert.deepEqual(touched, []);
      assert.equal(localeSpy.mock.callCount(), 0);
    } finally {
      for (const f of restore) f();
    }
  });
});

void describe('scheduleCron', () => {
  let wall = 0;
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(() => {
    mock.timers.reset();
  });
  /** Advance the wall clock, then the timers (by less than the time between two runs, or it is a missed run). */
  const advance = (ms: number): void => {
    wall += ms;
    mock.timers.tick(ms);
  };

  void test('runs at each time, reports the next, and stops', () => {
    wall = at('2026-12-05T10:00:00.000Z');
    const runs: string[] = [];
    const task = scheduleCron(parseCron('*/10 * * * *'), () => runs.push(iso(wall)), () => wall);
    assert.equal(iso(task.nextRun()!), '2026-12-05T10:10:00.000Z');
    advance(9 * 60_000);
    assert.deepEqual(runs, []);
    advance(60_000);
    assert.deepEqual(runs, ['2026-12-05T10:10:00.000Z']);
    assert.equal(iso(task.nextRun()!), '2026-12-05T10:20:00.000Z');
    advance(10 * 60_000);
    advance(10 * 60_000);
    assert.deepEqual(runs, ['2026-12-05T10:10:00.000Z', '2026-12-05T10:20:00.000Z', '2026-12-05T10:30:00.000Z']);
    task.stop();
    assert.equal(task.nextRun(), null);
    advance(60 * 60_000);
    assert.equal(runs.length, 3);
  });

  void test('a wait longer than setTimeout allows (≈ 24.8 days) is split, and the run comes once, on time', () => {
    wall = at('2026-12-05T10:00:00.000Z');
    const runs: number[] = [];
    const task = scheduleCron(parseCron('@yearly'), () => runs.push(wall), () => wall);
    const target = at('2027-01-01T00:00:00.000Z');
    assert.equal(task.nextRun(), target);
    advance(2 ** 31 - 1);
    assert.deepEqual(runs, []);
    advance(target - wall - 1);
    assert.deepEqual(runs, []);
    advance(1);
    assert.deepEqual(runs, [target]);
    assert.equal(iso(task.nextRun()!), '2028-01-01T00:00:00.000Z');
    task.stop();
  });

  void test('times missed while the process could not run give one late run; the clock set back waits for its time', () => {
    wall = at('2026-12-05T10:00:00.000Z');
    const runs: string[] = [];
    const task = scheduleCron(parseCron('* * * * *'), () => runs.push(iso(wall)), () => wall);
    // The wall clock jumps 10 minutes (a suspended machine) before the timer fires.
    wall += 10 * 60_000;
    mock.timers.tick(60_000);
    assert.deepEqual(runs, ['2026-12-05T10:10:00.000Z']);
    assert.equal(iso(task.nextRun()!), '2026-12-05T10:11:00.000Z');
    // The wall clock is set back 5 minutes: the timer fires at the planned delay, finds it early and waits.
    wall -= 5 * 60_000;
    mock.timers.tick(60_000);
    assert.equal(runs.length, 1);
    advance(5 * 60_000);
    assert.equal(runs.length, 1);
    advance(60_000);
    assert.deepEqual(runs.slice(1), ['2026-12-05T10:11:00.000Z']);
    task.stop();
  });

  void test('a run that throws or rejects does not stop the schedule', async () => {
    wall = at('2026-12-05T10:00:00.000Z');
    let n = 0;
    const task = scheduleCron(
      parseCron('* * * * *'),
      () => {
        n++;
        if (n === 1) throw new Error('boom');
        return Promise.reject(new Error('later boom'));
      },
      () => wall,
    );
    advance(60_000);
    advance(60_000);
    advance(60_000);
    await Promise.resolve();
    assert.equal(n, 3);
    task.stop();
  });
});
