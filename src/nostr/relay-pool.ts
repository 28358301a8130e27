/**
 * A pool of relay connections speaking raw NIP-01 (DAEMON.md §8.1–§8.4):
 * - connects to every configured relay, reconnects with exponential backoff and jitter, detects
 *   dead connections with pings, and re-sends the subscription after every reconnect;
 * - drops frames over `maxFrameBytes` BEFORE decoding them, verifies events, de-duplicates event ids
 *   across relays (bounded LRU) and hands each event once to the listeners;
 * - publishes to all (or some) relays and waits for each relay's NIP-20 OK, with a timeout.
 *
 * Subscription: mostrod subscribes with `{"kinds":[1059], "#p":[node], "limit":0}` and no `since`.
 * We keep that. Gift wraps are back-dated by up to two days (NIP-59), so a `since` near "now" would
 * make relays that apply `since` to live events drop most wraps, and a `since` two days back
 * would replay two days of stored wraps after every reconnect, all of them already stale
 * (requests older than 10 s are dropped by intake anyway). So: live events only, on every (re)connect.
 */
import { isUtf8 } from 'node:buffer';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { verifyEvent, type NostrEvent } from '../crypto/event.js';
import { ReplayCache } from './replay-cache.js';
import { wsSocketFactory, type RelaySocket, type SocketFactory } from './relay-socket.js';

const HEX_ID = /^[0-9a-f]{64}$/;
/** Expiry of a de-duplication entry: never (they leave by age). */
const NEVER = 0xffffffff;

/** A NIP-01 filter (tag filters as "#x" keys). */
export type Filter = {
  ids?: string[];
  authors?: string[];
  kinds?: number[];
  since?: number;
  until?: number;
  limit?: number;
} & { [tag: `#${string}`]: string[] };

export type RelayState = 'connecting' | 'open' | 'backoff' | 'closed';

export interface RelayStatus {
  url: string;
  state: RelayState;
  /** unix s of the current connection, null when not connected */
  connectedAt: number | null;
  lastError: string | null;
  /** connections opened so far */
  connects: number;
  /** events accepted from this relay (after verification and de-duplication) */
  events: number;
  /** frames dropped (oversize, unparsable, invalid event) */
  dropped: number;
  /** events we published that got no OK (not connected, timeout, connection closed) */
  publishFailures: number;
  /** events we published that the relay refused (OK false) */
  rejected: number;
}

export interface PublishResult {
  url: string;
  ok: boolean;
  message: string;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** ±fraction of randomisation */
  jitter: number;
}

export interface RelayPoolOptions {
  urls: string[];
  clock: Clock;
  logger: Logger;
  /** Shorthand for the daemon's filter `{kinds:[1059], "#p":[pubkey], limit:0}`. */
  pubkey?: string;
  /** Subscription filter (overrides `pubkey`); null = publish-only until setFilter(). */
  filter?: Filter | null;
  socketFactory?: SocketFactory;
  /** Frames larger than this are dropped unread. Default 32 KiB (mostrod: 6000-byte messages). */
  maxFrameBytes?: number;
  /**
   * NIP-13 difficulty every received event must have (the daemon's `[mostro] pow`; 0 = none). An
   * `EVENT` frame whose event id shows fewer leading zero bits is dropped from the raw bytes,
   * before the frame is decoded or parsed (the intake would drop it at its PoW gate anyway).
   */
  minPowBits?: number;
  backoff?: Partial<BackoffOptions>;
  publishTimeoutMs?: number;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  /** Event ids remembered for de-duplication across relays (fixed memory). Default 50 000. */
  dedupSize?: number;
  /** Event check before de-duplication (default: NIP-01 id + signature). */
  verify?: (e: unknown) => boolean;
  /**
   * De-duplicate events by id across relays (default true). A consumer that verifies signatures
   * itself and de-duplicates only verified ids (the daemon's intake) passes a shape-only `verify`
   * and `dedupe: false`, so a forged copy can never shadow the real event and PoW is checked
   * before any signature work.
   */
  dedupe?: boolean;
}

export type EventListener = (event: NostrEvent, relayUrl: string) => void;

const EVENT_FRAME_PREFIX = Buffer.from('["EVENT",');
const ID_KEY = Buffer.from('"id":"');

