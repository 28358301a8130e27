import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
/**
 * Load generation against a running harness: simulated traders send pre-built new-order requests
 * (gift wraps, or protocol-v2 kind-14 events) and time each one from send to the node's reply (matched by the reply's `p`
 * tag = the request's fresh trade key, so no decryption sits on the timed path). A sample of the
 * replies is opened afterwards to check they are real `new-order` answers.
 */
import { performance } from 'node:perf_hooks';
import { bytesToHex, generateSecretKey, hexToBytes } from '../src/crypto/secp.js';
import { openDirectMessage } from '../src/nostr/direct-message.js';
import { unwrapGiftWrap } from '../src/nostr/gift-wrap.js';
import { KIND_DIRECT_MESSAGE } from '../src/nostr/transport.js';
import type { NostrEvent } from '../src/crypto/event.js';
import { parseDirectContent } from '../src/protocol/direct.js';
import { parseRumorContent } from '../src/protocol/parse.js';
import type { Message } from '../src/protocol/types.js';
import type { GeneratedRequest, TraderSpec } from './gen.js';
import { boxCpuSeconds, Conn, cpuSeconds, type Harness } from './harness.js';
import { round, summarize, type LatencySummary } from './stats.js';
import type { WorkerPool } from './workers.js';

export interface Trader {
  requests: GeneratedRequest[];
  next: number;
}

/**
 * Pre-build `perTrader` requests for each of `traders` new identities on the worker threads:
 * gift wraps (`transport` 'v1', the default) or kind-14 events ('v2', dated `rumorCreatedAt`).
 */
export async function prepareTraders(
  pool: WorkerPool,
  h: Pick<Harness, 'nodePubkey'>,
  o: { traders: number; perTrader: number; pow: number; rumorCreatedAt: number; transport?: 'v1' | 'v2' },
): Promise<{ traders: Trader[]; seconds: number }> {
  const t0 = performance.now();
  const specs: TraderSpec[] = Array.from({ length: o.traders }, () => ({ identitySkHex: bytesToHex(generateSecretKey()), firstIndex: 1, count: o.perTrader }));
  const chunks: TraderSpec[][] = Array.from({ length: pool.size }, () => []);
  specs.forEach((s, i) => chunks[i % pool.size]!.push(s));
  const parts = await Promise.all(
    chunks.map((c, i) => pool.run<GeneratedRequest[][]>({ op: 'requests', traders: c, nodePubkey: h.nodePubkey, pow: o.pow, rumorCreatedAt: o.rumorCreatedAt, transport: o.transport ?? 'v1' }, i)),
  );
  return { traders: parts.flat().map((requests) => ({ requests, next: 0 })), seconds: (performance.now() - t0) / 1000 };
}

interface InFlight {
  sentAt: number;
  req: GeneratedRequest;
  trader: Trader;
}

/** Trader connections: one REQ per connection for all the trade keys it will use. */
/** Trade keys per reply subscription (a REQ of 5,000 keys is ≈ 340 KB; the bench relay takes frames up to 1 MB). */
const REQ_KEYS = 5_000;

class TrafficClient {
  readonly inflight = new Map<string, InFlight>();
  readonly replies: Array<{ req: GeneratedRequest; event: NostrEvent }> = [];
  readonly latencies: number[] = [];
  /** Send time (performance.now()) of each answered request, parallel to `latencies`. */
  readonly sentAts: number[] = [];
  /** Each answered request, parallel to `latencies`. */
  readonly answeredReqs: GeneratedRequest[] = [];
  onReply: (f: InFlight) => void = () => undefined;
  private constructor(private readonly conns: Conn[]) {}

