/**
 * The benchmark relay: a small NIP-01 relay kept in memory, run as its own process so it does not
 * share the event loop with the clients or the daemon.
 *
 *   node --import tsx bench/relay.ts [--port N] [--verify]
 *
 * Prints `RELAY_URL=ws://127.0.0.1:PORT` once listening. It implements what the daemon and the
 * load generator use: EVENT (dedup by id, NIP-20 OK), REQ with ids/authors/kinds/#tag/since/until/
 * limit over the stored events and live fan-out with the same filters (tag filters included), CLOSE.
 * `--verify` checks id and signature with the daemon's fast crypto (libsecp256k1 WASM + node sha256),
 * as a public relay would; without it the relay trusts the events (the daemon verifies anyway, and a
 * hostile relay would not filter). Addressable replacement is not implemented (not needed here).
 * A `["STATS"]` frame from any client is answered with `["STATS", {counters, cpu, rss}]`; a `["GC"]` frame
 * runs a full collection of the relay's heap and is answered with `["GC", ms]` (bench/equipment-gc.ts).
 * `["TRACE","start",[ids…],[p tags…]]` starts recording when each EVENT with one of those ids or `p`
 * tags reached the relay's handler (monotonic clock, ms, `process.hrtime`, the same clock in every
 * process of the machine); without the lists, every EVENT's (a flood's 50,000 ids in a map that
 * grows and survives collections: the tracing slowed the relay it measured, so the loads name theirs);
 * `["TRACE","stop",[ids…],[p tags…]]` answers `["TRACE",{ids:{id:ms},p:{tag:ms}}]` for the ones
 * asked (first arrival for an id, last for a p tag) and stops. The bench uses it to split a request's
 * latency into the way up to the relay, the node's part, and the way back (bench/load.ts).
 *
 * Each client's OK replies are written once per inbound read (corked). Events fanned out to
 * subscribers are written one by one, as they are accepted — unless `--batch-fanout`: then each
 * subscriber's socket is corked too until the inbound read is handled (the way relays built on
 * uWebSockets, strfry among them, batch their writes), so a subscriber receives a burst of events
 * in few TCP reads. Off by default here; `npm run bench` turns it on (BENCH_RELAY_FANOUT, bench/run.ts).
 */
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { verifyEvent, type NostrEvent } from '../src/crypto/event.js';
import { collectThisThread } from './equipment-gc.js';

interface Filter {
  ids?: Set<string>;
  authors?: Set<string>;
  kinds?: Set<number>;
  tags: Array<[string, Set<string>]>;
  since?: number;
  until?: number;
  limit?: number;
}

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, verify: { type: 'boolean', default: false }, 'batch-fanout': { type: 'boolean', default: false }, 'max-stored': { type: 'string', default: '0' } },
});
const BATCH_FANOUT = values['batch-fanout'];

/** Sockets corked until the current inbound read is handled (uncorked on the next tick). */
const corked = new Set<{ cork(): void; uncork(): void }>();
function uncorkAll(): void {
  for (const s of corked) s.uncork();
  corked.clear();
}
function corkUntilNextTick(socket: { cork(): void; uncork(): void }): void {
  if (corked.has(socket)) return;
  if (corked.size === 0) process.nextTick(uncorkAll);
  corked.add(socket);
  socket.cork();
}
const sockets = new WeakMap<WebSocket, { cork(): void; uncork(): void }>();

/**
 * Events kept for REQs (the oldest tenth dropped at a time past it); 0 (the default since session
 * 10) keeps none, and only the last 20,000 ids for de-duplication. Every subscription of the bench
 * is live (`limit: 0`) and opened before its events are sent, so stored events are never read back
 * by the loads; what the store costs is heap and collections on the two vCPUs the daemon uses. At
 * 100,000 events (the floods' ≈ 1 KB kind-14 and gift-wrap events) the relay's heap reached
 * 200–250 MB; at 20,000 its collections still took ≈ 1.15 s per `spam,v2-flood` run (≈ 0.5 s with
 * none kept), each young collection copying the stored events that survived it. A relay in
 * production keeps its events on disk, on its own machine. `--max-stored N` sets it.
 */
