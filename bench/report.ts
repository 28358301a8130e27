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
  lines.push('## Targets', '', '| target | measured | verdict |', '| --- | --- | --- |');
  lines.push(`| end to end ≥ 85 % of the crypto floor | ${fmt(e.ratioToFloor * 100, 1)} % (${fmt(e.closedLoop.answeredPerSecond)} of ${fmt(r.floor.oneCore)} pairs/s) | ${verdict(e.ratioToFloor >= 0.85)} |`);
  lines.push(`| ≥ 350 request/reply pairs/s on one core | crypto floor ${fmt(r.floor.oneCore)}/s; daemon end to end ${fmt(e.closedLoop.answeredPerSecond)}/s at ${fmt(e.closedLoop.daemonCpuCores, 2)} cores | ${verdict(e.closedLoop.answeredPerSecond >= 350)} |`);
  lines.push(`| p99 < 50 ms at 100 requests/s | p99 ${fmt(e.open100.latencyMs.p99, 1)} ms (p50 ${fmt(e.open100.latencyMs.p50, 1)}) | ${verdict(e.open100.latencyMs.p99 < 50)} |`);
  lines.push(
    `| junk shed at ≥ 5,000 events/s without more than doubling valid p99 | ${fmt(s.junkSendRate)} junk/s sent, ${fmt(s.junkDeliveredToDaemon)} delivered; valid p99 ${fmt(s.valid.latencyMs.p99, 1)} ms vs ${fmt(e.open100.latencyMs.p99, 1)} ms (×${fmt(s.p99Ratio, 2)}) | ${verdict(s.junkSendRate >= 4750 && s.p99Ratio <= 2 && s.valid.unanswered === 0)} |`,
  );
  if (s10k) lines.push(`| RSS < 150 MB with 10,000 open orders | ${fmt(s10k.daemon.rssIdleMb, 1)} MB (at ready ${fmt(s10k.daemon.rssAtReadyMb, 1)}) | ${verdict(s10k.daemon.rssIdleMb < 150)} |`);
  lines.push(`| ready in < 2 s | ${fmt(e.readyMs)} ms (empty DB)${r.scale.map((x) => `, ${fmt(x.daemon.readyMs)} ms (${fmt(x.orders)} orders)`).join('')} | ${verdict(Math.max(e.readyMs, ...r.scale.map((x) => x.daemon.readyMs)) < 2000)} |`);
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
  lines.push(row(`closed loop, ${r.config.e2eTraders} traders, ${r.config.e2eSeconds} s`, e.closedLoop));
  lines.push(row('closed loop, 1 trader (unloaded latency)', e.unloaded));
  lines.push(row(`open loop ${r.config.openRate}/s, ${r.config.openSeconds} s`, e.open100));
  lines.push(row(`open loop ${r.config.openRate}/s + ${r.config.junkRate}/s junk`, s.valid));
  lines.push('', `Daemon ready (empty DB): ${fmt(e.readyMs)} ms. Daemon RSS after the load: ${fmt(e.daemonRssAfterLoadMb, 1)} MB. Pre-building ${fmt(e.closedLoop.sent)}+ requests on 2 worker threads: ${fmt(e.prepareSeconds, 1)} s.`, '');
  lines.push('## Spam', '');
  lines.push(`Junk (malformed / signed without PoW / PoW with a bad signature / valid PoW+signature with undecryptable content, in equal parts): ${fmt(s.junkSent)} sent at ${fmt(s.junkSendRate)}/s, ${fmt(s.junkDeliveredToDaemon)} delivered to the daemon by the relay.`);
  lines.push(`Daemon CPU per 1,000 junk events: ${fmt(s.daemonCpuSecondsPerThousandJunk, 3)} s → shedding capacity about ${fmt(s.junkShedCapacityPerCore)} junk events/s per core.`, '');
  lines.push('## Bench relay ceiling (separate process, one publisher, one live subscriber, gift-wrap frames)', '');
  lines.push('| relay checks | events | events/s in→out | relay CPU (cores) |', '| --- | ---: | ---: | ---: |');
  for (const x of r.relay) lines.push(`| ${x.verify ? 'id + signature verified (libsecp256k1 WASM)' : 'none (trusting)'} | ${fmt(x.events)} | ${fmt(x.eventsPerSecond)} | ${fmt(x.relayCpuCores, 2)} |`);
  lines.push('');
  lines.push('## Scale', '');
  lines.push('| orders | build s | open+migrate ms | pending book query ms (rows) | expired-pending query ms | orders by ids ms | restore-session ms | republish events/s (whole book s) | expiry job (orders, s) | daemon ready ms | daemon RSS ready / idle MB |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const x of r.scale) {
    const d = x.db as {
      buildSeconds: number;
      reopenMs: number;
      queries: Record<string, { ms: number; rows: number }>;
      republish: { eventsPerSecond: number; projectedSeconds: number };
      expiryJob: { expired: number; seconds: number };
    };
    const q = (k: string): string => `${fmt(d.queries[k]?.ms ?? Number.NaN, 2)}`;
    lines.push(
      `| ${fmt(x.orders)} | ${fmt(d.buildSeconds, 1)} | ${fmt(d.reopenMs, 1)} | ${q('orderBookPending')} (${fmt(d.queries['orderBookPending']?.rows ?? 0)}) | ${q('expiredPending')} | ${q('ordersByIdsForUser10')} | ${q('restoreSession')} | ${fmt(d.republish.eventsPerSecond)} (${fmt(d.republish.projectedSeconds, 1)}) | ${fmt(d.expiryJob.expired)}, ${fmt(d.expiryJob.seconds, 2)} | ${fmt(x.daemon.readyMs)} | ${fmt(x.daemon.rssAtReadyMb, 1)} / ${fmt(x.daemon.rssIdleMb, 1)} |`,
    );
  }
  lines.push('');
  if (r.notes.length > 0) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
