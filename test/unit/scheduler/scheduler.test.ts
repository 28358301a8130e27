import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Scheduler, type TimerApi, type TimerHandle } from '../../../src/scheduler/scheduler.js';
import { FakeClock } from '../../support/fake-clock.js';

interface ManualTimer extends TimerHandle {
  fn: () => void;
  ms: number;
  cleared: boolean;
  fired: boolean;
  unrefd: boolean;
}

/** Timers the test fires by hand. */
class ManualTimers implements TimerApi {
  readonly all: ManualTimer[] = [];
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: ManualTimer = {
      fn,
      ms,
      cleared: false,
      fired: false,
      unrefd: false,
      unref() {
        t.unrefd = true;
      },
    };
    this.all.push(t);
    return t;
  }
  clearTimeout(handle: TimerHandle): void {
    (handle as ManualTimer).cleared = true;
  }
  pending(): ManualTimer[] {
    return this.all.filter((t) => !t.cleared && !t.fired);
  }
  /** Fire one pending timer, chosen by its delay. */
  fireWithDelay(ms: number): void {
    const t = this.pending().find((x) => x.ms === ms);
    assert.ok(t, `no pending timer of ${ms} ms`);
    t.fired = true;
    t.fn();
  }
  /** Fire every timer pending now (not the ones armed as a result). */
  fire(): void {
    for (const t of this.pending()) {
      t.fired = true;
      t.fn();
    }
  }
}

