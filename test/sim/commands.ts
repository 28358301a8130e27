/**
 * fast-check arbitraries for the money-safety simulation: schedules of trader requests, admin
 * decisions, job ticks, Lightning op completions (ok / fail / answer lost, payment outcomes),
 * duplicated stream updates, clock and block advances, relay loss and crash-restart.
 * Every command prints as a short readable token (fast-check uses it in counterexamples).
 */
import fc from 'fast-check';
import { JOB_LIST, describeCommand, type SimCommand } from '../support/sim-world.js';

function readable(c: SimCommand): SimCommand {
  const copy = { ...c };
  Object.defineProperty(copy, fc.toStringMethod, { value: () => describeCommand(copy), enumerable: false });
  return copy;
}

const o = fc.nat({ max: 3 });
const side = fc.constantFrom('maker' as const, 'taker' as const);

const trader: fc.Arbitrary<SimCommand> = fc.oneof(
  fc.record({ t: fc.constant('take' as const), o, withInvoice: fc.boolean(), addr: fc.boolean() }),
  fc.record({ t: fc.constant('add-invoice' as const), o, addr: fc.boolean() }),
  fc.record({ t: fc.constant('pay-escrow' as const), o }),
  fc.record({ t: fc.constant('fiat-sent' as const), o }),
  fc.record({ t: fc.constant('release' as const), o }),
  fc.record({ t: fc.constant('cancel' as const), o, side }),
  fc.record({ t: fc.constant('dispute' as const), o, side }),
);

const admin: fc.Arbitrary<SimCommand> = fc.oneof(
  fc.record({ t: fc.constant('admin-take' as const), o }),
  fc.record({ t: fc.constant('admin-settle' as const), o }),
  fc.record({ t: fc.constant('admin-cancel' as const), o }),
  fc.constant({ t: 'add-solver' as const }),
  fc.record({ t: fc.constant('solver-take' as const), o }),
  fc.record({ t: fc.constant('solver-settle' as const), o }),
  fc.record({ t: fc.constant('solver-cancel' as const), o }),
  fc.record({ t: fc.constant('ban' as const), o, side }),
  fc.record({ t: fc.constant('unban' as const), o, side }),
);

const lightning: fc.Arbitrary<SimCommand> = fc.oneof(
  {
    arbitrary: fc.record({
      t: fc.constant('op' as const),
      pick: fc.nat({ max: 7 }),
      outcome: fc.constantFrom('ok' as const, 'fail' as const, 'lost' as const, 'late' as const),
      pay: fc.constantFrom('succeed' as const, 'fail' as const, 'inflight' as const),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ t: fc.constant('dup-update' as const), pick: fc.nat({ max: 7 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('finish-payment' as const), pick: fc.nat({ max: 3 }), ok: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({ t: fc.constant('routes' as const), pay: fc.constantFrom('succeed' as const, 'fail' as const, 'inflight' as const) }),
    weight: 1,
  },
  { arbitrary: fc.constant({ t: 'lnurl-stale' as const }), weight: 1 },
);

const world: fc.Arbitrary<SimCommand> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('job' as const), name: fc.constantFrom(...JOB_LIST) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('time' as const), seconds: fc.constantFrom(30, 61, 61, 301, 901) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('blocks' as const), n: fc.constantFrom(1, 6, 60, 110) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('relay' as const), up: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('link' as const), up: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('crash' as const), bits: fc.nat({ max: 0xffffff }) }), weight: 1 },
);

const progress: fc.Arbitrary<SimCommand> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('progress' as const), o, choice: fc.nat({ max: 11 }) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('run' as const), n: fc.integer({ min: 1, max: 6 }) }), weight: 3 },
);

export const command: fc.Arbitrary<SimCommand> = fc
  .oneof(
    { arbitrary: progress, weight: 14 },
    { arbitrary: trader, weight: 1 },
    { arbitrary: admin, weight: 1 },
    { arbitrary: lightning, weight: 4 },
    { arbitrary: world, weight: 2 },
  )
  .map(readable);

/** The same mix plus power cuts (the machine dies: commits after the last completed sync are lost). */
export const commandWithPowerCuts: fc.Arbitrary<SimCommand> = fc
  .oneof(
    { arbitrary: command, weight: 12 },
    { arbitrary: fc.record({ t: fc.constant('power-cut' as const), bits: fc.nat({ max: 0xffffff }) }).map(readable), weight: 1 },
  );

/**
 * The same mix plus crash points at commits: the process dies at its k-th commit from now, with that
 * commit written or not (test/support/sim-commit-cuts.ts).
 */
const commitCut: fc.Arbitrary<SimCommand> = fc
  .record({ t: fc.constant('cut' as const), k: fc.integer({ min: 1, max: 6 }), applied: fc.boolean(), bits: fc.nat({ max: 0xffffff }) })
  .map(readable);
export const commandWithCommitCuts: fc.Arbitrary<SimCommand> = fc.oneof({ arbitrary: command, weight: 10 }, { arbitrary: commitCut, weight: 1 });

