import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Scheduler, type JobRunReport } from '../../../src/scheduler/scheduler.js';
import { FakeClock } from '../../support/fake-clock.js';

void describe('Scheduler onRun (job metrics)', () => {
  void test('every run is reported with its start, duration and failure', async () => {
    const clock = new FakeClock(1_700_000_000);
    const runs: JobRunReport[] = [];
    const s = new Scheduler({ clock, logger: pino({ level: 'silent' }), onRun: (r) => runs.push(r) });
    let fail = false;
    s.every('work', 60, () => {
      clock.advance(2);
      return fail ? Promise.reject(new Error('boom')) : Promise.resolve();
    });
    await s.runNow('work');
    fail = true;
    await assert.rejects(s.runNow('work'), /boom/);
    assert.deepEqual(runs, [
      { job: 'work', startedMs: 1_700_000_000_000, durationMs: 2000, failed: false },
      { job: 'work', startedMs: 1_700_000_002_000, durationMs: 2000, failed: true },
    ]);
    await s.stop();
  });
});
