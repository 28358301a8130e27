/**
 * Pure multi-source aggregation (issue 16; upstream docs/PRICE_PROVIDERS.md §6 for the shape).
 *
 * Per currency, from the providers that answered this poll:
 *   1 source  → its value;  2 sources → their mean (= their median);
 *   ≥ 3       → m = median; a source more than `outlierPct` % from m is left out; the price is the
 *               median of the sources kept. If none is within the threshold (no agreement at all),
 *               the currency gets no fresh price this poll.
 * Deviation from upstream 0.18, which takes the MEAN of the kept sources: the median of the kept
 * sources is a price some source actually reported, and one source at the threshold edge cannot
 * pull it.
 *
 * Fiat-cross quotes (El Toque's CUP per USD) are resolved against the aggregate of their base
 * computed from the direct quotes of this same poll. Fallback-only providers (nostr: rates other
 * Mostro nodes published) only fill currencies no other provider produced this poll.
 */
import type { ProviderId, Quote } from './types.js';

export interface SourceQuotes {
  id: ProviderId;
  /** upper-case, allow-listed, scoped codes */
  quotes: ReadonlyMap<string, Quote>;
  /** unix s the quotes describe */
  asOf: number;
  /** only used for currencies no other provider produced (nostr) */
  fallbackOnly: boolean;
}

interface Candidate {
  value: number;
  /** the provider, then (for a cross quote) the providers of the base price it was resolved with */
  ids: readonly ProviderId[];
  asOf: number;
}

export interface Aggregate {
  price: number;
  /** providers whose quotes made the price, sorted */
  sources: ProviderId[];
  /** providers left out as outliers, sorted */
  outliers: ProviderId[];
  /** unix s the price describes: the oldest source kept */
  asOf: number;
  /** a fallback-only provider (nostr) made this price */
  viaFallback: boolean;
  /** largest distance of a kept source from the price, in % (two sources far apart show here) */
  spreadPct: number;
}

export interface Combined {
  price: number;
  kept: number[];
  outliers: number[];
}

function medianSorted(xs: readonly number[]): number {
  const n = xs.length;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/**
 * Median with outlier guard over plain values; returns indexes of kept/outlier values, or null
 * when there is no usable value (or, with ≥ 3, no value within the threshold of the median).
 */
export function combine(values: readonly number[], outlierPct: number): Combined | null {
  const idx = values
    .map((v, i) => ({ v, i }))
    .filter(({ v }) => Number.isFinite(v) && v > 0)
    .sort((a, b) => a.v - b.v);
  if (idx.length === 0) return null;
  const sorted = idx.map(({ v }) => v);
  const m = medianSorted(sorted);
  if (idx.length < 3) return { price: m, kept: idx.map(({ i }) => i), outliers: [] };
  const tol = (m * outlierPct) / 100;
  const kept = idx.filter(({ v }) => Math.abs(v - m) <= tol);
  if (kept.length === 0) return null;
  const outliers = idx.filter(({ v }) => Math.abs(v - m) > tol).map(({ i }) => i);
  return { price: medianSorted(kept.map(({ v }) => v)), kept: kept.map(({ i }) => i), outliers };
}

function aggregateOf(cands: readonly Candidate[], outlierPct: number, fallbackIds: ReadonlySet<ProviderId>): Aggregate | null {
  const c = combine(
    cands.map((x) => x.value),
    outlierPct,
  );
  if (c === null) return null;
  const kept = c.kept.map((i) => cands[i]!);
  const sources = [...new Set(kept.flatMap((k) => k.ids))].sort();
  const outliers = [...new Set(c.outliers.map((i) => cands[i]!.ids[0]!))].sort();
  return {
    price: c.price,
    sources,
    outliers,
    asOf: Math.min(...kept.map((k) => k.asOf)),
    viaFallback: sources.some((s) => fallbackIds.has(s)),
    spreadPct: Math.max(...kept.map((k) => (Math.abs(k.value - c.price) / c.price) * 100)),
  };
}

/**
 * One poll's per-currency aggregates. Currencies with no fresh quote are absent; currencies whose
 * sources did not agree (no source within the threshold of the median) are absent too and, when
 * `disagreements` is given, listed there with the providers involved.
 */
export function aggregateQuotes(
  results: readonly SourceQuotes[],
  outlierPct: number,
  disagreements?: Map<string, ProviderId[]>,
): Map<string, Aggregate> {
  const fallbackIds = new Set(results.filter((r) => r.fallbackOnly).map((r) => r.id));
  const candidates = new Map<string, Candidate[]>();
  const push = (code: string, c: Candidate): void => {
    const list = candidates.get(code);
    if (list === undefined) candidates.set(code, [c]);
    else list.push(c);
  };

  const primary = results.filter((r) => !r.fallbackOnly);
  for (const r of primary) {
    for (const [code, q] of r.quotes) {
      if (q.kind === 'per-btc') push(code, { value: q.value, ids: [r.id], asOf: r.asOf });
    }
  }
  // Anchors for fiat-cross quotes: the aggregate of the base from this poll's direct quotes.
  const anchors = new Map<string, Aggregate>();
  for (const [code, cands] of candidates) {
    const a = aggregateOf(cands, outlierPct, fallbackIds);
    if (a !== null) anchors.set(code, a);
  }
  for (const r of primary) {
    for (const [code, q] of r.quotes) {
      if (q.kind !== 'per-base') continue;
      const anchor = anchors.get(q.base);
      if (anchor === undefined) continue;
      const value = q.value * anchor.price;
      if (!Number.isFinite(value) || value <= 0) continue;
      push(code, { value, ids: [r.id, ...anchor.sources.filter((s) => s !== r.id)], asOf: Math.min(r.asOf, anchor.asOf) });
    }
  }
  // Fallback-only providers fill the currencies nothing else produced.
  const covered = new Set(candidates.keys());
  for (const r of results.filter((x) => x.fallbackOnly)) {
    for (const [code, q] of r.quotes) {
      if (q.kind === 'per-btc' && !covered.has(code)) push(code, { value: q.value, ids: [r.id], asOf: r.asOf });
    }
  }

  const out = new Map<string, Aggregate>();
  for (const [code, cands] of candidates) {
    const a = aggregateOf(cands, outlierPct, fallbackIds);
    if (a !== null) out.set(code, a);
    else disagreements?.set(code, [...new Set(cands.map((c) => c.ids[0]!))].sort());
  }
  return out;
}
