/**
 * The money simulation with crash points at database commits (session 35): besides dying while it
 * waits on a Lightning op (`crash`), a process dies at its k-th commit from a `cut` on, with that
 * commit written or not (test/support/sim-commit-cuts.ts). Every invariant of docs/SIMULATION.md must
 * hold across those deaths too: a flow that commits twice with nothing in between that waits on
 * Lightning (a claim, then its record; a mark, then its notices) is cut between the two here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { getOrder } from '../../src/db/orders.js';
import { SimWorld, type SimCommand } from '../support/sim-world.js';
import { commandWithCommitCuts, commandWithPowerAndCommitCuts, parseSchedule, schedule } from './commands.js';
import { CUT_RUNS, MAX_STEPS, SEED, SKIP, STATS, TIME_LIMIT_MS } from './sim-env.js';

async function orderly(w: SimWorld, cmds: SimCommand[]): Promise<void> {
  for (const c of cmds) {
    await w.apply(c);
    await w.drain();
    await w.checkStep();
  }
}

void test('a cut kills the process at its k-th commit, with that commit written (apply) or rolled back (drop)', async () => {
  for (const applied of [false, true]) {
    const w = await SimWorld.create();
    try {
      await orderly(w, parseSchedule(`new-sell,cut(1,${applied ? 'apply' : 'drop'},0),take(o0+inv)`));
      assert.equal(w.cutsFired, 1, 'the take committed once: the cut fired there');
      assert.equal((await w.summary())['processes:2'], 1, 'the process restarted once');
      const o = w.orders[0]!;
      const row = await getOrder(w.ctx.db, o.id!);
      // apply: the take is on disk (the restarted process resumes it: an escrow is asked for at its
      // reconciliation or by the take's timeout); drop: the order is still open.
      assert.equal(row?.status, applied ? 'waiting-payment' : 'pending', applied ? 'apply' : 'drop');
      // drop: the take never happened, so the seller was never asked to pay an escrow.
      if (!applied) assert.equal(w.sent.filter((m) => m.to === o.seller.pubkey && m.action === 'pay-invoice').length, 0);
      await w.quiesce();
      await w.checkQuiescent();
    } finally {
      await w.dispose();
    }
  }
});

void test('an armed cut that no commit reaches does nothing; quiescence disarms it', async () => {
  const w = await SimWorld.create();
  try {
    await orderly(w, parseSchedule('new-sell,cut(6,apply,0),time(+30s)'));
    assert.equal(w.cutsFired, 0);
    await w.quiesce();
    await w.checkQuiescent();
    assert.equal(w.cutsFired, 0);
  } finally {
    await w.dispose();
  }
});

/** SIM_CUT_POWER=1 (searches): power-cut worlds, power cuts among the steps too (LUD-16 metadata, as the power-cut property). */
const POWER = process.env.SIM_CUT_POWER === '1';

void test(`money invariants over ${CUT_RUNS} random schedules with crashes at commits${POWER ? ' and power cuts' : ''} (seed ${SEED})`, {
  timeout: process.env.SIM_RUNS !== undefined || process.env.SIM_CUT_RUNS !== undefined ? Infinity : 600_000,
}, async () => {
  const out = await fc.check(
    fc.asyncProperty(schedule(MAX_STEPS, POWER ? commandWithPowerAndCommitCuts : commandWithCommitCuts), async (cmds) => {
      const w = await SimWorld.create(POWER ? { skip: SKIP, powerCuts: true } : { skip: SKIP, lnurlMetadata: 'shared' });
      try {
        await w.run(cmds);
        if (STATS !== null) for (const [k, v] of Object.entries(await w.summary())) STATS.set(k, (STATS.get(k) ?? 0) + v);
      } finally {
        await w.dispose();
      }
    }),
    { numRuns: CUT_RUNS, seed: SEED + 2, ...(TIME_LIMIT_MS !== undefined ? { interruptAfterTimeLimit: TIME_LIMIT_MS } : {}) },
  );
  if (out.failed) {
    throw new Error(`${fc.defaultReportMessage(out) ?? 'property failed'}\nInvariant: ${String(out.errorInstance)}`);
  }
  if (STATS !== null) console.log([...STATS.entries()].sort().map(([k, v]) => `${k}=${v}`).join('\n'));
});