/** Power cuts and crash points at commits together (SIM_CUT_POWER=1 in money-sim-cuts.test.ts). */
export const commandWithPowerAndCommitCuts: fc.Arbitrary<SimCommand> = fc.oneof({ arbitrary: commandWithPowerCuts, weight: 10 }, { arbitrary: commitCut, weight: 1 });

/** A new order: fixed-amount two times in three, else a range order (its release creates a child). */
const newOrder: fc.Arbitrary<SimCommand> = fc
  .record({ kind: fc.constantFrom('sell' as const, 'buy' as const), range: fc.nat({ max: 2 }) })
  .map(({ kind, range }) => (range === 2 ? { t: 'new' as const, kind, range: true } : { t: 'new' as const, kind }));

/** A schedule: a couple of orders first (so most steps have something to act on), then anything. */
export function schedule(maxLength = 80, steps: fc.Arbitrary<SimCommand> = command): fc.Arbitrary<SimCommand[]> {
  return fc
    .tuple(
      fc.array(newOrder.map(readable), {
        minLength: 1,
        maxLength: 2,
      }),
      fc.array(steps, { minLength: Math.min(10, maxLength), maxLength, size: 'max' }),
    )
    .map(([a, b]) => [...a, ...b]);
}

/**
 * Parse a schedule as fast-check prints it (`new-sell,take(o0+inv),op(#1,lost,pay=fail),…`), so a
 * shrunk counterexample can be replayed with SIM_REPLAY (see docs/SIMULATION.md).
 */
export function parseSchedule(text: string): SimCommand[] {
  const tokens = text.replace(/^\[+|\]+$/g, '').match(/[a-z-]+(\([^)]*\))?/g) ?? [];
  return tokens.map((tok) => {
    const m = /^([a-z-]+)(?:\(([^)]*)\))?$/.exec(tok);
    if (m === null) throw new Error(`bad token ${tok}`);
    const name = m[1]!;
    const args = (m[2] ?? '').split(',').filter((a) => a !== '');
    const num = (a: string | undefined) => Number((a ?? '0').replace(/^[o#+]/, '').replace(/s$/, ''));
    switch (name) {
      case 'new-sell':
        return { t: 'new', kind: 'sell' };
      case 'new-buy':
        return { t: 'new', kind: 'buy' };
      case 'new-sell-range':
        return { t: 'new', kind: 'sell', range: true };
      case 'new-buy-range':
        return { t: 'new', kind: 'buy', range: true };
      case 'take':
        return {
          t: 'take',
          o: num(args[0]!.replace(/\+(inv|addr)$/, '')),
          withInvoice: args[0]!.endsWith('+inv'),
          addr: args[0]!.endsWith('+addr'),
        };
      case 'add-invoice':
        return { t: 'add-invoice', o: num(args[0]!.replace(/\+addr$/, '')), addr: args[0]!.endsWith('+addr') };
      case 'routes':
        return { t: 'routes', pay: args[0] as 'succeed' | 'fail' | 'inflight' };
      case 'lnurl-stale':
        return { t: 'lnurl-stale' };
      case 'add-solver':
        return { t: 'add-solver' };
      case 'progress':
        return { t: 'progress', o: num(args[0]), choice: num(args[1]) };
      case 'run':
        return { t: 'run', n: num(args[0]) };
      case 'op': {
        const pay = args.find((a) => a.startsWith('pay='))?.slice(4) ?? 'succeed';
        return { t: 'op', pick: num(args[0]), outcome: args[1] as 'ok' | 'fail' | 'lost' | 'late', pay: pay as 'succeed' | 'fail' | 'inflight' };
      }
      case 'dup-update':
        return { t: 'dup-update', pick: num(args[0]) };
      case 'finish-payment':
        return { t: 'finish-payment', pick: num(args[0]), ok: args[1] === 'ok' };
      case 'job':
        return { t: 'job', name: args[0] as SimCommand & { t: 'job' } extends { name: infer N } ? N : never };
      case 'time':
        return { t: 'time', seconds: num(args[0]) };
      case 'blocks':
        return { t: 'blocks', n: num(args[0]) };
      case 'relay':
        return { t: 'relay', up: args[0] === 'up' };
      case 'link':
        return { t: 'link', up: args[0] === 'up' };
      case 'crash':
        return { t: 'crash', bits: parseInt(args[0] ?? '0', 2) };
      case 'power-cut':
        return { t: 'power-cut', bits: parseInt(args[0] ?? '0', 2) };
      case 'cut':
        return { t: 'cut', k: num(args[0]), applied: args[1] === 'apply', bits: parseInt(args[2] ?? '0', 2) };
      case 'cancel':
      case 'dispute':
      case 'ban':
      case 'unban':
        return { t: name, o: num(args[0]), side: args[1] as 'maker' | 'taker' };
      case 'pay-escrow':
      case 'fiat-sent':
      case 'release':
      case 'admin-take':
      case 'admin-settle':
      case 'admin-cancel':
      case 'solver-take':
      case 'solver-settle':
      case 'solver-cancel':
        return { t: name, o: num(args[0]) };
      default:
        throw new Error(`unknown command ${name}`);
    }
  });
}