/**
 * True when `frame` is an `EVENT` frame whose event's `"id":"<64 hex>"` (the first object key named
 * id: the subscription id and every string before it cannot hold an unescaped quote) has fewer than
 * `bits` leading zero bits. Anything it cannot read this way is left to the parser (false).
 */
export function lacksPow(frame: Buffer, bits: number): boolean {
  if (frame.length < EVENT_FRAME_PREFIX.length + 80 || !frame.subarray(0, EVENT_FRAME_PREFIX.length).equals(EVENT_FRAME_PREFIX)) return false;
  const at = frame.indexOf(ID_KEY, EVENT_FRAME_PREFIX.length);
  if (at < 0 || at + ID_KEY.length + 64 > frame.length) return false;
  const start = at + ID_KEY.length;
  let zeros = 0;
  for (let i = start; i < start + 64; i++) {
    const c = frame[i]!;
    const nibble = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (nibble < 0) return false; // not hex: the parser and the intake decide
    if (nibble === 0) {
      zeros += 4;
      if (zeros >= bits) return false;
      continue;
    }
    zeros += Math.clz32(nibble) - 28;
    break;
  }
  return zeros < bits;
}

const KIND_KEY = Buffer.from('"kind":');
const PUBKEY_KEY = Buffer.from('"pubkey":"');

/**
 * The author of a kind-14 EVENT frame, read from its raw bytes: the first `"kind":` key must hold
 * 14 and the first `"pubkey":"` key 64 lowercase hex digits, as every client serializes an event;
 * null for anything else (other kinds, other spellings, whitespace around the colon): those frames
 * are decoded and gated as usual. A quote inside a JSON string is escaped, so these byte sequences
 * can only be keys; an event whose frame names two authors is the sender's own problem (a gate on
 * this author only ever drops — never admits — see Intake.refusesFrame).
 */
export function rawDirectAuthor(frame: Buffer): string | null {
  if (frame.length < EVENT_FRAME_PREFIX.length + 80 || !frame.subarray(0, EVENT_FRAME_PREFIX.length).equals(EVENT_FRAME_PREFIX)) return null;
  const k = frame.indexOf(KIND_KEY, EVENT_FRAME_PREFIX.length);
  if (k < 0) return null;
  const d = k + KIND_KEY.length;
  // "14" followed by a byte that ends a JSON number
  if (frame[d] !== 49 || frame[d + 1] !== 52) return null;
  const after = frame[d + 2];
  if (after !== 44 && after !== 125 && after !== 32) return null;
  const at = frame.indexOf(PUBKEY_KEY, EVENT_FRAME_PREFIX.length);
  if (at < 0) return null;
  const start = at + PUBKEY_KEY.length;
  if (start + 65 > frame.length || frame[start + 64] !== 34) return null;
  for (let i = start; i < start + 64; i++) {
    const c = frame[i]!;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return null;
  }
  return frame.toString('latin1', start, start + 64);
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.3 };
/** A connection that stayed up this long resets the backoff. */
const STABLE_MS = 10_000;

interface PendingOk {
  resolve(r: PublishResult): void;
  timer: NodeJS.Timeout;
}

/** A NIP-01 EVENT frame. */
function eventFrame(event: NostrEvent): string {
  return JSON.stringify(['EVENT', event]);
}

class RelayConnection {
  state: RelayState = 'closed';
  connectedAt: number | null = null;
  lastError: string | null = null;
  connects = 0;
  events = 0;
  dropped = 0;
  publishFailures = 0;
  rejected = 0;
  private socket: RelaySocket | null = null;
  private attempt = 0;
  private openedAtMs = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private stopped = true;
  private readonly pending = new Map<string, PendingOk[]>();

