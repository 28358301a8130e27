/** Markdown summary of a benchmark run, with the issue-9 targets next to the figures. */
import type { BenchResults } from './run.js';

function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
}

function verdict(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

export function renderMarkdown(r: BenchResults): string {
  const e = r.e2e;
  const s = r.spam;
  const s10k = r.scale.find((x) => x.orders === 10_000);
  const lines: string[] = [];
  lines.push(`# mostrod benchmark results (${r.startedAt})`, '');
  lines.push(
    `Machine: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, commit ${r.machine.commit}; load average at start ${r.machine.loadavgStart.join(' / ')}, at end ${r.machine.loadavgEnd.join(' / ')}. Run took ${fmt(r.durationSeconds)} s.`,
    `Crypto backend: ${r.floor.backend}. Requests: gift-wrapped \`new-order\` (reputation mode, tuple signature, PoW ${r.config.pow}).`,
    '',
  );
  const s100k = r.scale.find((x) => x.orders === 100_000);
  type Q = { ms: number; rows: number; where: string };
  const scaleQueries = (x: typeof s100k): Array<[string, Q]> => Object.entries((x?.db as { queries?: Record<string, Q> } | undefined)?.queries ?? {});
  const slowest = scaleQueries(s100k).sort((a, b) => b[1].ms - a[1].ms);
  const overBudget = slowest.filter(([, q]) => q.ms > 50);
  const inc = (s100k?.db as { incremental?: { changed: number; republished: number; passMs: number; idlePassMs: number } } | undefined)?.incremental;
  const curve = r.steady.rssCurveMb;
  const rssGrowth = curve.length >= 2 ? curve[curve.length - 1]![1] - curve[Math.min(2, curve.length - 1)]![1] : Number.NaN;
  lines.push('## Targets (issue 14)', '', '| target | measured | verdict |', '| --- | --- | --- |');
  lines.push(
    `| end to end, one core: ≥ 85 % of the one-thread crypto floor per daemon core | ${fmt(e.oneCore.answeredPerSecond)} answered/s at ${fmt(e.oneCore.daemonCpuCores, 2)} cores = ${fmt(e.perCoreRatioOneCore * 100, 1)} % of ${fmt(r.floor.oneCore)}/s per core | ${verdict(e.perCoreRatioOneCore >= 0.85)} |`,
  );
  lines.push(
    `| end to end, crypto threads: ≥ 85 % of the floor per daemon core | ${fmt(e.closedLoop.answeredPerSecond)} answered/s at ${fmt(e.closedLoop.daemonCpuCores, 2)} cores = ${fmt(e.perCoreRatio * 100, 1)} % per core | ${verdict(e.perCoreRatio >= 0.85)} |`,
  );
  lines.push(
    `| two cores: ≥ 1.7 × the one-core figure and ≥ 600 answered/s | ${fmt(e.closedLoop.answeredPerSecond)} vs ${fmt(e.oneCore.answeredPerSecond)} answered/s (×${fmt(e.scaling, 2)}) | ${verdict(e.scaling >= 1.7 && e.closedLoop.answeredPerSecond >= 600)} |`,
  );
  lines.push(
    `| flood: ${fmt(r.config.junkRate)} junk/s beside ${r.config.openRate} valid/s, valid p99 ≤ 2 × unloaded, 0 lost | ${fmt(s.junkSendRate)} junk/s sent; valid p99 ${fmt(s.valid.latencyMs.p99, 1)} ms vs ${fmt(e.open100.latencyMs.p99, 1)} ms (×${fmt(s.p99Ratio, 2)}); ${fmt(s.valid.unanswered)} of ${fmt(s.valid.sent)} unanswered | ${verdict(s.junkSendRate >= 4750 && s.p99Ratio <= 2 && s.valid.unanswered === 0)} |`,
  );
  lines.push(
    `| junk failing a cheap gate (kind, size, PoW, duplicate) < 0.02 CPU-ms per event | ${fmt(s.cheapJunk.cpuMsPerEvent, 4)} CPU-ms per event (${fmt(s.cheapJunk.sent)} malformed / no-PoW events at ${fmt(s.cheapJunk.rate)}/s) | ${verdict(s.cheapJunk.cpuMsPerEvent < 0.02)} |`,
  );
  lines.push(`| RSS < 150 MB after the whole load | ${fmt(e.daemonRssAfterLoadMb, 1)} MB | ${verdict(e.daemonRssAfterLoadMb < 150)} |`);
  lines.push(
    `| no RSS growth under steady load (${r.steady.rate}/s, ${r.steady.seconds} s — shorter than the issue's 10 min) | ${curve.map(([t, mb]) => `${t}s ${fmt(mb, 0)}`).join(', ')} MB; growth after warm-up ${fmt(rssGrowth, 1)} MB; ${fmt(r.steady.load.unanswered)} unanswered | ${verdict(rssGrowth <= 5)} |`,
  );
  lines.push(
    `| every per-request / per-job query ≤ 50 ms at 100,000 orders | slowest: ${slowest.slice(0, 3).map(([k, q]) => `${k} ${fmt(q.ms, 2)} ms (${fmt(q.rows)} rows)`).join(', ')} | ${verdict(s100k !== undefined && overBudget.length === 0)}${overBudget.length > 0 ? ` (${overBudget.map(([k]) => k).join(', ')})` : ''} |`,
  );
  if (inc !== undefined) {
    lines.push(
      `| book republish proportional to what changed | ${fmt(inc.changed)} changed orders of 100,000: ${fmt(inc.republished)} republished in ${fmt(inc.passMs, 1)} ms; a pass with nothing changed ${fmt(inc.idlePassMs, 2)} ms | ${verdict(inc.republished === inc.changed && inc.idlePassMs <= 50)} |`,
    );
  }
  lines.push(`| ready in < 2 s (issue 9) | ${fmt(e.readyMs)} ms (empty DB)${r.scale.map((x) => `, ${fmt(x.daemon.readyMs)} ms (${fmt(x.orders)} orders)`).join('')} | ${verdict(Math.max(e.readyMs, ...r.scale.map((x) => x.daemon.readyMs)) < 2000)} |`);
  if (s10k) lines.push(`| RSS < 150 MB with 10,000 open orders (issue 9) | ${fmt(s10k.daemon.rssIdleMb, 1)} MB (at ready ${fmt(s10k.daemon.rssAtReadyMb, 1)}) | ${verdict(s10k.daemon.rssIdleMb < 150)} |`);
  lines.push('');
  lines.push('## Crypto floor (one Mostro unwrap + one reply wrap, daemon modules)', '');
  lines.push('| variant | pairs/s |', '| --- | ---: |');
  lines.push(`| one thread (median of ${r.floor.runs.length}: ${r.floor.runs.map((x) => fmt(x)).join(', ')}) | ${fmt(r.floor.oneCore)} |`);
  lines.push(`| one thread, wrap verified twice (relay pool + intake, as the daemon does today) | ${fmt(r.floor.oneCoreDoubleVerify)} |`);
  lines.push(`| two worker threads together | ${fmt(r.floor.twoCores)} (×${fmt(r.floor.scaling, 2)}) |`);
  lines.push(
    `| protocol v2 (kind 14 in, kind 14 out), one thread (median of ${r.floor.v2Runs.length}: ${r.floor.v2Runs.map((x) => fmt(x)).join(', ')}) | ${fmt(r.floor.v2OneCore)} (×${fmt(r.floor.v2OneCore / r.floor.oneCore, 2)} of v1) |`,
  );
  lines.push('');
  lines.push('## End to end (built daemon, LND simulator, bench relay in its own process)', '');
  lines.push('| run | sent | answered/s | p50 ms | p95 ms | p99 ms | max ms | unanswered | daemon CPU (cores) | sample of replies |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const row = (name: string, l: typeof e.closedLoop): string =>
    `| ${name} | ${fmt(l.sent)} | ${fmt(l.answeredPerSecond, 1)} | ${fmt(l.latencyMs.p50, 1)} | ${fmt(l.latencyMs.p95, 1)} | ${fmt(l.latencyMs.p99, 1)} | ${fmt(l.latencyMs.max, 1)} | ${fmt(l.unanswered)} | ${fmt(l.daemonCpuCores, 2)} | ${Object.entries(l.sampleReplies).map(([k, v]) => `${k} ${v}`).join(', ')} |`;
  lines.push(row(`closed loop, one core (crypto_threads = 0), ${r.config.e2eTraders} traders, ${r.config.e2eSeconds} s`, e.oneCore));
  lines.push(row(`closed loop, default crypto threads, ${r.config.e2eTraders} traders, ${r.config.e2eSeconds} s`, e.closedLoop));
  lines.push(row('closed loop, 1 trader (unloaded latency)', e.unloaded));
  lines.push(row(`open loop ${r.config.openRate}/s, ${r.config.openSeconds} s`, e.open100));
  lines.push(row(`open loop ${r.config.openRate}/s + ${r.config.junkRate}/s junk`, s.valid));
  lines.push(row(`steady open loop ${r.steady.rate}/s, ${r.steady.seconds} s`, r.steady.load));
  lines.push('', `Daemon ready (empty DB): ${fmt(e.readyMs)} ms. Daemon RSS after the load: ${fmt(e.daemonRssAfterLoadMb, 1)} MB. Pre-building ${fmt(e.closedLoop.sent)}+ requests on 2 worker threads: ${fmt(e.prepareSeconds, 1)} s.`, '');
  lines.push('## Spam', '');
  lines.push(`Junk (malformed / signed without PoW / PoW with a bad signature / valid PoW+signature with undecryptable content, in equal parts): ${fmt(s.junkSent)} sent at ${fmt(s.junkSendRate)}/s, ${fmt(s.junkDeliveredToDaemon)} delivered to the daemon by the relay.`);
  lines.push(`Daemon CPU per 1,000 junk events: ${fmt(s.daemonCpuSecondsPerThousandJunk, 3)} s → shedding capacity about ${fmt(s.junkShedCapacityPerCore)} junk events/s per core.`, '');
  lines.push('## Bench relay ceiling (separate process, one publisher, one live subscriber, gift-wrap frames)', '');
  lines.push('| relay checks | events | events/s in→out | relay CPU (cores) |', '| --- | ---: | ---: | ---: |');
  for (const x of r.relay) lines.push(`| ${x.verify ? 'id + signature verified (libsecp256k1 WASM)' : 'none (trusting)'} | ${fmt(x.events)} | ${fmt(x.eventsPerSecond)} | ${fmt(x.relayCpuCores, 2)} |`);
  lines.push('');
  lines.push('## Scale', '');
  lines.push('| orders | build s | open+migrate ms | daemon ready ms | daemon RSS ready / idle MB | full pending book read (not done by the daemon) | full republish projected s | book-sync pass (changed → republished, ms) | expiry job (orders, s) |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
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