function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** Let pending promise callbacks run (no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A job the test releases by hand, counting runs and concurrency. */
function gatedJob() {
  const st = { runs: 0, active: 0, maxActive: 0, gates: [] as Array<() => void> };
  const job = async (): Promise<void> => {
    st.runs += 1;
    st.active += 1;
    st.maxActive = Math.max(st.maxActive, st.active);
    await new Promise<void>((r) => st.gates.push(r));
    st.active -= 1;
  };
  const release = (): void => {
    const g = st.gates.shift();
    assert.ok(g, 'no run waiting');
    g();
  };
  return { st, job, release };
}

function make(timers = new ManualTimers(), clock = new FakeClock(1_700_000_000)) {
  const { logger, lines } = captureLogger();
  return { s: new Scheduler({ clock, logger, timers }), timers, lines, clock };
}

void describe('Scheduler', () => {
  void test('runs at start, then re-arms the interval after each run completes', async () => {
    const { s, timers } = make();
    let runs = 0;
    s.every('prices', 300, () => {
      runs += 1;
      return Promise.resolve();
    });
    assert.equal(runs, 0); // nothing before start
    s.start();
    assert.equal(runs, 0); // start() never runs a job synchronously
    assert.deepEqual(timers.pending().map((t) => t.ms), [0]);
    assert.ok(timers.pending()[0]?.unrefd, 'timers are unref’d');
    timers.fire();
    await flush();
    assert.equal(runs, 1);
    assert.deepEqual(timers.pending().map((t) => t.ms), [300_000]);
    timers.fire();
    await flush();
    assert.equal(runs, 2);
    assert.deepEqual(timers.pending().map((t) => t.ms), [300_000]);
  });

  void test('runAtStart: false waits one interval first; fractional intervals are allowed', async () => {
    const { s, timers } = make();
    let runs = 0;
    s.every('flush', 0.25, () => {
      runs += 1;
      return Promise.resolve();
    }, { runAtStart: false });
    s.start();
    assert.deepEqual(timers.pending().map((t) => t.ms), [250]);
    timers.fire();
    await flush();
    assert.equal(runs, 1);
  });

  void test('the next sleep starts only when a slow run ends (no overlap from the timer)', async () => {
    const { s, timers } = make();
    const g = gatedJob();
    s.every('slow', 60, g.job);
    s.start();
    timers.fire();
    await flush();
    assert.equal(g.st.runs, 1);
    assert.equal(timers.pending().length, 0); // not re-armed while running
    g.release();
    await flush();
    assert.deepEqual(timers.pending().map((t) => t.ms), [60_000]);
  });

  void test('a job never overlaps itself: runNow during a run queues one follow-up, shared by callers', async () => {
    const { s, timers } = make();
    const g = gatedJob();
    s.every('expire', 60, g.job);
    s.start();
    timers.fire(); // timer run starts
    await flush();
    const a = s.runNow('expire');
    const b = s.runNow('expire');
    await flush();
    assert.equal(g.st.runs, 1);
    g.release(); // first run ends → exactly one follow-up starts
    await flush();
    assert.equal(g.st.runs, 2);
    assert.equal(g.st.maxActive, 1);
    g.release();
    await Promise.all([a, b]);
    assert.equal(g.st.runs, 2);
    assert.equal(g.st.maxActive, 1);
  });

  void test('a timer tick during a runNow run waits for it instead of overlapping', async () => {
    const { s, timers } = make();
    const g = gatedJob();
    s.every('retry', 60, g.job, { runAtStart: false });
    s.start();
    const manual = s.runNow('retry');
    await flush();
    timers.fire(); // interval elapses while the manual run is in progress
    await flush();
    assert.equal(g.st.runs, 1);
    g.release();
    await manual;
    await flush();
    assert.equal(g.st.runs, 2);
    g.release();
    await flush();
    assert.equal(g.st.maxActive, 1);
    assert.deepEqual(timers.pending().map((t) => t.ms), [60_000]);
  });

  void test('errors are logged, the loop goes on, other jobs are unaffected, runNow rejects', async () => {
    const { s, timers, lines } = make();
    let bad = 0;
    let good = 0;
    s.every('bad', 10, () => {
      bad += 1;
      return Promise.reject(new Error(`boom ${bad}`));
    });
    s.every('sync-throw', 10, () => {
      throw new Error('sync boom');
    });
    s.every('good', 10, () => {
      good += 1;
      return Promise.resolve();
    });
    s.start();
    timers.fire();
    await flush();
    timers.fire();
    await flush();
    assert.equal(bad, 2);
    assert.equal(good, 2);
    assert.equal(timers.pending().length, 3); // every loop still armed
    const errors = lines.filter((l) => l['level'] === 50);
    assert.deepEqual(errors.map((l) => l['job']).sort(), ['bad', 'bad', 'sync-throw', 'sync-throw']);
    assert.ok(errors.some((l) => (l['err'] as { message?: string }).message === 'boom 1'));
    await assert.rejects(s.runNow('bad'), /boom 3/);
    await s.stop();
  });

  void test('stop waits for running jobs, clears timers and skips a queued follow-up', async () => {
    const { s, timers } = make();
    const g = gatedJob();
    let other = 0;
    s.every('long', 60, g.job);
    s.every('other', 60, () => {
      other += 1;
      return Promise.resolve();
    }, { runAtStart: false });
    s.start();
    timers.fireWithDelay(0); // 'long' starts; 'other' still sleeps its first interval
    await flush();
    const queued = s.runNow('long');
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    await flush();
    assert.equal(stopped, false, 'stop resolved while a job was running');
    assert.equal(timers.pending().length, 0);
    g.release();
    await stopping;
    await queued;
    assert.equal(stopped, true);
    assert.equal(g.st.runs, 1, 'queued run skipped after stop');
    assert.equal(other, 0);
    await assert.rejects(s.runNow('long'), /stopped/);
    assert.throws(() => s.every('late', 1, () => Promise.resolve()), /stopped/);
    assert.throws(() => s.start(), /stopped/);
    await s.stop(); // idempotent
  });

  void test('intervals and names are validated', () => {
    const { s } = make();
    const job = (): Promise<void> => Promise.resolve();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => s.every(`j${bad}`, bad, job), RangeError);
    }
    s.every('a', 1, job);
    assert.throws(() => s.every('a', 2, job), /already registered/);
    assert.deepEqual(s.list(), [{ name: 'a', seconds: 1 }]);
  });

  void test('runNow works before start; unknown names reject', async () => {
    const { s, timers } = make();
    let runs = 0;
    s.every('info', 3600, () => {
      runs += 1;
      return Promise.resolve();
    });
    await s.runNow('info');
    assert.equal(runs, 1);
    assert.equal(timers.all.length, 0); // no loop before start
    await assert.rejects(s.runNow('nope'), /unknown job/);
  });

  void test('a job registered after start is scheduled at once', async () => {
    const { s, timers } = make();
    s.start();
    let runs = 0;
    s.every('late', 5, () => {
      runs += 1;
      return Promise.resolve();
    });
    timers.fire();
    await flush();
    assert.equal(runs, 1);
  });

  void test('a run longer than its interval is reported (time from the injected clock)', async () => {
    const { s, lines, clock } = make();
    s.every('slow', 60, () => {
      clock.advance(61);
      return Promise.resolve();
    });
    await s.runNow('slow');
    assert.ok(lines.some((l) => l['level'] === 40 && l['job'] === 'slow' && l['tookMs'] === 61_000));
  });

  void test('with real timers: the loop repeats and stop ends it', async () => {
    const s = new Scheduler({ clock: new FakeClock(1), logger: pino({ level: 'silent' }) });
    let runs = 0;
    let done: () => void = () => undefined;
    const third = new Promise<void>((r) => {
      done = r;
    });
    s.every('tick', 0.001, () => {
      runs += 1;
      if (runs === 3) done();
      return Promise.resolve();
    });
    // keep the event loop alive while waiting (scheduler timers are unref'd)
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      s.start();
      await third;
      await s.stop();
      const after = runs;
      await flush();
      assert.equal(runs, after);
      assert.ok(runs >= 3);
    } finally {
      clearInterval(keepAlive);
    }
  });
});
