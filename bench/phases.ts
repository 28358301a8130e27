/** Phase ids of `npm run bench`, in run order (BENCH_PHASES selects a subset; see run.ts). */
export const PHASES = ['floor', 'one-core', 'closed', 'unloaded', 'open', 'spam', 'cheap', 'steady', 'v2-open', 'v2-flood', 'relay', 'scale'] as const;
export type PhaseId = (typeof PHASES)[number];
