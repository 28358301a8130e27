/** Small statistics helpers for the benchmarks. */

/** The q-quantile (0..1) of `xs` by nearest rank; NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[rank]!;
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  return {
    n: latenciesMs.length,
    p50: round(quantile(latenciesMs, 0.5)),
    p95: round(quantile(latenciesMs, 0.95)),
    p99: round(quantile(latenciesMs, 0.99)),
    max: round(latenciesMs.length === 0 ? Number.NaN : Math.max(...latenciesMs)),
  };
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