const MAX_STORED = Number(values['max-stored']);
if (!(Number.isInteger(MAX_STORED) && MAX_STORED >= 0)) throw new Error(`--max-stored must be an integer ≥ 0, got ${values['max-stored']}`);
/** Ids remembered for de-duplication when nothing is stored (`--max-stored 0`). */
const MAX_IDS_UNSTORED = 20_000;
const unstoredIds: string[] = [];
const stored: NostrEvent[] = [];
const seen = new Set<string>();
const subs = new Map<WebSocket, Map<string, Filter[]>>();
const stats = { received: 0, accepted: 0, duplicates: 0, invalid: 0, delivered: 0 };
/** While tracing: arrival at the handler (ms, monotonic) by event id and by `p` tag. */
let trace: { ids: Map<string, number>; p: Map<string, number>; watchIds: Set<string> | null; watchP: Set<string> | null } | null = null;
const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function toFilter(raw: unknown): Filter | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const f: Filter = { tags: [] };
  const strSet = (v: unknown): Set<string> | undefined => (Array.isArray(v) ? new Set(v.map(String)) : undefined);
  const ids = strSet(r['ids']);
  if (ids) f.ids = ids;
  const authors = strSet(r['authors']);
  if (authors) f.authors = authors;
  if (Array.isArray(r['kinds'])) f.kinds = new Set(r['kinds'].map(Number));
  if (typeof r['since'] === 'number') f.since = r['since'];
  if (typeof r['until'] === 'number') f.until = r['until'];
  if (typeof r['limit'] === 'number') f.limit = r['limit'];
  for (const [k, v] of Object.entries(r)) {
    if (k.length === 2 && k.startsWith('#')) {
      const s = strSet(v);
      if (s) f.tags.push([k.slice(1), s]);
    }
  }
  return f;
}

function matches(f: Filter, e: NostrEvent): boolean {
  if (f.ids && !f.ids.has(e.id)) return false;
  if (f.kinds && !f.kinds.has(e.kind)) return false;
  if (f.authors && !f.authors.has(e.pubkey)) return false;
  if (f.since !== undefined && e.created_at < f.since) return false;
  if (f.until !== undefined && e.created_at > f.until) return false;
  for (const [name, set] of f.tags) {
    if (!e.tags.some((t) => t[0] === name && t[1] !== undefined && set.has(t[1]))) return false;
  }
  return true;
}

function send(ws: WebSocket, frame: unknown[]): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
}

/** NIP-20 OK, written without serializing an array (one per received event). */
function sendOk(ws: WebSocket, id: string, ok: boolean, message: string): void {
  if (ws.readyState === ws.OPEN) ws.send(`["OK",${JSON.stringify(id)},${ok},${JSON.stringify(message)}]`);
}

/**
 * `raw` is the parsed event, `text` its JSON as the client sent it (forwarded as is: no
 * re-serialization per event).
 */
function onEvent(ws: WebSocket, raw: unknown, text: string): void {
  stats.received++;
  const e = raw as NostrEvent;
  const id = typeof e === 'object' && e !== null && typeof e.id === 'string' ? e.id : '';
  if (trace !== null) {
    const at = monoMs();
    if (!trace.ids.has(id) && (trace.watchIds === null || trace.watchIds.has(id))) trace.ids.set(id, at);
    const p = Array.isArray(e?.tags) ? e.tags.find((t) => Array.isArray(t) && t[0] === 'p')?.[1] : undefined;
    if (typeof p === 'string' && (trace.watchP === null || trace.watchP.has(p))) trace.p.set(p, at);
  }
  if (values.verify ? !verifyEvent(raw) : !(typeof e === 'object' && e !== null && typeof e.id === 'string' && Array.isArray(e.tags))) {
    stats.invalid++;
    sendOk(ws, id, false, 'invalid: bad id or signature');
    return;
  }
  if (seen.has(e.id)) {
    stats.duplicates++;
    sendOk(ws, e.id, true, 'duplicate: already have this event');
    return;
  }
  seen.add(e.id);
  // Trimmed a tenth at a time: trimming one event per event shifted the whole 100,000-event array
  // each time, and a relay full of earlier phases' events fell seconds behind a flood.
  if (MAX_STORED === 0) {
    unstoredIds.push(e.id);
    if (unstoredIds.length > MAX_IDS_UNSTORED + MAX_IDS_UNSTORED / 10) {
      for (const old of unstoredIds.splice(0, unstoredIds.length - MAX_IDS_UNSTORED)) seen.delete(old);
    }
  } else {
    stored.push(e);
    if (stored.length > MAX_STORED + MAX_STORED / 10) {
      const old = stored.splice(0, stored.length - MAX_STORED);
      for (const o of old) seen.delete(o.id);
    }
  }
  stats.accepted++;
  sendOk(ws, e.id, true, '');
  for (const [client, bySub] of subs) {
    for (const [subId, filters] of bySub) {
      if (filters.some((f) => matches(f, e))) {
        if (client.readyState === client.OPEN) {
          if (BATCH_FANOUT) {
            const sock = sockets.get(client);
            if (sock !== undefined) corkUntilNextTick(sock);
          }
          client.send(`["EVENT",${JSON.stringify(subId)},${text}]`);
        }
        stats.delivered++;
      }
    }
  }
}