  constructor(
    readonly url: string,
    private readonly pool: RelayPool,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    this.state = 'connecting';
    const o = this.pool.opts;
    let socket: RelaySocket;
    try {
      socket = this.pool.socketFactory(this.url, {
        onOpen: () => {
          if (this.socket === socket) this.onOpen();
        },
        onMessage: (data) => {
          if (this.socket === socket) this.onMessage(data);
        },
        onClose: (code, reason) => {
          if (this.socket === socket) this.onClose(`closed (${code}${reason !== '' ? ` ${reason}` : ''})`);
        },
        onError: (err) => {
          if (this.socket === socket) this.lastError = err.message;
        },
        onPong: () => {
          this.awaitingPong = false;
        },
      });
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.connectTimer = setTimeout(() => {
      if (this.socket === socket && this.state === 'connecting') {
        this.lastError = 'connect timeout';
        socket.terminate();
        this.onClose('connect timeout');
      }
    }, o.connectTimeoutMs);
  }

  private onOpen(): void {
    this.clearTimer('connectTimer');
    this.state = 'open';
    this.connects++;
    this.connectedAt = this.pool.opts.clock.now();
    this.openedAtMs = this.pool.opts.clock.nowMs();
    this.lastError = null;
    this.pool.logger.info({ relay: this.url }, 'relay connected');
    this.sendReq();
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        this.lastError = 'ping timeout';
        this.socket?.terminate();
        this.onClose('ping timeout');
        return;
      }
      this.awaitingPong = true;
      this.socket?.ping();
    }, this.pool.opts.pingIntervalMs);
  }

  sendReq(): void {
    if (this.state !== 'open' || this.socket === null) return;
    const filter = this.pool.currentFilter();
    if (filter === null) return;
    this.socket.send(JSON.stringify(['REQ', this.pool.subId, filter]));
  }

  sendClose(): void {
    if (this.state === 'open' && this.socket !== null) this.socket.send(JSON.stringify(['CLOSE', this.pool.subId]));
  }

  private onMessage(data: Buffer): void {
    this.awaitingPong = false;
    if (data.length > this.pool.opts.maxFrameBytes) {
      this.dropped++;
      this.pool.logger.debug({ relay: this.url, bytes: data.length }, 'relay frame over size limit dropped');
      return;
    }
    if (this.pool.minPowBits > 0 && lacksPow(data, this.pool.minPowBits)) {
      this.dropped++;
      return;
    }
    if (this.pool.frameGate !== null && this.pool.frameGate(data)) {
      this.dropped++;
      return;
    }
    // Invalid UTF-8 is dropped (the socket does not check it: see wsSocketFactory), never decoded
    // with replacement characters.
    if (!isUtf8(data)) {
      this.dropped++;
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.dropped++;
      return;
    }
    if (!Array.isArray(msg) || typeof msg[0] !== 'string') {
      this.dropped++;
      return;
    }
    const items = msg as unknown[];
    switch (items[0]) {
      case 'EVENT':
        if (items[1] !== this.pool.subId) return;
        if (this.pool.acceptEvent(items[2], this.url)) this.events++;
        else this.dropped++;
        return;
      case 'OK': {
        const [, id, ok, message] = items;
        if (typeof id !== 'string') return;
        const text = typeof message === 'string' ? message : '';
        this.noteRateLimit(ok === true, text);
        this.settle(id, { url: this.url, ok: ok === true, message: text });
        return;
      }
      case 'CLOSED':
        if (items[1] === this.pool.subId) {
          this.lastError = `subscription closed: ${String(items[2])}`;
          this.pool.logger.warn({ relay: this.url, reason: items[2] }, 'relay closed our subscription; resubscribing');
          this.reqTimer = setTimeout(() => this.sendReq(), this.pool.opts.backoff.initialMs);
        }
        return;
      case 'NOTICE':
        this.pool.logger.debug({ relay: this.url, notice: items[1] }, 'relay notice');
        return;
      default:
        return;
    }
  }

  private reqTimer: NodeJS.Timeout | null = null;

  private onClose(why: string): void {
    this.clearTimer('connectTimer');
    this.clearTimer('pingTimer');
    this.clearTimer('reqTimer');
    this.socket = null;
    const wasOpen = this.state === 'open';
    this.connectedAt = null;
    this.lastError ??= why;
    for (const id of [...this.pending.keys()]) this.settle(id, { url: this.url, ok: false, message: 'connection closed' });
    if (wasOpen && !this.stopped) {
      this.pool.logger.warn({ relay: this.url, reason: why }, 'relay disconnected');
      if (this.pool.opts.clock.nowMs() - this.openedAtMs >= STABLE_MS) this.attempt = 0;
    }
    if (this.stopped) {
      this.state = 'closed';
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.state = 'backoff';
    const b = this.pool.opts.backoff;
    const base = Math.min(b.maxMs, b.initialMs * b.factor ** this.attempt);
    const delay = Math.max(0, Math.round(base * (1 - b.jitter + 2 * b.jitter * Math.random())));
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Publishing to this relay is held back until then after it answered `rate-limited:` (ms epoch). */
  private slowUntilMs = 0;
  /** Current rate-limit backoff step (ms); doubles on each `rate-limited:`, cleared by an accepted event. */
  private slowStepMs = 0;

  /** `frame`: the event's EVENT frame (serialized once by the pool for every relay). */
  async publish(event: NostrEvent, frame: string = eventFrame(event)): Promise<PublishResult> {
    const wait = this.slowUntilMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    if (this.state !== 'open' || this.socket === null) {
      this.publishFailures++;
      return { url: this.url, ok: false, message: 'not connected' };
    }
    const socket = this.socket;
    const result = await new Promise<PublishResult>((resolve) => {
      const timer = setTimeout(() => {
        this.removePending(event.id, entry);
        resolve({ url: this.url, ok: false, message: 'timeout' });
      }, this.pool.opts.publishTimeoutMs);
      const entry: PendingOk = { resolve, timer };
      const list = this.pending.get(event.id);
      if (list === undefined) this.pending.set(event.id, [entry]);
      else list.push(entry);
      socket.send(frame);
    });
    if (!result.ok) {
      if (result.message === 'timeout' || result.message === 'connection closed') this.publishFailures++;
      else this.rejected++;
    }
    return result;
  }

  /**
   * NIP-01 `rate-limited:` refusals slow publishing to this relay down (exponential, capped at the
   * reconnect backoff maximum); an accepted event lifts the brake.
   */
  private noteRateLimit(accepted: boolean, message: string): void {
    if (accepted) {
      this.slowStepMs = 0;
      this.slowUntilMs = 0;
      return;
    }
    if (!message.startsWith('rate-limited:')) return;
    const b = this.pool.opts.backoff;
    this.slowStepMs = Math.min(b.maxMs, this.slowStepMs === 0 ? b.initialMs : this.slowStepMs * 2);
    this.slowUntilMs = Date.now() + this.slowStepMs;
    this.pool.logger.warn({ relay: this.url, backoffMs: this.slowStepMs, message }, 'relay rate-limited us; slowing down');
  }

  private removePending(id: string, entry: PendingOk): void {
    const list = this.pending.get(id);
    if (list === undefined) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.pending.delete(id);
  }

  private settle(id: string, r: PublishResult): void {
    const list = this.pending.get(id);
    if (list === undefined) return;
    this.pending.delete(id);
    for (const p of list) {
      clearTimeout(p.timer);
      p.resolve(r);
    }
  }

  private clearTimer(name: 'connectTimer' | 'pingTimer' | 'reconnectTimer' | 'reqTimer'): void {
    const t = this[name];
    if (t !== null) {
      clearTimeout(t);
      this[name] = null;
    }
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer('reconnectTimer');
    const s = this.socket;
    if (s !== null) {
      s.close();
      // don't wait for the close handshake
      s.terminate();
    }
    this.onClose('stopped');
    this.state = 'closed';
  }

  /** Force a reconnect now (tests, operator action). */
  kick(): void {
    if (this.stopped) return;
    this.clearTimer('reconnectTimer');
    if (this.socket !== null) {
      this.socket.terminate();
      this.onClose('kicked');
    } else {
      this.connect();
    }
  }

  status(): RelayStatus {
    return {
      url: this.url,
      state: this.state,
      connectedAt: this.connectedAt,
      lastError: this.lastError,
      connects: this.connects,
      events: this.events,
      dropped: this.dropped,
      publishFailures: this.publishFailures,
      rejected: this.rejected,
    };
  }
}

interface ResolvedOptions {
  clock: Clock;
  maxFrameBytes: number;
  backoff: BackoffOptions;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  pingIntervalMs: number;
}

export class RelayPool {
  readonly opts: ResolvedOptions;
  readonly logger: Logger;
  readonly socketFactory: SocketFactory;
  readonly subId = `mostro-${Math.random().toString(36).slice(2, 10)}`;
  private readonly relays: RelayConnection[];
  private readonly listeners = new Set<EventListener>();
  /** Ids already passed on (fixed memory: a ring of id prefixes, see replay-cache.ts). */
  private readonly seen: ReplayCache;
  private readonly verify: (e: unknown) => boolean;
  /** See RelayPoolOptions.minPowBits. */
  readonly minPowBits: number;
  private readonly dedupe: boolean;
  private filter: Filter | null;
  /** See setFrameGate. */
  frameGate: ((frame: Buffer) => boolean) | null = null;

  constructor(o: RelayPoolOptions) {
    this.opts = {
      clock: o.clock,
      maxFrameBytes: o.maxFrameBytes ?? 32 * 1024,
      backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
      publishTimeoutMs: o.publishTimeoutMs ?? 10_000,
      connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
      pingIntervalMs: o.pingIntervalMs ?? 30_000,
    };
    this.logger = o.logger;
    // Frames are size- and PoW-checked from their raw bytes and UTF-8-checked here before decoding
    // (onMessage), so most junk is dropped without ws validating its text first.
    this.socketFactory = o.socketFactory ?? wsSocketFactory(undefined, { skipUtf8Validation: true });
    this.seen = new ReplayCache(o.dedupSize ?? 50_000);
    this.verify = o.verify ?? verifyEvent;
    this.minPowBits = o.minPowBits ?? 0;
    this.dedupe = o.dedupe ?? true;
    this.filter =
      o.filter !== undefined
        ? o.filter
        : o.pubkey !== undefined
          ? { kinds: [1059], '#p': [o.pubkey], limit: 0 }
          : null;
    const urls = [...new Set(o.urls)];
    this.relays = urls.map((u) => new RelayConnection(u, this));
  }

  /**
   * A check of each EVENT frame's raw bytes after the size and PoW checks and before decoding:
   * true drops the frame (counted in the relay's `dropped`). The daemon refuses there the frames of
   * a kind-14 author over its allowance (Intake.refusesFrame), so a flooding key's events cost no
   * UTF-8 check, no JSON parse and no gate.
   */
  setFrameGate(gate: ((frame: Buffer) => boolean) | null): void {
    this.frameGate = gate;
  }

  /** Listen for verified, de-duplicated events; returns an unsubscribe function. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    for (const r of this.relays) r.start();
  }

  currentFilter(): Filter | null {
    return this.filter;
  }

  /** Replace the subscription on every relay (null closes it). */
  setFilter(filter: Filter | null): void {
    this.filter = filter;
    for (const r of this.relays) {
      if (filter === null) r.sendClose();
      else r.sendReq();
    }
  }

  /** Stop receiving (shutdown: keep connections for the last publications). */
  stopIntake(): void {
    this.setFilter(null);
    this.listeners.clear();
  }

  /** @internal called by connections */
  acceptEvent(e: unknown, url: string): boolean {
    if (!this.verify(e)) return false;
    const event = e as NostrEvent;
    if (this.dedupe) {
      const now = this.opts.clock.now();
      if (this.seen.seen(event.id, now)) return true;
      // Entries leave by age (capacity), not by time. An id that is not 64 lowercase hex is not
      // remembered (the intake refuses it); the prefix rule is replay-cache.ts's.
      if (HEX_ID.test(event.id)) this.seen.add(event.id, NEVER, now);
    }
    for (const l of this.listeners) {
      try {
        l(event, url);
      } catch (err) {
        this.logger.error({ err, relay: url }, 'event listener threw');
      }
    }
    return true;
  }

  /**
   * Send `event` to every relay (or to `urls`) and collect each relay's OK (or failure). The frame
   * is serialized once for all of them (a node with eight relays used to stringify each reply and
   * order event eight times).
   */
  publish(event: NostrEvent, urls?: readonly string[]): Promise<PublishResult[]> {
    const targets = urls === undefined ? this.relays : this.relays.filter((r) => urls.includes(r.url));
    const frame = eventFrame(event);
    return Promise.all(targets.map((r) => r.publish(event, frame)));
  }

  status(): RelayStatus[] {
    return this.relays.map((r) => r.status());
  }

  urls(): string[] {
    return this.relays.map((r) => r.url);
  }

  connectedRelays(): string[] {
    return this.relays.filter((r) => r.state === 'open').map((r) => r.url);
  }

  /** Resolve once at least `count` relays (default: all) are connected, or reject after timeoutMs. */
  async waitForConnection(timeoutMs = 5000, count = this.relays.length): Promise<void> {
    for (let waited = 0; this.connectedRelays().length < count; waited += 10) {
      if (waited > timeoutMs) throw new Error(`relays not connected: ${JSON.stringify(this.status())}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Force every relay (or one) to reconnect now. */
  reconnect(url?: string): void {
    for (const r of this.relays) if (url === undefined || r.url === url) r.kick();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    for (const r of this.relays) r.stop();
    await Promise.resolve();
  }
}
