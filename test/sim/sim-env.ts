/**
 * The simulation's environment variables (docs/SIMULATION.md "Running it"), shared by the crash-only
 * file (money-sim.test.ts) and the power-cut file (money-sim-power.test.ts).
 */
export const RUNS = Number(process.env.SIM_RUNS ?? 2000);
/** SIM_UNGATED=lightning|messages: those effects skip the barrier (to see what the checker then finds). */
export const UNGATED = process.env.SIM_UNGATED === 'lightning' || process.env.SIM_UNGATED === 'messages' ? process.env.SIM_UNGATED : undefined;
/** Schedules with power cuts (durability barrier, src/db/durability.ts); SIM_POWER_RUNS overrides. */
/** Schedules with crashes at commits (money-sim-cuts.test.ts); SIM_CUT_RUNS overrides. */
export const CUT_RUNS = Number(process.env.SIM_CUT_RUNS ?? (process.env.SIM_RUNS !== undefined ? Math.ceil(Number(process.env.SIM_RUNS) / 4) : 500));
export const POWER_RUNS = Number(process.env.SIM_POWER_RUNS ?? (process.env.SIM_RUNS !== undefined ? Math.ceil(Number(process.env.SIM_RUNS) / 4) : 500));
/**
 * The random property runs in the default suite only once the src defects it finds are fixed
 * (/work/briefs/sim-findings.md lists them); until then it runs under `npm run test:sim` (which sets
 * SIM_RUNS) or with SIM_RUNS set explicitly.
 */
export const PROPERTY_IN_DEFAULT_SUITE = true;
export const runProperty = PROPERTY_IN_DEFAULT_SUITE || process.env.SIM_RUNS !== undefined;
export const SEED = process.env.SIM_SEED !== undefined ? Number(process.env.SIM_SEED) : 20_261_203;
export const TIME_LIMIT_MS = process.env.SIM_TIME_LIMIT_MS !== undefined ? Number(process.env.SIM_TIME_LIMIT_MS) : undefined;
/** SIM_SKIP: comma-separated invariant names to record instead of failing (explore past a reported finding). */
export const SKIP = (process.env.SIM_SKIP ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
export const MAX_STEPS = Number(process.env.SIM_MAX_STEPS ?? 80);
/** SIM_LNURL_METADATA=shared|per-address: the LNURL provider's metadata in the power-cut property (default per-address). */
export const LNURL_METADATA = process.env.SIM_LNURL_METADATA === 'shared' || process.env.SIM_LNURL_METADATA === 'per-address' ? process.env.SIM_LNURL_METADATA : undefined;
/** SIM_STATS=1 prints what the schedules reached (statuses, ledger effects, restarts). */
export const STATS = process.env.SIM_STATS === '1' ? new Map<string, number>() : null;
