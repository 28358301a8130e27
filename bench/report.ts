/** Markdown summary of a benchmark run, with the issue-9 targets next to the figures. */
import { TIMELINE_BUCKET_SECONDS, type LoadResult } from './load.js';
import { PHASES } from './phases.js';
import type { BenchResults } from './run.js';
import type { V2FloodName } from './v2-phase.js';

const V2_FLOOD_LABEL: Record<V2FloodName, string> = {
  'one-key': 'one key (signed, PoW, well-formed new-order, repeated trade index)',
  mixed: 'mixed (malformed / no PoW / bad signature, fresh keys)',
};

function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
}

function verdict(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

/**
 * A closed-loop verdict. A loop that ran out of pre-built requests gives only a lower bound of its
 * rate: enough for "met" when it is in the numerator (`atLeast`), never when it is in the
 * denominator (`per`); otherwise no verdict.
 */
function loopVerdict(ok: boolean, atLeast: LoadResult[], per: LoadResult[] = []): string {
  const none = '**no verdict**: a closed loop ran out of pre-built requests (its rate is a lower bound)';
  if (per.some((l) => l.ranOut === true)) return none;
  if (ok) return verdict(true);
  return atLeast.some((l) => l.ranOut === true) ? none : verdict(false);
}

export function renderMarkdown(r: BenchResults): string {
  const e = r.e2e;
  const s = r.spam;
  const f = r.floor;
  const v2 = r.v2;
  const s10k = r.scale.find((x) => x.orders === 10_000);
  const lines: string[] = [];
  lines.push(`# mostrod benchmark results (${r.startedAt})`, '');
  lines.push(
    `Machine: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, commit ${r.machine.commit}; load average at start ${r.machine.loadavgStart.join(' / ')}, at end ${r.machine.loadavgEnd.join(' / ')}. Run took ${fmt(r.durationSeconds)} s.`,
    `${f !== undefined ? `Crypto backend: ${f.backend}. ` : ''}Requests: gift-wrapped \`new-order\` (reputation mode, tuple signature, PoW ${r.config.pow})${v2 !== undefined ? '; protocol-v2 phases: kind-14 `new-order` (trade_sig + identity proof, same PoW) to a daemon with `transport = "both"`' : ''}.`,
    '',
  );
  if (r.phases.length < PHASES.length) lines.push(`Phases run (BENCH_PHASES): ${r.phases.join(', ')}; rows of the other phases are left out.`, '');
  const s100k = r.scale.find((x) => x.orders === 100_000);
  type Q = { ms: number; rows: number; where: string };
  const scaleQueries = (x: typeof s100k): Array<[string, Q]> => Object.entries((x?.db as { queries?: Record<string, Q> } | undefined)?.queries ?? {});
  const slowest = scaleQueries(s100k).sort((a, b) => b[1].ms - a[1].ms);
  const overBudget = slowest.filter(([, q]) => q.ms > 50);
  const inc = (s100k?.db as { incremental?: { changed: number; republished: number; passMs: number; idlePassMs: number } } | undefined)?.incremental;
  const curve = r.steady?.rssCurveMb ?? [];
  const rssGrowth = curve.length >= 2 ? curve[curve.length - 1]![1] - curve[Math.min(2, curve.length - 1)]![1] : Number.NaN;
  lines.push('## Targets (issue 14)', '', '| target | measured | verdict |', '| --- | --- | --- |');
  if (e?.oneCore !== undefined && f !== undefined && e.perCoreRatioOneCore !== undefined) {
    lines.push(
      `| end to end, one core: ≥ 85 % of the one-thread crypto floor per daemon core | ${fmt(e.oneCore.answeredPerSecond)} answered/s at ${fmt(e.oneCore.daemonCpuCores, 2)} cores = ${fmt(e.perCoreRatioOneCore * 100, 1)} % of ${fmt(f.oneCore)}/s per core | ${loopVerdict(e.perCoreRatioOneCore >= 0.85, [e.oneCore])} |`,
    );
  }
  if (e?.closedLoop !== undefined && e.perCoreRatio !== undefined) {
    lines.push(
      `| end to end, crypto threads: ≥ 85 % of the floor per daemon core | ${fmt(e.closedLoop.answeredPerSecond)} answered/s at ${fmt(e.closedLoop.daemonCpuCores, 2)} cores = ${fmt(e.perCoreRatio * 100, 1)} % per core | ${loopVerdict(e.perCoreRatio >= 0.85, [e.closedLoop])} |`,
    );
  }
  if (e?.closedLoop !== undefined && e.oneCore !== undefined && e.scaling !== undefined) {
    lines.push(
      `| two cores: ≥ 1.7 × the one-core figure and ≥ 600 answered/s | ${fmt(e.closedLoop.answeredPerSecond)} vs ${fmt(e.oneCore.answeredPerSecond)} answered/s (×${fmt(e.scaling, 2)}) | ${loopVerdict(e.scaling >= 1.7 && e.closedLoop.answeredPerSecond >= 600, [e.closedLoop], [e.oneCore])} |`,
    );
  }
  if (s !== undefined && e?.open100 !== undefined) {
    lines.push(
      `| flood: ${fmt(r.config.junkRate)} junk/s beside ${r.config.openRate} valid/s, valid p99 ≤ 2 × unloaded, 0 lost | ${fmt(s.junkSendRate)} junk/s sent; valid p99 ${fmt(s.valid.latencyMs.p99, 1)} ms vs ${fmt(e.open100.latencyMs.p99, 1)} ms (×${fmt(s.p99Ratio, 2)}); ${fmt(s.valid.unanswered)} of ${fmt(s.valid.sent)} unanswered | ${verdict(s.junkSendRate >= 4750 && s.p99Ratio <= 2 && s.valid.unanswered === 0)} |`,
    );
  }
  if (v2 !== undefined) {
    const o = v2.open;
    lines.push(
      `| protocol v2: ${r.config.openRate} valid kind-14 requests/s (the v2 "unloaded" figure), 0 lost | p50 ${fmt(o.latencyMs.p50, 1)} ms, p99 ${fmt(o.latencyMs.p99, 1)} ms${e?.open100 !== undefined ? ` (v1: ${fmt(e.open100.latencyMs.p50, 1)} / ${fmt(e.open100.latencyMs.p99, 1)} ms)` : ''}; ${fmt(o.unanswered)} of ${fmt(o.sent)} unanswered | ${verdict(o.unanswered === 0)} |`,
    );
    for (const fl of v2.floods) {
      lines.push(
        `| v2 flood, ${V2_FLOOD_LABEL[fl.name]}: ${fmt(r.config.junkRate)}/s beside ${r.config.openRate} valid kind-14/s, valid p99 ≤ 2 × v2 unloaded, 0 lost | ${fmt(fl.junkSendRate)} junk/s sent; valid p99 ${fmt(fl.valid.latencyMs.p99, 1)} ms vs ${fmt(o.latencyMs.p99, 1)} ms (×${fmt(fl.p99Ratio, 2)}); ${fmt(fl.valid.unanswered)} of ${fmt(fl.valid.sent)} unanswered; ${fmt(fl.daemonCpuSecondsPerThousandJunk, 3)} CPU-s per 1,000 junk | ${verdict(fl.junkSendRate >= 4750 && fl.p99Ratio <= 2 && fl.valid.unanswered === 0)} |`,
      );
    }
  }
  if (r.cheapJunk !== undefined) {
    const c = r.cheapJunk;
    lines.push(
      `| junk failing a cheap gate (kind, size, PoW, duplicate) < 0.02 CPU-ms per event | ${fmt(c.cpuMsPerEvent, 4)} CPU-ms per event (${c.rounds !== undefined ? `median of ${c.rounds.length} rounds: ${c.rounds.map((x) => fmt(x, 4)).join(' / ')}; each ` : ''}${fmt(c.sent)} malformed / no-PoW events at ${fmt(c.rate)}/s) | ${verdict(c.cpuMsPerEvent < 0.02)} |`,
    );
  }
  if (e !== undefined && Number.isFinite(e.daemonRssAfterLoadMb)) lines.push(`| RSS < 150 MB after the whole load | ${fmt(e.daemonRssAfterLoadMb, 1)} MB | ${verdict(e.daemonRssAfterLoadMb < 150)} |`);
  if (r.steady !== undefined) {
    lines.push(
      `| no RSS growth under steady load (${r.steady.rate}/s, ${r.steady.seconds} s${r.steady.seconds < 600 ? " — shorter than the issue's 10 min; BENCH_STEADY_SECONDS=600 for the full curve" : ''}) | ${curve.map(([t, mb]) => `${t}s ${fmt(mb, 0)}`).join(', ')} MB; growth after warm-up ${fmt(rssGrowth, 1)} MB; ${fmt(r.steady.load.unanswered)} unanswered | ${verdict(rssGrowth <= 5)} |`,
    );
  }
  if (s100k !== undefined) {
    lines.push(
      `| every per-request / per-job query ≤ 50 ms at 100,000 orders | slowest: ${slowest.slice(0, 3).map(([k, q]) => `${k} ${fmt(q.ms, 2)} ms (${fmt(q.rows)} rows)`).join(', ')} | ${verdict(overBudget.length === 0)}${overBudget.length > 0 ? ` (${overBudget.map(([k]) => k).join(', ')})` : ''} |`,
    );
  }
  if (inc !== undefined) {
    lines.push(
      `| book republish proportional to what changed | ${fmt(inc.changed)} changed orders of 100,000: ${fmt(inc.republished)} republished in ${fmt(inc.passMs, 1)} ms; a pass with nothing changed ${fmt(inc.idlePassMs, 2)} ms | ${verdict(inc.republished === inc.changed && inc.idlePassMs <= 50)} |`,
    );
  }
  const ready: Array<[string, number]> = [
    ...(e !== undefined && Number.isFinite(e.readyMs) ? [[`${fmt(e.readyMs)} ms (empty DB)`, e.readyMs] as [string, number]] : []),
    ...(v2 !== undefined ? [[`${fmt(v2.readyMs)} ms (empty DB, transport "both")`, v2.readyMs] as [string, number]] : []),
    ...r.scale.map((x) => [`${fmt(x.daemon.readyMs)} ms (${fmt(x.orders)} orders)`, x.daemon.readyMs] as [string, number]),
  ];
  if (ready.length > 0) lines.push(`| ready in < 2 s (issue 9) | ${ready.map(([t]) => t).join(', ')} | ${verdict(Math.max(...ready.map(([, ms]) => ms)) < 2000)} |`);
  if (s10k) lines.push(`| RSS < 150 MB with 10,000 open orders (issue 9) | ${fmt(s10k.daemon.rssIdleMb, 1)} MB (at ready ${fmt(s10k.daemon.rssAtReadyMb, 1)}) | ${verdict(s10k.daemon.rssIdleMb < 150)} |`);
  lines.push('');
  if (f !== undefined) {
    lines.push('## Crypto floor (one Mostro unwrap + one reply wrap, daemon modules)', '');
    lines.push('| variant | pairs/s |', '| --- | ---: |');
    lines.push(`| one thread (median of ${f.runs.length}: ${f.runs.map((x) => fmt(x)).join(', ')}) | ${fmt(f.oneCore)} |`);
    lines.push(`| one thread, wrap verified twice (relay pool + intake; the daemon's pool now checks the shape only, src/daemon.ts) | ${fmt(f.oneCoreDoubleVerify)} |`);
    lines.push(`| two worker threads together | ${fmt(f.twoCores)} (×${fmt(f.scaling, 2)}) |`);
    lines.push(
      `| protocol v2 (kind 14 in, kind 14 out), one thread (median of ${f.v2Runs.length}: ${f.v2Runs.map((x) => fmt(x)).join(', ')}) | ${fmt(f.v2OneCore)} (×${fmt(f.v2OneCore / f.oneCore, 2)} of v1) |`,
    );
    lines.push('');
  }
  const loads: Array<[string, LoadResult]> = [];
  const warm = r.config.e2eWarmupSeconds !== undefined ? ` after ${r.config.e2eWarmupSeconds} s of warm-up` : '';
  if (e?.oneCore !== undefined) loads.push([`closed loop, one core (crypto_threads = 0), ${r.config.e2eTraders} traders, ${r.config.e2eSeconds} s${warm}`, e.oneCore]);
  if (e?.closedLoop !== undefined) loads.push([`closed loop, default crypto threads, ${r.config.e2eTraders} traders, ${r.config.e2eSeconds} s${warm}`, e.closedLoop]);
  if (e?.unloaded !== undefined) loads.push(['closed loop, 1 trader (unloaded latency)', e.unloaded]);
  if (e?.open100 !== undefined) loads.push([`open loop ${r.config.openRate}/s, ${r.config.openSeconds} s`, e.open100]);
  if (s !== undefined) loads.push([`open loop ${r.config.openRate}/s + ${r.config.junkRate}/s junk`, s.valid]);
  if (r.steady !== undefined) loads.push([`steady open loop ${r.steady.rate}/s, ${r.steady.seconds} s`, r.steady.load]);
  if (v2 !== undefined) {
    loads.push([`protocol v2: open loop ${r.config.openRate}/s kind 14, ${r.config.openSeconds} s`, v2.open]);
    for (const fl of v2.floods) loads.push([`protocol v2: open loop ${r.config.openRate}/s + ${r.config.junkRate}/s kind-14 junk (${V2_FLOOD_LABEL[fl.name]})`, fl.valid]);
  }
  if (loads.length > 0) {
    lines.push('## End to end (built daemon, LND simulator, bench relay in its own process)', '');
    lines.push(
      '| run | sent | answered/s | p50 ms | p95 ms | p99 ms | max ms | unanswered | daemon CPU (cores) | machine busy / of it stolen (cores) | sample of replies |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    const row = (name: string, l: LoadResult): string =>
      `| ${name} | ${fmt(l.sent)} | ${fmt(l.answeredPerSecond, 1)} | ${fmt(l.latencyMs.p50, 1)} | ${fmt(l.latencyMs.p95, 1)} | ${fmt(l.latencyMs.p99, 1)} | ${fmt(l.latencyMs.max, 1)} | ${fmt(l.unanswered)} | ${fmt(l.daemonCpuCores, 2)} | ${l.machine !== undefined ? `${fmt(l.machine.busyCores, 2)} / ${fmt(l.machine.stolenCores, 2)}` : '—'} | ${Object.entries(l.sampleReplies).map(([k, v]) => `${k} ${v}`).join(', ')} |`;
    for (const [name, l] of loads) lines.push(row(name, l));
    const after: string[] = [];
    if (e !== undefined && Number.isFinite(e.readyMs)) after.push(`Daemon ready (empty DB): ${fmt(e.readyMs)} ms. Daemon RSS after the load: ${fmt(e.daemonRssAfterLoadMb, 1)} MB.`);
    if (e?.prepareSeconds !== undefined && e.closedLoop !== undefined) after.push(`Pre-building ${fmt(e.closedLoop.sent)}+ requests on 2 worker threads: ${fmt(e.prepareSeconds, 1)} s.`);
    if (v2 !== undefined) {
      const warm = v2.warmUp !== undefined ? `; before its open loop an unmeasured ${fmt(v2.warmUp.seconds)} s closed loop of kind 14 (${fmt(v2.warmUp.answered)} answered, JIT warm-up as for the v1 daemon)` : '; no warm-up (BENCH_V2_WARMUP_SECONDS=0: its open loop and floods met a fresh process)';
      after.push(`Protocol-v2 daemon: ready in ${fmt(v2.readyMs)} ms${warm}, RSS after its phases ${fmt(v2.rssAfterMb, 1)} MB.`);
    }
    lines.push('', after.join(' '), '');
    const traced = loads.filter(([, l]) => l.segments !== undefined);
    if (traced.length > 0) {
      lines.push(
        '### Where the latency is spent (open loops; arrival times at the bench relay, one monotonic clock for every process)',
        '',
        '`up`: the bench sends → the relay\'s handler gets the request. `node`: from there → the relay\'s handler gets the node\'s reply (the relay forwarding the request, the daemon, the reply\'s way back). `down`: from there → the bench gets the reply. "Slowest 1 %": the mean of each part over the requests whose whole latency is at or above the p99.',
        '',
        '| run | up p50 / p99 ms | node p50 / p99 ms | down p50 / p99 ms | slowest 1 %: up / node / down ms |',
        '| --- | ---: | ---: | ---: | ---: |',
      );
      for (const [name, l] of traced) {
        const g = l.segments!;
        lines.push(
          `| ${name} | ${fmt(g.up.p50, 1)} / ${fmt(g.up.p99, 1)} | ${fmt(g.node.p50, 1)} / ${fmt(g.node.p99, 1)} | ${fmt(g.down.p50, 1)} / ${fmt(g.down.p99, 1)} | ${fmt(g.slowest.up, 1)} / ${fmt(g.slowest.node, 1)} / ${fmt(g.slowest.down, 1)} (${fmt(g.slowest.n)}) |`,
        );
      }
      lines.push('');
    }
  }
  const tl = r.steady?.load.timeline ?? [];
  if (r.steady !== undefined && tl.length > 0) {
    const rssAt = (t: number): number | undefined => curve.find(([s]) => s >= t)?.[1];
    // mean CPU (cores) of the samples inside the bucket
    const cpuIn = (t: number, i: 1 | 2 | 3 | 4 | 5): number => {
      const xs = (r.steady?.cpuCurve ?? []).filter(([s]) => s > t && s <= t + TIMELINE_BUCKET_SECONDS).map((c) => c[i]);
      return xs.length === 0 ? Number.NaN : xs.reduce((a, x) => a + x, 0) / xs.length;
    };
    lines.push(
      `## Steady load over time (${r.steady.rate}/s; latency by send time in ${TIMELINE_BUCKET_SECONDS} s buckets from the phase's start, pauses between request slices included; RSS at the bucket's start; CPU in cores over the bucket)`,
      '',
    );
    lines.push(
      '| t s | answered | p50 ms | p99 ms | max ms | RSS MB | daemon CPU | relay CPU | bench CPU | machine busy | of it stolen |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const b of tl) {
      lines.push(
        `| ${b.t} | ${fmt(b.n)} | ${fmt(b.p50, 1)} | ${fmt(b.p99, 1)} | ${fmt(b.max, 1)} | ${fmt(rssAt(b.t) ?? Number.NaN, 0)} | ${fmt(cpuIn(b.t, 1), 2)} | ${fmt(cpuIn(b.t, 2), 2)} | ${fmt(cpuIn(b.t, 3), 2)} | ${fmt(cpuIn(b.t, 4), 2)} | ${fmt(cpuIn(b.t, 5), 2)} |`,
      );
    }
    lines.push('');
  }
  if (s !== undefined) {
    lines.push('## Spam', '');
    lines.push(`Junk (malformed / signed without PoW / PoW with a bad signature / valid PoW+signature with undecryptable content, in equal parts): ${fmt(s.junkSent)} sent at ${fmt(s.junkSendRate)}/s, ${fmt(s.junkDeliveredToDaemon)} delivered to the daemon by the relay.`);
    lines.push(`Daemon CPU per 1,000 junk events: ${fmt(s.daemonCpuSecondsPerThousandJunk, 3)} s → shedding capacity about ${fmt(s.junkShedCapacityPerCore)} junk events/s per core.`, '');
  }
  if (v2 !== undefined && v2.floods.length > 0) {
    lines.push('## Protocol v2 (kind 14) floods', '');
    lines.push(
      'Daemon with `transport = "both"`; the valid load is the v2 open loop (fresh trade key per request: first contact). Intake verdicts are the daemon\'s own counters (`mostrod_intake_events_total` from /metrics) over the window and the settling after it; `overloaded` = shed (before decryption, or after the signature when the priority lane is full). Lane waits: from the daemon\'s `mostrod_intake_lane_wait_seconds` over the same span, per crypto lane the events that entered it and the histogram bucket 99 % of their waits for a crypto slot stayed under (a wait of 0 is an event that started at once). Daemon CPU for the junk = the window\'s CPU minus the valid requests answered × their cost in the v2 open loop, minus idle.',
      '',
    );
    lines.push('| flood | junk sent (rate) | delivered to daemon | valid p50 / p99 ms | unanswered | daemon CPU-s per 1,000 junk (capacity /s per core) | settle s | RSS MB | intake verdicts (junk + valid) | dropped before intake (relay pool) | lane wait p99 (events) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |');
    for (const fl of v2.floods) {
      const verdicts = fl.intakeVerdicts === null ? 'n/a' : Object.entries(fl.intakeVerdicts).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
      const waits =
        fl.laneWait === undefined || fl.laneWait === null
          ? 'n/a'
          : Object.entries(fl.laneWait)
              .sort((a, b) => a[0].localeCompare(b[0]))
              .map(([lane, w]) => `${lane} ≤ ${Number.isFinite(w.p99AtMostMs) ? `${fmt(w.p99AtMostMs, 1)} ms` : 'over 5 s'} (${fmt(w.n)})`)
              .join(', ') || 'none';
      lines.push(
        `| ${V2_FLOOD_LABEL[fl.name]} | ${fmt(fl.junkSent)} (${fmt(fl.junkSendRate)}/s) | ${fmt(fl.junkDeliveredToDaemon)} | ${fmt(fl.valid.latencyMs.p50, 1)} / ${fmt(fl.valid.latencyMs.p99, 1)} | ${fmt(fl.valid.unanswered)} of ${fmt(fl.valid.sent)} | ${fmt(fl.daemonCpuSecondsPerThousandJunk, 3)} (${fmt(fl.junkShedCapacityPerCore)}) | ${fmt(fl.settleSeconds, 1)} | ${fmt(fl.rssAfterMb, 1)} | ${verdicts} | ${fl.droppedBeforeIntake === null ? 'n/a' : fmt(fl.droppedBeforeIntake)} | ${waits} |`,
      );
    }
    lines.push('');
  }
  if (r.relay.length > 0) {
    lines.push('## Bench relay ceiling (separate process, one publisher, one live subscriber, gift-wrap frames)', '');
    lines.push('| relay checks | events | events/s in→out | relay CPU (cores) |', '| --- | ---: | ---: | ---: |');
    for (const x of r.relay) lines.push(`| ${x.verify ? 'id + signature verified (libsecp256k1 WASM)' : 'none (trusting)'} | ${fmt(x.events)} | ${fmt(x.eventsPerSecond)} | ${fmt(x.relayCpuCores, 2)} |`);
    lines.push('');
  }
  if (r.scale.length > 0) lines.push('## Scale', '');
  if (r.scale.length > 0) lines.push('| orders | build s | open+migrate ms | daemon ready ms | daemon RSS ready / idle MB | full pending book read (not done by the daemon) | full republish projected s | book-sync pass (changed → republished, ms) | expiry job (orders, s) |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const x of r.scale) {
    const d = x.db as {
      buildSeconds: number;
      reopenMs: number;
      fullPendingBook?: { ms: number; rows: number };
      republish: { eventsPerSecond: number; projectedSeconds: number };
      incremental?: { changed: number; republished: number; passMs: number };
      expiryJob: { expired: number; seconds: number };
    };
    lines.push(
      `| ${fmt(x.orders)} | ${fmt(d.buildSeconds, 1)} | ${fmt(d.reopenMs, 1)} | ${fmt(x.daemon.readyMs)} | ${fmt(x.daemon.rssAtReadyMb, 1)} / ${fmt(x.daemon.rssIdleMb, 1)} | ${fmt(d.fullPendingBook?.ms ?? Number.NaN, 0)} ms (${fmt(d.fullPendingBook?.rows ?? 0)} rows) | ${fmt(d.republish.projectedSeconds, 1)} | ${d.incremental ? `${fmt(d.incremental.changed)} → ${fmt(d.incremental.republished)}, ${fmt(d.incremental.passMs, 1)}` : 'n/a'} | ${fmt(d.expiryJob.expired)}, ${fmt(d.expiryJob.seconds, 2)} |`,
    );
  }
  lines.push('');
  const names = [...new Set(r.scale.flatMap((x) => scaleQueries(x).map(([k]) => k)))];
  if (names.length > 0) {
    lines.push('Every query the daemon runs per request or per scheduler pass (median ms, rows returned; target ≤ 50 ms at 100,000 orders):', '');
    lines.push(`| query | runs | ${r.scale.map((x) => `${fmt(x.orders)} orders`).join(' | ')} | verdict |`, `| --- | --- | ${r.scale.map(() => '---:').join(' | ')} | --- |`);
    for (const name of names) {
      const cells = r.scale.map((x) => {
        const q = scaleQueries(x).find(([k]) => k === name)?.[1];
        return q === undefined ? 'n/a' : `${fmt(q.ms, 2)} (${fmt(q.rows)})`;
      });
      const big = scaleQueries(s100k).find(([k]) => k === name)?.[1];
      const where = scaleQueries(r.scale[0]).find(([k]) => k === name)?.[1].where ?? '';
      lines.push(`| ${name} | ${where} | ${cells.join(' | ')} | ${big === undefined ? 'n/a' : verdict(big.ms <= 50)} |`);
    }
    lines.push('');
  }
  if (r.notes.length > 0) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