function onReq(ws: WebSocket, subId: string, rawFilters: unknown[]): void {
  const filters = rawFilters.map(toFilter).filter((f): f is Filter => f !== null);
  let bySub = subs.get(ws);
  if (!bySub) {
    bySub = new Map();
    subs.set(ws, bySub);
  }
  bySub.set(subId, filters);
  for (const f of filters) {
    if (f.limit !== undefined && f.limit <= 0) continue; // live only: no pass over the stored events
    const hits = stored.filter((e) => matches(f, e));
    const out = f.limit === undefined ? hits : f.limit <= 0 ? [] : hits.slice(-f.limit);
    for (const e of out) send(ws, ['EVENT', subId, e]);
  }
  send(ws, ['EOSE', subId]);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(values.port), maxPayload: 1024 * 1024 });
wss.on('connection', (ws, req) => {
  // Replies to one client (OKs) are corked while a read's frames are handled and written together
  // after it: one write per read instead of one per event (fan-out: see --batch-fanout above).
  const socket = req.socket;
  sockets.set(ws, socket);
  ws.on('message', (data: Buffer) => {
    corkUntilNextTick(socket);
    const text = data.toString('utf8');
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      send(ws, ['NOTICE', 'invalid: not JSON']);
      return;
    }
    if (!Array.isArray(frame)) return;
    const [type, a, ...rest] = frame as unknown[];
    if (type === 'EVENT') {
      // ["EVENT", {…}]: the event's own text is between the frame's first '{' and last '}'.
      const plain = frame.length === 2 && typeof a === 'object' && a !== null && !Array.isArray(a);
      onEvent(ws, a, plain ? text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1) : JSON.stringify(a));
    } else if (type === 'REQ' && typeof a === 'string') onReq(ws, a, rest);
    else if (type === 'CLOSE' && typeof a === 'string') subs.get(ws)?.delete(a);
    else if (type === 'TRACE' && a === 'start') {
      const [ids, ps] = rest as [unknown, unknown];
      const watch = (keys: unknown): Set<string> | null => (Array.isArray(keys) ? new Set(keys.map(String)) : null);
      trace = { ids: new Map(), p: new Map(), watchIds: watch(ids), watchP: watch(ps) };
    }
    else if (type === 'TRACE' && a === 'stop') {
      const [ids, ps] = rest as [unknown, unknown];
      const pick = (m: Map<string, number> | undefined, keys: unknown): Record<string, number> =>
        Object.fromEntries((Array.isArray(keys) ? keys : []).flatMap((k) => (m?.get(String(k)) !== undefined ? [[String(k), m.get(String(k))!]] : [])));
      send(ws, ['TRACE', { ids: pick(trace?.ids, ids), p: pick(trace?.p, ps) }]);
      trace = null;
    } else if (type === 'GC') send(ws, ['GC', collectThisThread()]);
    else if (type === 'STATS') send(ws, ['STATS', { ...stats, stored: stored.length, cpuUs: process.cpuUsage(), rss: process.memoryUsage().rss }]);
  });
  ws.on('close', () => subs.delete(ws));
  ws.on('error', () => subs.delete(ws));
});
wss.once('listening', () => {
  const addr = wss.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`RELAY_URL=ws://127.0.0.1:${port}\n`);
});
const stop = (): void => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