  static async connect(url: string, traders: Trader[], n = 2): Promise<TrafficClient> {
    const conns = await Promise.all(Array.from({ length: n }, () => Conn.open(url)));
    const c = new TrafficClient(conns);
    conns.forEach((conn, i) => {
      const keys = traders.filter((_, j) => j % n === i).flatMap((t) => t.requests.map((r) => r.tradePubkey));
      conn.onFrame = (f, at) => c.onFrame(f, at);
      // gift wraps (v1 replies) and kind 14 (replies to v2 requests), addressed to the trade keys;
      // several subscriptions, so that no REQ frame passes the relay's 1 MB frame limit (a long
      // closed loop pre-builds tens of thousands of trade keys: one REQ of them all got the
      // connection closed, and the run answered nothing)
      for (let k = 0; k * REQ_KEYS < keys.length; k++) {
        conn.send(JSON.stringify(['REQ', `replies-${k}`, { kinds: [1059, KIND_DIRECT_MESSAGE], '#p': keys.slice(k * REQ_KEYS, (k + 1) * REQ_KEYS), limit: 0 }]));
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    return c;
  }

  private onFrame(frame: string, at: number): void {
    if (!frame.startsWith('["EVENT"')) return;
    const ev = (JSON.parse(frame) as [string, string, NostrEvent])[2];
    const p = ev.tags.find((t) => t[0] === 'p')?.[1];
    if (p === undefined) return;
    const f = this.inflight.get(p);
    if (f === undefined) return;
    this.inflight.delete(p);
    this.latencies.push(at - f.sentAt);
    this.sentAts.push(f.sentAt);
    this.answeredReqs.push(f.req);
    if (this.replies.length < 400) this.replies.push({ req: f.req, event: ev });
    this.onReply(f);
  }

  send(t: Trader, i: number): boolean {
    const req = t.requests[t.next];
    if (req === undefined) return false;
    t.next++;
    this.inflight.set(req.tradePubkey, { sentAt: performance.now(), req, trader: t });
    this.conns[i % this.conns.length]!.send(req.frame);
    return true;
  }

  /** Closes the connections; throws if the relay closed one during the run (the figures are void). */
  close(): void {
    const lost = this.conns.map((c) => c.lostWith).filter((x): x is string => x !== null);
    for (const c of this.conns) c.close();
    if (lost.length > 0) throw new Error(`the bench relay closed ${lost.length} of the load's connections during the run: ${lost.join(', ')}`);
  }
}

/** The node's message in a reply (gift wrap or kind 14), opened with the trade key; null if it can't be opened. */
function openReply(event: NostrEvent, tradeSk: Uint8Array, nodePubkey: string): (() => Message) | null {
  if (event.kind === KIND_DIRECT_MESSAGE) {
    if (event.pubkey !== nodePubkey) return null;
    const o = openDirectMessage(event, tradeSk);
    return o.ok ? () => parseDirectContent(o.plaintext).message : null;
  }
  const u = unwrapGiftWrap(event, tradeSk);
  return u.ok && u.gift.seal.pubkey === nodePubkey ? () => parseRumorContent(u.gift.rumor.content).message : null;
}

/**
 * Open a sample of replies with the trade keys: how many are the expected new-order answers
 * (a kind-14 reply is counted as `v2:<action>`).
 */
function checkReplies(replies: Array<{ req: GeneratedRequest; event: NostrEvent }>, nodePubkey: string): Record<string, number> {
  const actions: Record<string, number> = {};
  for (const r of replies.slice(0, 200)) {
    const open = openReply(r.event, hexToBytes(r.req.tradeSkHex), nodePubkey);
    let key = 'unopenable';
    if (open !== null) {
      try {
        const m = open();
        key = m.kind.action === 'cant-do' ? `cant-do:${JSON.stringify(m.kind.payload)}` : m.kind.action;
      } catch {
        key = 'unparsable';
      }
    }
    if (r.event.kind === KIND_DIRECT_MESSAGE) key = `v2:${key}`;
    actions[key] = (actions[key] ?? 0) + 1;
  }
  return actions;
}

export interface LoadResult {
  seconds: number;
  sent: number;
  answered: number;
  answeredPerSecond: number;
  unanswered: number;
  latencyMs: LatencySummary;
  daemonCpuCores: number;
  /** The whole machine over the window (cores): busy, and of it stolen by the hypervisor. */
  machine?: { busyCores: number; stolenCores: number };
  sampleReplies: Record<string, number>;
  /** Latency per TIMELINE_BUCKET_SECONDS of send time, from the load's start or a given origin (where in the run a tail sits). */
  timeline?: TimelineBucket[];
  /** Each answered request's latency split at the relay (open loops run with `trace`). */
  segments?: LatencySegments;
}

/**
 * A request's latency in three parts, from the arrival times the bench relay recorded (one
 * monotonic clock for every process of the machine): `up` — the bench's send to the relay's
 * handler (the bench's socket, the relay's queue); `node` — from there to the relay's handler
 * receiving the node's reply (the relay forwarding the request, the node, the reply's way back
 * to the relay); `down` — from there to the bench's receipt (the relay's fan-out, the bench's
 * queue). `slowest` is the mean of each part over the requests whose whole latency is at or above
 * the p99: where the tail is spent.
 */
export interface LatencySegments {
  n: number;
  up: LatencySummary;
  node: LatencySummary;
  down: LatencySummary;
  slowest: { n: number; up: number; node: number; down: number };
}

async function traceSegments(h: Harness, client: TrafficClient): Promise<LatencySegments> {
  const reqs = client.answeredReqs;
  const tr = await h.relay.traceStop(
    reqs.map((r) => r.wrapId),
    reqs.map((r) => r.tradePubkey),
  );
  // performance.now() and process.hrtime share libuv's monotonic clock; this is the offset between them
  const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  const up: number[] = [];
  const node: number[] = [];
  const down: number[] = [];
  const total: number[] = [];
  reqs.forEach((r, i) => {
    const atRelay = tr.ids[r.wrapId];
    const replyAtRelay = tr.p[r.tradePubkey];
    if (atRelay === undefined || replyAtRelay === undefined) return;
    const sent = client.sentAts[i]! + offset;
    const got = sent + client.latencies[i]!;
    up.push(atRelay - sent);
    node.push(replyAtRelay - atRelay);
    down.push(got - replyAtRelay);
    total.push(client.latencies[i]!);
  });
  dumpRequests(client, offset, tr);
  const p99 = summarize(total).p99;
  const slow = total.flatMap((t, i) => (t >= p99 ? [i] : []));
  const mean = (xs: number[]): number => round(slow.reduce((a, i) => a + xs[i]!, 0) / Math.max(1, slow.length));
  return { n: total.length, up: summarize(up), node: summarize(node), down: summarize(down), slowest: { n: slow.length, up: mean(up), node: mean(node), down: mean(down) } };
}

export interface TimelineBucket {
  /** Start of the bucket, seconds from the start of the load. */
  t: number;
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export const TIMELINE_BUCKET_SECONDS = 10;

/** Whole-machine CPU since `box0`, over `seconds`. */
function machineOver(box0: { busy: number; steal: number }, seconds: number): { busyCores: number; stolenCores: number } {
  const b = boxCpuSeconds();
  return { busyCores: round((b.busy - box0.busy) / seconds, 2), stolenCores: round((b.steal - box0.steal) / seconds, 2) };
}

function timeline(sentAts: readonly number[], latencies: readonly number[], t0: number): TimelineBucket[] {
  const buckets = new Map<number, number[]>();
  sentAts.forEach((s, i) => {
    const b = Math.floor((s - t0) / 1000 / TIMELINE_BUCKET_SECONDS) * TIMELINE_BUCKET_SECONDS;
    let xs = buckets.get(b);
    if (xs === undefined) buckets.set(b, (xs = []));
    xs.push(latencies[i]!);
  });
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, xs]) => {
      const s = summarize(xs);
      return { t, n: s.n, p50: s.p50, p99: s.p99, max: s.max };
    });
}

/** Closed loop: every trader keeps exactly one request in flight for `seconds`. */
export async function closedLoop(h: Harness, traders: Trader[], seconds: number): Promise<LoadResult> {
  const client = await TrafficClient.connect(h.relay.url, traders);
  const cpu0 = cpuSeconds(h.pid);
  const box0 = boxCpuSeconds();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let sent = 0;
  let answeredInWindow = 0;
  client.onReply = (f) => {
    if (performance.now() > end) return;
    answeredInWindow++;
    if (client.send(f.trader, sent)) sent++;
  };
  traders.forEach((t, i) => {
    if (client.send(t, i)) sent++;
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = cpuSeconds(h.pid) - cpu0;
  const elapsed = (performance.now() - t0) / 1000;
  const machine = machineOver(box0, elapsed);
  await new Promise((r) => setTimeout(r, 1500)); // let the last replies land (not counted in the rate)
  const res: LoadResult = {
    seconds: round(elapsed, 2),
    sent,
    answered: answeredInWindow,
    answeredPerSecond: round(answeredInWindow / elapsed),
    unanswered: client.inflight.size,
    latencyMs: summarize(client.latencies),
    daemonCpuCores: round(cpu / elapsed, 2),
    machine,
    sampleReplies: checkReplies(client.replies, h.nodePubkey),
    timeline: timeline(client.sentAts, client.latencies, t0),
  };
  client.close();
  return res;
}

/**
 * BENCH_DUMP_REQUESTS=dir (diagnosis): each traced load writes one line per answered request —
 * send time (ms, monotonic), up, node, down, total ms — to dir/requests-<n>.tsv, so a tail can be
 * placed in time against other processes' logs.
 */
let dumps = 0;
function dumpRequests(client: TrafficClient, offset: number, tr: { ids: Record<string, number>; p: Record<string, number> }): void {
  const dir = process.env['BENCH_DUMP_REQUESTS'];
  if (dir === undefined || dir === '') return;
  const lines = client.answeredReqs.map((r, i) => {
    const sent = client.sentAts[i]! + offset;
    const atRelay = tr.ids[r.wrapId] ?? NaN;
    const replyAtRelay = tr.p[r.tradePubkey] ?? NaN;
    const total = client.latencies[i]!;
    return [sent, atRelay - sent, replyAtRelay - atRelay, sent + total - replyAtRelay, total].map((x) => x.toFixed(2)).join('\t') + `\t${r.tradePubkey}`;
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `requests-${++dumps}.tsv`), `sent\tup\tnode\tdown\ttotal\tkey\n${lines.join('\n')}\n`);
}

export interface OpenLoopOptions {
  /** awaited before the result (a flood sent beside the load) */
  during?: Promise<unknown>;
  /** origin of the timeline's buckets (performance.now()), default the load's start */
  timelineOrigin?: number;
  /** Date.now() ms: the first request is sent then, not before (a staged flood starts then too, bench/flood.ts) */
  startAt?: number;
  /** split each answered request's latency at the relay (`segments`; relay.ts `TRACE`) */
  trace?: boolean;
}

/** Open loop: requests at a fixed `rate` for `seconds`, round-robin over the traders. */
export async function openLoop(h: Harness, traders: Trader[], rate: number, seconds: number, o: OpenLoopOptions = {}): Promise<LoadResult> {
  const client = await TrafficClient.connect(h.relay.url, traders);
  if (o.trace === true) await h.relay.traceStart();
  if (o.startAt !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, o.startAt! - Date.now())));
  const cpu0 = cpuSeconds(h.pid);
  const box0 = boxCpuSeconds();
  const t0 = performance.now();
  const total = Math.floor(rate * seconds);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    while (sent < due) {
      client.send(traders[sent % traders.length]!, sent);
      sent++;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(h.pid) - cpu0;
  const machine = machineOver(box0, elapsed);
  const deadline = performance.now() + 10_000;
  while (client.inflight.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (o.during !== undefined) await o.during;
  const segments = o.trace === true ? await traceSegments(h, client) : undefined;
  const res: LoadResult = {
    seconds: round(elapsed, 2),
    sent,
    answered: client.latencies.length,
    answeredPerSecond: round(client.latencies.length / elapsed),
    unanswered: client.inflight.size,
    latencyMs: summarize(client.latencies),
    daemonCpuCores: round(cpu / elapsed, 2),
    machine,
    sampleReplies: checkReplies(client.replies, h.nodePubkey),
    timeline: timeline(client.sentAts, client.latencies, o.timelineOrigin ?? t0),
    ...(segments !== undefined ? { segments } : {}),
  };
  client.close();
  return res;
}
