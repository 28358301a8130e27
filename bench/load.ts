import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
/**
 * Load generation against a running harness: simulated traders send pre-built new-order requests
 * (gift wraps, or protocol-v2 kind-14 events) and time each one from send to the node's reply (matched by the reply's `p`
 * tag = the request's fresh trade key, so no decryption sits on the timed path). A sample of the
 * replies is opened afterwards to check they are real `new-order` answers.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { bytesToHex, generateSecretKey, hexToBytes } from '../src/crypto/secp.js';
import { openDirectMessage } from '../src/nostr/direct-message.js';
import { unwrapGiftWrap } from '../src/nostr/gift-wrap.js';
import { KIND_DIRECT_MESSAGE } from '../src/nostr/transport.js';
import type { NostrEvent } from '../src/crypto/event.js';
import { parseDirectContent } from '../src/protocol/direct.js';
import { parseRumorContent } from '../src/protocol/parse.js';
import type { Message } from '../src/protocol/types.js';
import { collectEquipment } from './equipment-gc.js';
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
  /** A closed loop's traders ran out of pre-built requests: its throughput is a lower bound. */
  ranOut?: true;
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

/** Answered requests with their send times (this thread's performance.now()) and latencies, in answer order. */
interface AnsweredSet {
  readonly answeredReqs: readonly GeneratedRequest[];
  readonly sentAts: readonly number[];
  readonly latencies: readonly number[];
}

async function traceSegments(h: Harness, client: AnsweredSet): Promise<LatencySegments> {
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
    ...(traders.some((t) => t.next >= t.requests.length) ? { ranOut: true as const } : {}),
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
function dumpRequests(client: AnsweredSet, offset: number, tr: { ids: Record<string, number>; p: Record<string, number> }): void {
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

/** Monotonic ms on libuv's clock: the same on every thread and process of the machine. */
function hrNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * What an open loop's sender measured, as plain data: it runs on the load thread
 * (bench/load-worker.ts) unless BENCH_LOAD_THREAD=main. Times are monotonic ms (`hrNowMs`).
 */
export interface RawOpenLoop {
  sent: number;
  /** seconds from the first request sent to the last */
  elapsed: number;
  /** when the first request was sent (monotonic ms) */
  t0Hr: number;
  /** the answered requests' trade keys, send times (monotonic ms) and latencies, in answer order */
  answeredKeys: string[];
  sentAtsHr: number[];
  latencies: number[];
  unanswered: number;
  sampleReplies: Record<string, number>;
  /** each trader's next request after the loop */
  next: number[];
}

/** The moments of an open loop at which the measuring side reads CPU counters or waits. */
export interface OpenLoopHooks {
  /** connected and subscribed; nothing sent yet */
  ready(): Promise<void>;
  /** the first request is about to be sent */
  started(): void;
  /** every request sent, `elapsed` seconds after the first */
  sentAll(elapsed: number): void;
  /** every reply in (or 10 s passed); the connections stay open until this resolves */
  drained(): Promise<void>;
}

/** Open loop: requests at a fixed `rate` for `seconds`, round-robin over the traders, on this thread. */
export async function runOpenLoop(url: string, nodePubkey: string, traders: Trader[], rate: number, seconds: number, startAt: number | undefined, hooks: OpenLoopHooks): Promise<RawOpenLoop> {
  const client = await TrafficClient.connect(url, traders);
  let closed = false;
  try {
    await hooks.ready();
    if (startAt !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
    hooks.started();
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
    hooks.sentAll(elapsed);
    const deadline = performance.now() + 10_000;
    while (client.inflight.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await hooks.drained();
    const toHr = hrNowMs() - performance.now();
    const raw: RawOpenLoop = {
      sent,
      elapsed,
      t0Hr: t0 + toHr,
      answeredKeys: client.answeredReqs.map((r) => r.tradePubkey),
      sentAtsHr: client.sentAts.map((s) => s + toHr),
      latencies: client.latencies,
      unanswered: client.inflight.size,
      sampleReplies: checkReplies(client.replies, nodePubkey),
      next: traders.map((t) => t.next),
    };
    closed = true;
    client.close(); // throws if the relay closed a connection: the figures are void
    return raw;
  } finally {
    if (!closed) {
      try {
        client.close();
      } catch {
        // the error that got us here is the one to report
      }
    }
  }
}

/**
 * Open loop: requests at a fixed `rate` for `seconds`, round-robin over the traders. The requests
 * are sent and their replies timed on the load thread (bench/load-worker.ts), not on the bench's
 * main thread, which holds every phase's pre-built requests (hundreds of MB by the v2 phases): its
 * garbage collection stalled it up to 150 ms in a measured window (session 9), and those stalls
 * were counted as the daemon's latency. BENCH_LOAD_THREAD=main sends from the main thread as before
 * (comparison).
 */
export async function openLoop(h: Harness, traders: Trader[], rate: number, seconds: number, o: OpenLoopOptions = {}): Promise<LoadResult> {
  let cpu0 = 0;
  let box0 = { busy: 0, steal: 0 };
  let cpu = 0;
  let machine = { busyCores: 0, stolenCores: 0 };
  const hooks: OpenLoopHooks = {
    ready: async () => {
      // the equipment's collections before the window, not in it (equipment-gc.ts); the load
      // thread collects its own heap after this, before its first send
      await collectEquipment();
      if (o.trace !== true) return;
      const reqs = traders.flatMap((t) => t.requests.slice(t.next));
      await h.relay.traceStart(
        reqs.map((r) => r.wrapId),
        reqs.map((r) => r.tradePubkey),
      );
    },
    started: () => {
      cpu0 = cpuSeconds(h.pid);
      box0 = boxCpuSeconds();
    },
    sentAll: (elapsed) => {
      cpu = cpuSeconds(h.pid) - cpu0;
      machine = machineOver(box0, elapsed);
    },
    drained: async () => {
      if (o.during !== undefined) await o.during;
    },
  };
  const raw = loadThreadMode() === 'main' ? await runOpenLoop(h.relay.url, h.nodePubkey, traders, rate, seconds, o.startAt, hooks) : await loadThread().run(h.relay.url, h.nodePubkey, traders, rate, seconds, o.startAt, hooks);
  raw.next.forEach((n, i) => {
    traders[i]!.next = n;
  });
  // back to this thread's performance.now()
  const toHere = performance.now() - hrNowMs();
  const byKey = new Map<string, GeneratedRequest>();
  for (const t of traders) for (const r of t.requests) byKey.set(r.tradePubkey, r);
  const answered: AnsweredSet = {
    answeredReqs: raw.answeredKeys.map((k) => byKey.get(k)!),
    sentAts: raw.sentAtsHr.map((s) => s + toHere),
    latencies: raw.latencies,
  };
  const segments = o.trace === true ? await traceSegments(h, answered) : undefined;
  return {
    seconds: round(raw.elapsed, 2),
    sent: raw.sent,
    answered: raw.latencies.length,
    answeredPerSecond: round(raw.latencies.length / raw.elapsed),
    unanswered: raw.unanswered,
    latencyMs: summarize(raw.latencies),
    daemonCpuCores: round(cpu / raw.elapsed, 2),
    machine,
    sampleReplies: raw.sampleReplies,
    timeline: timeline(answered.sentAts, raw.latencies, o.timelineOrigin ?? raw.t0Hr + toHere),
    ...(segments !== undefined ? { segments } : {}),
  };
}

function loadThreadMode(): 'worker' | 'main' {
  const raw = process.env['BENCH_LOAD_THREAD'];
  if (raw === undefined || raw === '' || raw === 'worker') return 'worker';
  if (raw === 'main') return 'main';
  throw new Error(`BENCH_LOAD_THREAD must be "worker" or "main", got ${JSON.stringify(raw)}`);
}

const LOAD_WORKER_URL = new URL('./load-worker.ts', import.meta.url).href;

/** Messages between the load thread and this one (bench/load-worker.ts). */
export type LoadThreadRequest =
  | { type: 'run'; id: number; url: string; nodePubkey: string; traders: Trader[]; rate: number; seconds: number; startAt?: number }
  | { type: 'go' | 'finish'; id: number };
export type LoadThreadReply =
  | { type: 'ready'; id: number }
  | { type: 'started'; id: number }
  | { type: 'drained'; id: number }
  | { type: 'sent'; id: number; elapsed: number }
  | { type: 'result'; id: number; raw: RawOpenLoop }
  | { type: 'error'; id: number; error: string };

/** One worker thread that sends the open loops, one at a time; started on first use, stopped by closeLoadThread. */
class LoadThread {
  private readonly worker: Worker;
  private seq = 0;
  private readonly handlers = new Map<number, (m: LoadThreadReply) => void>();

  constructor() {
    this.worker = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(LOAD_WORKER_URL)}); })`, { eval: true });
    this.worker.on('message', (m: LoadThreadReply) => this.handlers.get(m.id)?.(m));
    this.worker.on('error', (err) => {
      for (const f of this.handlers.values()) f({ type: 'error', id: -1, error: err.stack ?? err.message });
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  run(url: string, nodePubkey: string, traders: Trader[], rate: number, seconds: number, startAt: number | undefined, hooks: OpenLoopHooks): Promise<RawOpenLoop> {
    const id = ++this.seq;
    const post = (m: LoadThreadRequest): void => this.worker.postMessage(m);
    return new Promise<RawOpenLoop>((resolve, reject) => {
      const fail = (err: unknown): void => {
        this.handlers.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      this.handlers.set(id, (m) => {
        try {
          if (m.type === 'ready') hooks.ready().then(() => post({ type: 'go', id }), fail);
          else if (m.type === 'started') hooks.started();
          else if (m.type === 'sent') hooks.sentAll(m.elapsed);
          else if (m.type === 'drained') hooks.drained().then(() => post({ type: 'finish', id }), fail);
          else if (m.type === 'result') {
            this.handlers.delete(id);
            resolve(m.raw);
          } else fail(new Error(`load thread: ${m.error}`));
        } catch (err) {
          fail(err);
        }
      });
      post({ type: 'run', id, url, nodePubkey, traders: traders.map((t) => ({ requests: t.requests, next: t.next })), rate, seconds, ...(startAt !== undefined ? { startAt } : {}) });
    });
  }
}

let theLoadThread: LoadThread | undefined;
function loadThread(): LoadThread {
  theLoadThread ??= new LoadThread();
  return theLoadThread;
}

/** Stop the load thread (if one was started): its sockets and tsx's esbuild service would keep the process alive. */
export async function closeLoadThread(): Promise<void> {
  const t = theLoadThread;
  theLoadThread = undefined;
  await t?.close();
}
