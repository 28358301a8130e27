/**
 * The simulated world of the money-safety simulation (test/sim/, docs/SIMULATION.md): the real
 * router, handlers, flows and scheduler jobs of one daemon process on a real SQLite file, a
 * SimLndNode that outlives processes, a FakeClock, an outbox that records every message per
 * recipient (and can stop delivering), and crash-restart: the process is dropped at whatever await
 * point its work has reached (every await on Lightning is a pending op the schedule controls), a new
 * process opens the same database file and runs the boot reconciliation the daemon runs.
 *
 * `run(commands)` applies a schedule step by step, checks the step invariants after each step, then
 * drives the world to quiescence and checks every invariant. A violation throws an Error whose
 * message names the invariant, the order and the step.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import * as bolt11 from 'bolt11';
import { randomBytes } from 'node:crypto';
import { KeyedLock } from '../../src/app/locks.js';
import { dispatch } from '../../src/app/router.js';
import { TaskTracker, type AppContext, type MostroKeys } from '../../src/context.js';
import { bytesToHex, getPublicKey, sha256Hex } from '../../src/crypto/secp.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { sqliteChangeCounter, WalBarrier, type DurableFn } from '../../src/db/durability.js';
import { CommitCuts } from './sim-commit-cuts.js';
import type { Database } from '../../src/db/sqlite-driver.js';
import { OrderChangeAcks } from '../../src/db/order-changes.js';
import { DurableLightning } from '../../src/lightning/durable.js';
import { findDisputes, getDisputeByOrder } from '../../src/db/disputes.js';
import { findOrders, getOrder } from '../../src/db/orders.js';
import type { DisputeRow, OrderRow } from '../../src/db/types.js';
import { assertIssuedNotBefore, verifyLnurlInvoice, type LnurlResolver, type ResolveInvoiceOptions } from '../../src/lightning/lnurl.js';
import { CreatedAtClock } from '../../src/nostr/created-at.js';
import { getEventHash } from '../../src/crypto/event.js';
import { DISPUTE_EVENT_KIND, ORDER_EVENT_KIND } from '../../src/nostr/events.js';
import type { DurableNotice, EventTemplate, Outbox, PreparedEvent, PublishOptions, SendOptions } from '../../src/nostr/outbox.js';
import { expectedPublicStatus } from '../../src/app/flows/publish.js';
import { PublicationLedgerOutbox, restoreOrderEventTimes } from '../../src/ops/publication-ledger.js';
import { newBookSyncState, republishChangedDisputes, republishChangedOrders, type BookSyncState } from '../../src/scheduler/jobs/republish-changed-orders.js';
import { buildMessage } from '../../src/protocol/build.js';
import type { Action, Message, Payload, Status } from '../../src/protocol/types.js';
import { bootReconcile } from '../../src/scheduler/register.js';
import { newDevFeeState, payDevFees, type DevFeeState } from '../../src/scheduler/jobs/dev-fee.js';
import { guardEscrowDeadlines } from '../../src/scheduler/jobs/escrow-deadline.js';
import { expirePendingOrders } from '../../src/scheduler/jobs/expire-pending-orders.js';
import { reconcilePayoutsJob } from '../../src/scheduler/jobs/payout-reconcile.js';
import { retryPayouts } from '../../src/scheduler/jobs/payout-retries.js';
import { publishQueuedEvents } from '../../src/scheduler/jobs/publish-queued-events.js';
import { cancelTimedOutWaitingOrders } from '../../src/scheduler/jobs/waiting-timeouts.js';
import type { Inbound } from '../../src/app/inbound.js';
import { BanList } from '../../src/app/bans.js';
import { UnratedBudgets } from '../../src/app/unrated-budget.js';
import { banUser, unbanUser } from '../../src/ops/ban-user.js';
import { FakeClock } from './fake-clock.js';
import { SimLndClient, SimLndNode, decodeCached, short, type OpOutcome, type PayOutcome } from './sim-lnd.js';
import { FixedPriceService, testSettings } from './test-context.js';

// ---- commands ------------------------------------------------------------------------------------

export type JobName =
  | 'expire-pending-orders'
  | 'rating-events'
  | 'waiting-timeouts'
  | 'payout-retries'
  | 'dev-fee'
  | 'payout-reconcile'
  | 'escrow-deadline'
  | 'book-sync';

export const JOB_LIST: readonly JobName[] = [
  'expire-pending-orders',
  'rating-events',
  'waiting-timeouts',
  'payout-retries',
  'dev-fee',
  'payout-reconcile',
  'escrow-deadline',
  'book-sync',
];

export type Side = 'maker' | 'taker';

/** One step of a schedule. `o` picks an order (index modulo the orders created so far). */
export type SimCommand =
  | { t: 'new'; kind: 'sell' | 'buy'; range?: boolean }
  | { t: 'take'; o: number; withInvoice: boolean; addr?: boolean }
  | { t: 'add-invoice'; o: number; addr?: boolean }
  | { t: 'pay-escrow'; o: number }
  | { t: 'fiat-sent'; o: number }
  | { t: 'release'; o: number }
  | { t: 'cancel'; o: number; side: Side }
  | { t: 'dispute'; o: number; side: Side }
  | { t: 'admin-take'; o: number }
  | { t: 'admin-settle'; o: number }
  | { t: 'admin-cancel'; o: number }
  | { t: 'add-solver' }
  | { t: 'solver-take'; o: number }
  | { t: 'solver-settle'; o: number }
  | { t: 'solver-cancel'; o: number }
  | { t: 'ban'; o: number; side: Side }
  | { t: 'unban'; o: number; side: Side }
  | { t: 'job'; name: JobName }
  | { t: 'progress'; o: number; choice: number }
  | { t: 'op'; pick: number; outcome: OpOutcome; pay: PayOutcome }
  | { t: 'run'; n: number }
  | { t: 'dup-update'; pick: number }
  | { t: 'finish-payment'; pick: number; ok: boolean }
  | { t: 'time'; seconds: number }
  | { t: 'blocks'; n: number }
  | { t: 'relay'; up: boolean }
  | { t: 'link'; up: boolean }
  | { t: 'routes'; pay: PayOutcome }
  | { t: 'lnurl-stale' }
  | { t: 'crash'; bits: number }
  | { t: 'power-cut'; bits: number }
  | { t: 'cut'; k: number; applied: boolean; bits: number };

export function describeCommand(c: SimCommand): string {
  switch (c.t) {
    case 'new':
      return `new-${c.kind}${c.range === true ? '-range' : ''}`;
    case 'take':
      return `take(o${c.o}${c.addr === true ? '+addr' : c.withInvoice ? '+inv' : ''})`;
    case 'add-invoice':
      return `add-invoice(o${c.o}${c.addr === true ? '+addr' : ''})`;
    case 'routes':
      return `routes(${c.pay})`;
    case 'add-solver':
      return 'add-solver';
    case 'lnurl-stale':
      return 'lnurl-stale';
    case 'progress':
      return `progress(o${c.o},${c.choice})`;
    case 'run':
      return `run(${c.n})`;
    case 'op':
      return `op(#${c.pick},${c.outcome}${c.pay !== 'succeed' ? `,pay=${c.pay}` : ''})`;
    case 'dup-update':
      return `dup-update(#${c.pick})`;
    case 'finish-payment':
      return `finish-payment(#${c.pick},${c.ok ? 'ok' : 'fail'})`;
    case 'job':
      return `job(${c.name})`;
    case 'time':
      return `time(+${c.seconds}s)`;
    case 'blocks':
      return `blocks(+${c.n})`;
    case 'relay':
      return `relay(${c.up ? 'up' : 'down'})`;
    case 'link':
      return `link(${c.up ? 'up' : 'down'})`;
    case 'crash':
      return `crash(${c.bits.toString(2)})`;
    case 'power-cut':
      return `power-cut(${c.bits.toString(2)})`;
    case 'cut':
      return `cut(${c.k},${c.applied ? 'apply' : 'drop'},${c.bits.toString(2)})`;
    case 'cancel':
    case 'dispute':
    case 'ban':
    case 'unban':
      return `${c.t}(o${c.o},${c.side})`;
    default:
      return `${c.t}(o${c.o})`;
  }
}

// ---- parties, invoices ---------------------------------------------------------------------------

interface Keys {
  secretKey: Uint8Array;
  pubkey: string;
}

const KEY_CACHE = new Map<string, Keys>();

/** Deterministic key pairs (cached: every world uses the same ones). */
function keysFrom(n: number, salt: number): Keys {
  const cached = KEY_CACHE.get(`${salt}:${n}`);
  if (cached !== undefined) return cached;
  const keys = deriveKeys(n, salt);
  KEY_CACHE.set(`${salt}:${n}`, keys);
  return keys;
}

function deriveKeys(n: number, salt: number): Keys {
  const sk = new Uint8Array(32);
  sk[0] = 0x11;
  sk[28] = salt & 0xff;
  sk[29] = (n >> 16) & 0xff;
  sk[30] = (n >> 8) & 0xff;
  sk[31] = n & 0xff;
  return { secretKey: sk, pubkey: getPublicKey(sk) };
}

const BOLT11_REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] };
const PAYEE_KEY = '66'.repeat(32);
/** Every world starts its clock here (pooled invoices are dated from it). */
export const SIM_START = 1_700_000_000;

function makeInvoice(sats: number | null, description: string, descriptionHash?: string): string {
  const tags = [
    { tagName: 'payment_hash', data: bytesToHex(new Uint8Array(randomBytes(32))) },
    { tagName: 'payment_secret', data: bytesToHex(new Uint8Array(randomBytes(32))) },
    descriptionHash !== undefined ? { tagName: 'purpose_commit_hash', data: descriptionHash } : { tagName: 'description', data: description },
    { tagName: 'expire_time', data: 30 * 86_400 },
    { tagName: 'min_final_cltv_expiry', data: 18 },
  ];
  const unsigned = bolt11.encode({
    network: BOLT11_REGTEST,
    timestamp: SIM_START,
    ...(sats !== null ? { satoshis: sats } : {}),
    tags,
  } as unknown as bolt11.PaymentRequestObject);
  const pr = bolt11.sign(unsigned, PAYEE_KEY).paymentRequest;
  if (pr === undefined) throw new Error('bolt11 signing failed');
  decodeCached(pr);
  return pr;
}

/** Signed invoices shared by all worlds (each world has its own node, so reuse across worlds is safe). */
class InvoicePool {
  private readonly pools = new Map<string, string[]>();

  /** `descriptionHash` (an `h` field instead of the description) must be the same for every call with `key`. */
  get(key: string, index: number, sats: number | null, description: string, descriptionHash?: string): string {
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = [];
      this.pools.set(key, pool);
    }
    while (pool.length <= index) pool.push(makeInvoice(sats, description, descriptionHash));
    return pool[index]!;
  }
}

const POOL = new InvoicePool();

/** Seconds a power cut keeps the node down (the machine reboots before the daemon starts again). */
const REBOOT_SECONDS = 30;

// ---- template database ---------------------------------------------------------------------------

let templateFile: string | null = null;

/** Worlds live in RAM when the machine has /dev/shm (a simulated crash is a process crash, not a power cut). */
function simTmpBase(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * No fsync on commit: a simulated crash kills the process, never the machine, so every committed
 * write survives it either way — only the cost of syncing is saved.
 */
function noSync(db: Db): void {
  (db as unknown as { sqlite: { pragma(p: string): unknown } }).sqlite.pragma('synchronous = OFF');
}

async function templateDb(): Promise<string> {
  if (templateFile !== null) return templateFile;
  const dir = mkdtempSync(join(simTmpBase(), 'mostrod-sim-template-'));
  const file = join(dir, 'template.db');
  const db = await openDatabase(file);
  await db.destroy();
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  templateFile = file;
  return file;
}

// ---- outbox --------------------------------------------------------------------------------------

export interface SentRecord {
  step: number;
  proc: number;
  to: string;
  action: Action;
  orderId: string | null;
  requestId: bigint | null;
  payload: Payload | null;
  /** delivered to the relay / still queued / lost with the process queue at a crash. */
  fate: 'delivered' | 'queued' | 'lost';
  /** A stored notice's event id (the relay keeps one copy of an event: a repeat is not recorded). */
  eventId?: string;
  /** The stored notice, finished (`done`) once the relay has its event. */
  notice?: DurableNotice;
}

class SimOutbox implements Outbox {
  private readonly createdAts = new CreatedAtClock();

  constructor(
    private readonly world: SimWorld,
    private readonly proc: number,
    /** The process's durability barrier (power-cut worlds): a message leaves once its commits are synced. */
    private readonly durable: DurableFn = () => null,
  ) {}

  sendMessage(recipient: string, message: Message, opts?: SendOptions): void {
    const notice = opts?.notice;
    if (notice !== undefined && this.world.volatileNotices) notice.done();
    else if (notice !== undefined) {
      void this.sendNotice(recipient, message, notice).catch(() => undefined);
      return;
    }
    this.gated(() => this.record(recipient, message));
  }

  /** Run `fn` once the durability barrier allows a hand-off, unless the process died first. */
  private gated(fn: () => void): void {
    // A process that died at a commit (`cut`) may still have tasks running: they reach nobody.
    if (!this.world.isLive(this.proc)) return;
    const wait = this.durable();
    if (wait === null) {
      fn();
      return;
    }
    // Gated like the relay outbox: a process that dies first never sends it.
    void wait.then(
      () => {
        if (this.world.isLive(this.proc)) fn();
      },
      () => undefined,
    );
  }

  /**
   * A stored notice, as the relay outbox sends it: the event an earlier attempt recorded, or a new
   * one recorded first (`wrapped`); the relay keeps one copy per event id.
   */
  private async sendNotice(recipient: string, message: Message, notice: DurableNotice): Promise<void> {
    let event = notice.event;
    if (event === null) {
      this.world.noticeEvents += 1;
      const id = `sim-notice-${this.world.noticeEvents}`;
      event = { id, pubkey: recipient, created_at: this.world.clock.now(), kind: 1059, tags: [], content: '', sig: id };
      await notice.wrapped(event);
      if (!this.world.isLive(this.proc)) return;
    }
    const eventId = event.id;
    this.gated(() => {
      if (this.world.sent.some((r) => r.eventId === eventId && r.fate === 'delivered')) {
        notice.done(); // the relay answers a repeat with OK (duplicate) and sends it to nobody
        return;
      }
      const rec = this.record(recipient, message, eventId);
      if (rec.fate === 'delivered') notice.done();
      else rec.notice = notice;
    });
  }

  private record(recipient: string, message: Message, eventId?: string): SentRecord {
    const rec: SentRecord = {
      step: this.world.stepNo,
      proc: this.proc,
      to: recipient,
      action: message.kind.action,
      orderId: message.kind.id ?? null,
      requestId: message.kind.request_id,
      payload: message.kind.payload,
      fate: this.world.relayUp ? 'delivered' : 'queued',
      ...(eventId !== undefined ? { eventId } : {}),
    };
    this.world.sent.push(rec);
    return rec;
  }

  /**
   * Events as the relay outbox publishes them: created_at strictly increasing per coordinate
   * (created-at.ts, this process's memory plus what `rememberCreatedAt` restored), the real id,
   * handed to the relay once the durability barrier allows it (queued while the relay is down, lost
   * with the process). A relay that takes an order event answers OK (`onOutcome(true)`); the
   * change-log deletes that starts are written when the `book-sync` job runs (this world's
   * OrderChangeAcks never fires its timer).
   */
  publish(template: EventTemplate, opts?: PublishOptions): Promise<string> {
    const event = this.prepare(template);
    opts?.onCreatedAt?.(event.created_at);
    this.publishPrepared(event, opts);
    return Promise.resolve(event.id);
  }

  prepare(template: EventTemplate): PreparedEvent {
    const createdAt = this.createdAts.reserve(template.kind, template.tags, template.created_at ?? this.world.clock.now());
    const id = getEventHash({ pubkey: this.world.nodePubkey, created_at: createdAt, kind: template.kind, tags: template.tags, content: template.content });
    return { id, kind: template.kind, tags: template.tags, content: template.content, created_at: createdAt };
  }

  publishPrepared(event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>): void {
    this.world.publishedCount += 1;
    this.gated(() => this.world.relayEvent({ event, proc: this.proc, onOutcome: opts?.onOutcome }));
  }

  rememberCreatedAt(kind: number, d: string, createdAt: number): void {
    this.createdAts.remember(kind, d, createdAt);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }
}

/** The outbox without prepare/publishPrepared (WorldOptions.writeAhead false). */
function publishOnly(inner: SimOutbox): Outbox {
  return {
    sendMessage: (recipient, message, opts) => inner.sendMessage(recipient, message, opts),
    publish: (template, opts) => inner.publish(template, opts),
    rememberCreatedAt: (kind, d, createdAt) => inner.rememberCreatedAt(kind, d, createdAt),
    flush: () => inner.flush(),
  };
}

// ---- LNURL (dev fund) ----------------------------------------------------------------------------

class SimLnurl implements LnurlResolver {
  /** `startedAt`: the process's start (sim time), the daemon's `issuedNotBefore`. */
  constructor(
    private readonly world: SimWorld,
    private readonly startedAt: number,
  ) {}

  check(_target: string, _amountSats?: number): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The provider's answer (simulated), then the daemon's own checks of it (`verifyLnurlInvoice`, as
   * HttpLnurlResolver runs them): among them, that the invoice commits to the target's metadata.
   */
  resolveInvoice(target: string, amountSats: number, opts?: ResolveInvoiceOptions): Promise<string> {
    const metadata = this.world.lnurlMetadata(target);
    const m = /^o(\d+)@sim\.test$/.exec(target);
    let pr: string;
    if (m !== null) pr = this.world.resolveBuyerAddress(Number(m[1]), amountSats);
    else {
      const h = sha256Hex(metadata);
      pr = POOL.get(`devfee:${amountSats}:${h}`, this.world.devFeeInvoices.length, amountSats, `dev fee ${amountSats}`, h);
      this.world.devFeeInvoices.push(pr);
      this.world.devFeeHashes.add(decodeCached(pr).hash);
    }
    // When the provider first handed this invoice out, in sim time (the pooled invoices' own
    // timestamps are not the world's clock): the daemon's freshness rule runs on it.
    const issuedAt = this.world.lnurlIssuedAt.get(pr) ?? this.world.clock.now();
    this.world.lnurlIssuedAt.set(pr, issuedAt);
    try {
      verifyLnurlInvoice(pr, amountSats, metadata, opts);
      if (this.world.lnurlFreshness) assertIssuedNotBefore(issuedAt, this.startedAt);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return Promise.resolve(pr);
  }
}

// ---- world ---------------------------------------------------------------------------------------

export interface SimOrder {
  n: number;
  kind: 'sell' | 'buy';
  maker: Keys;
  taker: Keys;
  seller: Keys;
  buyer: Keys;
  id: string | null;
  /** Buyer invoices handed in for this order (payment hash → bolt11). */
  invoices: Map<string, string>;
  /** Escrow hashes the seller was asked to pay (from pay-invoice messages). */
  escrows: string[];
  /** Settle decisions the harness sent (release by the seller, admin-settle by the admin). */
  decisions: string[];
  /**
   * A range order (fiat 5–30 USD at market price, taken for 10): the maker names `next` as its next
   * trade key (a sell maker in release, a buy maker in fiat-sent) and the daemon creates the
   * remainder (5–20) as a child order for it when the trade is released.
   */
  range: boolean;
  next: Keys;
}

/** The event the relay keeps for an order. */
interface BookEntry {
  id: string;
  createdAt: number;
  /** The `s` tag. */
  status: string;
  proc: number;
  step: number;
}

interface QueuedEvent {
  event: PreparedEvent;
  proc: number;
  onOutcome: ((accepted: boolean) => void) | undefined;
}

/** OrderChangeAcks's batch delay here: never (the `book-sync` job writes the batch). */
const ACKS_NEVER_TIMED = 2_000_000_000;

interface LogRecord {
  proc: number;
  level: number;
  msg: string;
  orderId?: string;
}

interface Proc {
  n: number;
  ctx: AppContext;
  client: SimLndClient;
  db: Db;
  devFeeState: DevFeeState;
  running: Set<Promise<unknown>>;
  jobs: Map<JobName, Promise<unknown>>;
  bookSync: BookSyncState;
  dead: boolean;
  /** Crash points at its commits (`cut`): armed by the schedule, fired by its k-th commit. */
  cuts: CommitCuts;
  /**
   * Power-cut worlds: the fdatasyncs in flight, oldest first (up to two: durability.ts); the oldest
   * completes at the start of the next step, or in drain.
   */
  syncs: Array<() => void>;
}

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

const TERMINAL_NOTICES: readonly Action[] = [
  'purchase-completed',
  'released',
  'hold-invoice-payment-settled',
  'admin-settled',
  'admin-canceled',
  'cooperative-cancel-accepted',
];
const CANCEL_NOTICES: readonly Action[] = ['canceled', 'admin-canceled', 'cooperative-cancel-accepted'];
const HELD_OK: readonly Status[] = ['waiting-buyer-invoice', 'active', 'fiat-sent', 'dispute'];
/** Range orders (SimOrder.range): bounds in fiat, and what the taker takes (the remainder 5–20 stays a range). */
const RANGE_MIN = 5n;
const RANGE_MAX = 30n;
const RANGE_TAKE = 10n;

export interface WorldOptions {
  /** Log every step (debugging a shrunk schedule). */
  trace?: boolean;
  /**
   * Invariants (by name, as in the violation message) to record instead of throwing — only to explore
   * past a finding that is already reported (SIM_SKIP in docs/SIMULATION.md).
   */
  skip?: readonly string[];
  /**
   * Durability as the daemon runs it (src/db/durability.ts): commits are not synced when made; the
   * barrier gates Lightning calls and messages on a sync of them. A sync in flight completes at the
   * start of the next step (in drain as needed) — unless that step is a `power-cut`, which loses
   * every commit after the last completed sync. Off: every commit is durable when made.
   */
  powerCuts?: boolean;
  /** Power-cut worlds only: these effects do NOT wait for the barrier (proves the checker sees it). */
  ungated?: 'lightning' | 'messages';
  /**
   * Stored notices behave as before the durable outbox: finished (row deleted) as they are queued,
   * so one lost with its process is never sent again (proves the checker sees finding F9).
   */
  volatileNotices?: boolean;
  /** false: the daemon without the LNURL freshness rule (shows finding F10s). Default true. */
  lnurlFreshness?: boolean;
  /**
   * The metadata the LNURL provider serves, to which its invoices commit (`h`). `per-address`
   * (default): it names the address, as LUD-16 requires, so an invoice handed to another address
   * (lnurl-stale) fails the daemon's LUD-06 check. `shared`: one metadata for every address (a bare
   * LNURL-pay service may do that), so a stale invoice of another order passes that check and only
   * the daemon's records of earlier resolutions can refuse it (findings F5, F6).
   */
  lnurlMetadata?: 'per-address' | 'shared';
  /**
   * false: a restarted process does not learn its predecessor's order event times from the
   * publication ledger (the daemon before session 34; shows finding F15). Default true.
   */
  restoreEventTimes?: boolean;
  /**
   * 'before': the change log's status trigger as before session 34 (a change to a status with no
   * public event replaces the order's lagging public change; shows finding F15).
   */
  bookLagTrigger?: 'before';
  /** false: no dispute change log (its triggers dropped): a dispute event is published once (shows F17). */
  disputeChangeLog?: boolean;
  /**
   * false: the outbox cannot prepare events, so the publication ledger records an event after
   * handing it to the relay, as before session 35 (shows F18 with `cut`). Default true.
   */
  writeAhead?: boolean;
}

/** The change log's status trigger of migration 20261204000000 (replaced by 20261210000000). */
const STATUS_TRIGGER_BEFORE_S34 = `
DROP TRIGGER IF EXISTS mostrod_ts_order_changes_on_status;
CREATE TRIGGER mostrod_ts_order_changes_on_status AFTER UPDATE OF status ON orders
WHEN NEW.status IS NOT OLD.status
BEGIN
    INSERT OR REPLACE INTO mostrod_ts_order_changes (order_id, status) VALUES (NEW.id, NEW.status);
END;`;

export class SimWorld {
  readonly clock = new FakeClock(SIM_START);
  readonly node = new SimLndNode(this.clock);
  readonly sent: SentRecord[] = [];
  readonly logs: LogRecord[] = [];
  readonly orders: SimOrder[] = [];
  readonly devFeeInvoices: string[] = [];
  readonly devFeeHashes = new Set<string>();
  /** Identity keys the operator banned at some step (ops/ban-user.ts; unbanned later or not). */
  readonly everBanned = new Set<string>();
  publishedCount = 0;
  relayUp = true;
  /** The relay's order book: per order (`d`), the kind-38383 event it keeps (NIP-01: newest, then lowest id). */
  readonly book = new Map<string, BookEntry>();
  /** The same for disputes: per dispute (`d`), the kind-38386 event the relay keeps. */
  readonly disputeBook = new Map<string, BookEntry>();
  /** Events handed to the relay while it was down (sent when it comes back, lost with their process). */
  private queuedEvents: QueuedEvent[] = [];
  get volatileNotices(): boolean {
    return this.opts.volatileNotices === true;
  }
  /** The daemon's LNURL freshness rule (src/lightning/lnurl.ts issuedNotBefore); off = before session 32. */
  get lnurlFreshness(): boolean {
    return this.opts.lnurlFreshness !== false;
  }
  /** When (sim time) the LNURL provider first handed out each invoice. */
  readonly lnurlIssuedAt = new Map<string, number>();
  /** Stored-notice events made so far (their ids). */
  noticeEvents = 0;
  /** What sendPayment ops completed by `run` (and by quiescence: always succeed) end with. */
  routes: PayOutcome = 'succeed';
  /** The next Lightning-address resolution returns the invoice last resolved for another order. */
  private staleLnurl = false;
  private lastLnurl: { order: number; pr: string } | null = null;
  stepNo = 0;
  private proc!: Proc;
  private procCount = 0;
  /** The armed cut's bits (what its process's pending Lightning calls do when it dies). */
  private cutBits = 0;
  /** Processes that died at a commit (`cut`). */
  cutsFired = 0;
  /** Power-cut worlds: the database file as the last completed sync left it on disk. */
  private diskImage: Buffer | null = null;
  private buyerInvoiceCount = 0;
  /** Address invoices issued so far per pool key (the pool index of the next one). */
  private readonly addressInvoiceCount = new Map<string, number>();
  private requestCount = 0;
  /** request_id → the key that sent it (a notice answering its own sender's request is a reply). */
  private readonly requests = new Map<bigint, string>();
  private readonly keys: MostroKeys;
  /** A solver the admin may add (admin-add-solver) who then takes and decides disputes. */
  private readonly solver = keysFrom(0, 0x50);
  private readonly settings = testSettings({
    mostro: { fee: 0.006, dev_fee_lightning_address: 'devfund@sim.test' },
    lightning: { escrow_deadline_margin_blocks: 24, payment_timeout_seconds: 10 },
  });
  private readonly prices = new FixedPriceService(this.clock, { USD: 50_000 });
  readonly trace: string[] = [];
  /** The schedule as executed, with every `progress` resolved to its concrete move (stable to replay). */
  readonly explicit: string[] = [];
  /** Violations of skipped invariants (see WorldOptions.skip). */
  readonly skipped: string[] = [];
  /** Messages before this index were looked at by adoptChildren. */
  private adoptScan = 0;

  private constructor(
    private readonly dir: string,
    private readonly file: string,
    private readonly opts: WorldOptions,
  ) {
    this.keys = keysFrom(0, 0xad);
    this.settings.nostr.nsec_privkey = bytesToHex(this.keys.secretKey);
  }

  static async create(opts: WorldOptions = {}): Promise<SimWorld> {
    const dir = mkdtempSync(join(simTmpBase(), 'mostrod-sim-'));
    const file = join(dir, 'mostro.db');
    copyFileSync(await templateDb(), file);
    const w = new SimWorld(dir, file, opts);
    await w.boot();
    return w;
  }

  get nodePubkey(): string {
    return this.keys.pubkey;
  }

  /** An event reaches the relay (or waits for it: relay down). */
  relayEvent(q: QueuedEvent): void {
    if (!this.relayUp) {
      this.queuedEvents.push(q);
      return;
    }
    const { event } = q;
    const book = event.kind === ORDER_EVENT_KIND ? this.book : event.kind === DISPUTE_EVENT_KIND ? this.disputeBook : null;
    if (book !== null) {
      const d = event.tags.find((t) => t[0] === 'd')?.[1];
      const status = event.tags.find((t) => t[0] === 's')?.[1];
      if (d !== undefined && status !== undefined) {
        const cur = book.get(d);
        // NIP-01 addressable events: the newest created_at; on a tie, the lowest id.
        if (cur === undefined || event.created_at > cur.createdAt || (event.created_at === cur.createdAt && event.id < cur.id)) {
          book.set(d, { id: event.id, createdAt: event.created_at, status, proc: q.proc, step: this.stepNo });
        }
      }
    }
    // The relay answers OK whether it keeps the event or an newer one it has.
    q.onOutcome?.(true);
  }

  get ctx(): AppContext {
    return this.proc.ctx;
  }

  /** Process `n` is the running one. */
  isLive(n: number): boolean {
    return this.proc.n === n && !this.proc.dead;
  }

  async dispose(): Promise<void> {
    this.proc.dead = true;
    this.proc.client.dead = true;
    await this.proc.db.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private makeLogger(procNo: number): Logger {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        // A process fenced by a cut logs nothing more (it is dead; its tasks only see their writes fail).
        if (this.proc === undefined || (this.proc.n === procNo && !this.proc.dead)) {
          try {
            const j = JSON.parse(chunk.toString()) as { level: number; msg: string; orderId?: string };
            this.logs.push({ proc: procNo, level: j.level, msg: j.msg, ...(j.orderId !== undefined ? { orderId: j.orderId } : {}) });
          } catch {
            // not JSON: ignore
          }
        }
        cb();
      },
    });
    return pino({ level: 'warn' }, sink);
  }

  private async boot(): Promise<void> {
    this.procCount += 1;
    const n = this.procCount;
    // The process dies at an armed cut: fenced at once (its writes fail, Lightning and the relays
    // hear nothing more from it), restarted when the step ends (apply).
    const cuts = new CommitCuts(() => {
      this.proc.dead = true;
      this.proc.client.dead = true;
    });
    const db = await openDatabase(this.file, { wrapDriver: cuts.wrap });
    noSync(db);
    // Before the durable outbox there were no stored notices to find after a restart.
    if (this.opts.volatileNotices === true) (db as unknown as { sqlite: Database }).sqlite.exec('DELETE FROM mostrod_ts_notices');
    if (this.opts.bookLagTrigger === 'before') (db as unknown as { sqlite: Database }).sqlite.exec(STATUS_TRIGGER_BEFORE_S34);
    if (this.opts.disputeChangeLog === false) {
      (db as unknown as { sqlite: Database }).sqlite.exec(
        'DROP TRIGGER IF EXISTS mostrod_ts_dispute_changes_on_insert; DROP TRIGGER IF EXISTS mostrod_ts_dispute_changes_on_status; DELETE FROM mostrod_ts_dispute_changes',
      );
    }
    const client = new SimLndClient(this.node, `p${n}`);
    // Power-cut worlds: the disk holds what the last completed sync covered. At boot that is the
    // whole file (the daemon fdatasyncs the WAL when it opens the database).
    let durable: DurableFn = () => null;
    const syncSlot: { set: (done: () => void) => void } = { set: () => undefined };
    if (this.opts.powerCuts === true) {
      const sqlite = (db as unknown as { sqlite: Database }).sqlite;
      this.diskImage = sqlite.serialize();
      const barrier = new WalBarrier({
        counter: sqliteChangeCounter(sqlite),
        sync: () =>
          new Promise<void>((resolve) => {
            // What reaches the disk: the database as committed when the sync starts.
            const image = sqlite.serialize();
            syncSlot.set(() => {
              this.diskImage = image;
              resolve();
            });
          }),
      });
      durable = barrier.durable;
    }
    const ctx: AppContext = {
      settings: this.settings,
      db,
      lightning: this.opts.ungated === 'lightning' ? client : new DurableLightning(client, durable),
      lnurl: new SimLnurl(this, this.clock.now()),
      // As the daemon: the publication ledger records every order event (restoreOrderEventTimes).
      outbox: new PublicationLedgerOutbox(
        this.opts.writeAhead === false
          ? publishOnly(new SimOutbox(this, n, this.opts.ungated === 'messages' ? () => null : durable))
          : new SimOutbox(this, n, this.opts.ungated === 'messages' ? () => null : durable),
        db,
        this.clock,
        this.makeLogger(n),
      ),
      prices: this.prices,
      keys: this.keys,
      clock: this.clock,
      logger: this.makeLogger(n),
      locks: new KeyedLock(),
      tasks: new TaskTracker(),
      orderChangeAcks: new OrderChangeAcks(db, this.makeLogger(n), ACKS_NEVER_TIMED),
      bans: new BanList(),
      unrated: new UnratedBudgets(),
    };
    const proc: Proc = { n, ctx, client, db, devFeeState: newDevFeeState(), running: new Set(), jobs: new Map(), bookSync: newBookSyncState(), dead: false, cuts, syncs: [] };
    syncSlot.set = (done) => {
      proc.syncs.push(done);
    };
    this.proc = proc;
    // As the daemon, before the first request: the banned identities (app/bans.ts).
    await ctx.bans.load(db);
    // As the daemon, before anything is published.
    if (this.opts.restoreEventTimes !== false) await restoreOrderEventTimes(db, ctx.outbox, this.clock.now());
    // As the daemon: reconcile with the node as soon as it is up (escrows re-watched the first time
    // only: the backend re-subscribes its own watches after a reconnect), one reconciliation at a time,
    // while requests already flow.
    let reconciling: Promise<unknown> | null = null;
    let first = true;
    const reconcile = () => {
      if (reconciling !== null || proc.dead) return;
      const rewatchEscrows = first;
      first = false;
      reconciling = this.spawn(bootReconcile(ctx, { rewatchEscrows, devFeeState: proc.devFeeState })).finally(() => {
        reconciling = null;
      });
    };
    client.onStateChange((state) => {
      if (state === 'up') reconcile();
    });
    reconcile();
    await this.flush();
  }

  private spawn(p: Promise<unknown>): Promise<unknown> {
    const proc = this.proc;
    const tracked = p.catch((err: unknown) => {
      if (!proc.dead) this.logs.push({ proc: proc.n, level: 60, msg: `uncaught: ${String(err)}` });
    });
    proc.running.add(tracked);
    void tracked.finally(() => proc.running.delete(tracked));
    return tracked;
  }

  /** Let every piece of work run until it waits on a pending Lightning op. */
  async flush(): Promise<void> {
    await new Promise((r) => setImmediate(r));
  }

  private livePending() {
    return this.node.pending.filter((op) => op.client === this.proc.client);
  }

  // ---- requests ----------------------------------------------------------------------------------

  private inbound(k: Keys): Inbound {
    return { identity: k.pubkey, tradeKey: k.pubkey, createdAt: this.clock.now(), eventId: '', fullPrivacy: true };
  }

  private send(from: Keys, action: Action, id: string | undefined, payload: Payload | null = null): void {
    this.requestCount += 1;
    const requestId = BigInt(this.requestCount);
    this.requests.set(requestId, from.pubkey);
    const msg = buildMessage({ action, ...(id !== undefined ? { id } : {}), requestId, tradeIndex: null, payload });
    void this.spawn(dispatch(this.proc.ctx, msg, this.inbound(from)));
  }

  private pickOrder(o: number): SimOrder | null {
    const live = this.orders.filter((x) => x.id !== null);
    if (live.length === 0) return null;
    return live[o % live.length]!;
  }

  /** The LUD-06 metadata the LNURL provider serves for `target` (see `lnurlMetadata` in the options). */
  lnurlMetadata(target: string): string {
    return this.opts.lnurlMetadata === 'shared'
      ? JSON.stringify([['text/plain', 'sim LNURL provider']])
      : JSON.stringify([
          ['text/plain', `pay ${target}`],
          ['text/identifier', target],
        ]);
  }

  /** The buyer's LNURL provider (address `o<n>@sim.test`): a fresh invoice, or a stale one (lnurl-stale). */
  resolveBuyerAddress(n: number, amountSats: number): string {
    const order = this.orders.find((x) => x.n === n);
    if (this.staleLnurl && this.lastLnurl !== null && this.lastLnurl.order !== n) {
      this.staleLnurl = false;
      return this.lastLnurl.pr;
    }
    const h = sha256Hex(this.lnurlMetadata(`o${n}@sim.test`));
    const key = `buyer-ln:${amountSats}:${h}`;
    const index = this.addressInvoiceCount.get(key) ?? 0;
    this.addressInvoiceCount.set(key, index + 1);
    const pr = POOL.get(key, index, amountSats, 'buyer payout (address)', h);
    order?.invoices.set(decodeCached(pr).hash, pr);
    this.lastLnurl = { order: n, pr };
    return pr;
  }

  private buyerTarget(order: SimOrder, addr: boolean | undefined): string {
    return addr === true ? `o${order.n}@sim.test` : this.freshBuyerInvoice(order);
  }

  private freshBuyerInvoice(order: SimOrder): string {
    const pr = POOL.get('buyer', this.buyerInvoiceCount++, null, 'buyer payout');
    order.invoices.set(decodeCached(pr).hash, pr);
    return pr;
  }

  private async newOrder(kind: 'sell' | 'buy', range: boolean): Promise<void> {
    const n = this.orders.length + 1;
    const maker = keysFrom(n, 1);
    const taker = keysFrom(n, 2);
    const order: SimOrder = {
      n,
      kind,
      maker,
      taker,
      seller: kind === 'sell' ? maker : taker,
      buyer: kind === 'sell' ? taker : maker,
      id: null,
      invoices: new Map(),
      escrows: [],
      decisions: [],
      range,
      next: keysFrom(n, 3),
    };
    this.orders.push(order);
    const before = new Set((await findOrders(this.proc.ctx.db, {})).map((r) => r.id));
    const small = {
      kind,
      status: 'pending' as const,
      amount: range ? 0n : 10_000n,
      fiat_code: 'USD',
      min_amount: range ? RANGE_MIN : null,
      max_amount: range ? RANGE_MAX : null,
      fiat_amount: range ? 0n : 100n,
      payment_method: 'cash',
      premium: 0n,
      created_at: 0n,
      expires_at: null,
    };
    this.send(maker, 'new-order', undefined, { order: small });
    await this.flush();
    const created = (await findOrders(this.proc.ctx.db, {})).filter((r) => !before.has(r.id));
    if (created.length === 1) order.id = created[0]!.id;
  }

  async apply(c: SimCommand): Promise<void> {
    this.stepNo += 1;
    this.node.step = this.stepNo;
    // Time passes between steps: the oldest sync in flight completes, unless the power is cut first.
    if (c.t !== 'power-cut') await this.completeSync();
    if (this.opts.trace === true) this.trace.push(`${this.stepNo}: ${describeCommand(c)} | pending: ${this.livePending().map((p) => p.label).join(', ')}`);
    await this.exec(c);
    await this.flush();
    await this.restartIfCut();
    this.collectEscrows();
  }

  /** The process died at a commit (`cut`): it restarts as after `crash`. */
  private async restartIfCut(): Promise<void> {
    if (!this.proc.cuts.fired) return;
    this.cutsFired += 1;
    await this.crash(this.cutBits);
  }

  /** The protocol's next moves for an order in `status` (progress commands pick one). */
  private nextMoves(o: number, status: Status): SimCommand[] {
    // The main path is listed several times so schedules usually go deep; every alternative stays reachable.
    const take = (withInvoice: boolean, addr = false): SimCommand => ({ t: 'take', o, withInvoice, addr });
    const cancel = (side: Side): SimCommand => ({ t: 'cancel', o, side });
    const dispute = (side: Side): SimCommand => ({ t: 'dispute', o, side });
    switch (status) {
      case 'pending':
        return [take(true), take(true), take(false), take(true, true), take(true), cancel('maker')];
      case 'waiting-payment':
        return [{ t: 'pay-escrow', o }, { t: 'pay-escrow', o }, { t: 'pay-escrow', o }, { t: 'pay-escrow', o }, cancel('maker'), cancel('taker')];
      case 'waiting-buyer-invoice':
        return [{ t: 'add-invoice', o }, { t: 'add-invoice', o }, { t: 'add-invoice', o, addr: true }, cancel('maker'), cancel('taker')];
      case 'active':
        return [{ t: 'fiat-sent', o }, { t: 'fiat-sent', o }, { t: 'fiat-sent', o }, cancel('maker'), cancel('taker'), dispute('taker')];
      case 'fiat-sent':
        return [{ t: 'release', o }, { t: 'release', o }, { t: 'release', o }, dispute('maker'), dispute('taker'), cancel('maker'), cancel('taker')];
      case 'dispute':
        return [
          { t: 'admin-take', o },
          { t: 'admin-settle', o },
          { t: 'admin-cancel', o },
          { t: 'admin-take', o },
          { t: 'release', o },
          cancel('maker'),
          { t: 'add-solver' },
          { t: 'solver-take', o },
          { t: 'solver-settle', o },
          { t: 'solver-cancel', o },
        ];
      case 'settled-hold-invoice':
        return [{ t: 'add-invoice', o }, { t: 'add-invoice', o, addr: true }, { t: 'job', name: 'payout-retries' }, { t: 'job', name: 'payout-reconcile' }];
      default:
        return [{ t: 'job', name: 'dev-fee' }, { t: 'job', name: 'payout-reconcile' }, { t: 'job', name: 'escrow-deadline' }];
    }
  }

  private async exec(c: SimCommand): Promise<void> {
    if (c.t !== 'progress') this.explicit.push(describeCommand(c));
    switch (c.t) {
      case 'progress': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        const row = await getOrder(this.proc.ctx.db, o.id!);
        if (row === undefined) break;
        const moves = this.nextMoves(c.o, row.status);
        const move = moves[c.choice % moves.length]!;
        if (this.opts.trace === true) this.trace.push(`   -> ${describeCommand(move)} (o${o.n} is ${row.status})`);
        await this.exec(move);
        break;
      }
      case 'run': {
        for (let i = 0; i < c.n; i += 1) {
          const ops = this.livePending();
          if (ops.length === 0) break;
          this.node.complete(ops[0]!, 'ok', this.routes);
          await this.flush();
        }
        break;
      }
      case 'routes':
        this.routes = c.pay;
        break;
      case 'link':
        this.proc.client.setLink(c.up ? 'up' : 'down');
        break;
      case 'lnurl-stale':
        this.staleLnurl = true;
        break;
      case 'new':
        await this.newOrder(c.kind, c.range === true);
        break;
      case 'take': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        const amount = o.range ? RANGE_TAKE : null;
        if (o.kind === 'sell') {
          const payload: Payload | null =
            c.withInvoice || c.addr === true
              ? { payment_request: [null, this.buyerTarget(o, c.addr), amount] }
              : amount === null
                ? null
                : { amount };
          this.send(o.taker, 'take-sell', o.id!, payload);
        } else {
          this.send(o.taker, 'take-buy', o.id!, amount === null ? null : { amount });
        }
        break;
      }
      case 'add-invoice': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        this.send(o.buyer, 'add-invoice', o.id!, { payment_request: [null, this.buyerTarget(o, c.addr), null] });
        break;
      }
      case 'pay-escrow': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        this.collectEscrows();
        const hash = o.escrows.at(-1);
        if (hash !== undefined) this.node.payHoldInvoice(hash);
        break;
      }
      case 'fiat-sent': {
        const o = this.pickOrder(c.o);
        if (o !== null) this.send(o.buyer, 'fiat-sent', o.id!, o.range && o.kind === 'buy' ? { next_trade: [o.next.pubkey, 1] } : null);
        break;
      }
      case 'release': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        o.decisions.push(`release@${this.stepNo}`);
        this.send(o.seller, 'release', o.id!, o.range && o.kind === 'sell' ? { next_trade: [o.next.pubkey, 1] } : null);
        break;
      }
      case 'cancel': {
        const o = this.pickOrder(c.o);
        if (o !== null) this.send(c.side === 'maker' ? o.maker : o.taker, 'cancel', o.id!);
        break;
      }
      case 'dispute': {
        const o = this.pickOrder(c.o);
        if (o !== null) this.send(c.side === 'maker' ? o.maker : o.taker, 'dispute', o.id!);
        break;
      }
      case 'admin-take': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        const d = await getDisputeByOrder(this.proc.ctx.db, o.id!);
        if (d !== undefined) this.send(this.keys, 'admin-take-dispute', d.id);
        break;
      }
      case 'admin-settle': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        o.decisions.push(`admin-settle@${this.stepNo}`);
        this.send(this.keys, 'admin-settle', o.id!);
        break;
      }
      case 'admin-cancel': {
        const o = this.pickOrder(c.o);
        if (o !== null) this.send(this.keys, 'admin-cancel', o.id!);
        break;
      }
      case 'add-solver':
        this.send(this.keys, 'admin-add-solver', undefined, { text_message: this.solver.pubkey });
        break;
      case 'ban':
      case 'unban': {
        // The operator's BanUser / UnbanUser (OperatorService), racing the traders' requests.
        const o = this.pickOrder(c.o);
        if (o === null) break;
        const who = (c.side === 'maker' ? o.maker : o.taker).pubkey;
        if (c.t === 'ban') {
          this.everBanned.add(who);
          void this.spawn(banUser(this.proc.ctx, who));
        } else {
          void this.spawn(unbanUser(this.proc.ctx, who));
        }
        break;
      }
      case 'solver-take': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        const d = await getDisputeByOrder(this.proc.ctx.db, o.id!);
        if (d !== undefined) this.send(this.solver, 'admin-take-dispute', d.id);
        break;
      }
      case 'solver-settle': {
        const o = this.pickOrder(c.o);
        if (o === null) break;
        o.decisions.push(`solver-settle@${this.stepNo}`);
        this.send(this.solver, 'admin-settle', o.id!);
        break;
      }
      case 'solver-cancel': {
        const o = this.pickOrder(c.o);
        if (o !== null) this.send(this.solver, 'admin-cancel', o.id!);
        break;
      }
      case 'job':
        void this.runJob(c.name);
        break;
      case 'op': {
        const ops = this.livePending();
        if (ops.length > 0) this.node.complete(ops[c.pick % ops.length]!, c.outcome, c.pay);
        break;
      }
      case 'dup-update': {
        const ups = this.livePending().filter((op) => op.type === 'update');
        if (ups.length > 0) {
          const u = ups[c.pick % ups.length]!;
          this.node.enqueue({ client: u.client, type: 'update', label: `${u.label} (dup)`, sub: u.sub!, update: u.update! });
        }
        break;
      }
      case 'finish-payment': {
        const inflight = [...this.node.payments.values()].filter((p) => p.state === 'in_flight');
        if (inflight.length > 0) this.node.finishPayment(inflight[c.pick % inflight.length]!.hash, c.ok);
        break;
      }
      case 'time':
        this.clock.advance(c.seconds);
        this.node.tick();
        break;
      case 'blocks':
        this.node.advanceBlocks(c.n);
        break;
      case 'relay':
        this.relayUp = c.up;
        if (c.up) {
          const events = this.queuedEvents;
          this.queuedEvents = [];
          for (const q of events) if (this.isLive(q.proc)) this.relayEvent(q);
          for (const s of this.sent) {
            if (s.fate !== 'queued') continue;
            s.fate = 'delivered';
            s.notice?.done();
            delete s.notice;
          }
        }
        break;
      case 'crash':
        await this.crash(c.bits);
        break;
      case 'power-cut':
        await this.crash(c.bits, true);
        break;
      case 'cut':
        // Armed until the process's k-th commit from now (in this step or a later one), a crash
        // or quiescence; `bits`: its pending Lightning calls applied or not, as in `crash`.
        this.proc.cuts.arm({ k: c.k, applied: c.applied });
        this.cutBits = c.bits;
        break;
    }
  }

  private runJob(name: JobName): Promise<unknown> {
    const proc = this.proc;
    const running = proc.jobs.get(name);
    if (running !== undefined) return running; // a job never overlaps itself
    const ctx = proc.ctx;
    let p: Promise<unknown>;
    switch (name) {
      case 'expire-pending-orders':
        p = expirePendingOrders(ctx);
        break;
      case 'rating-events':
        p = publishQueuedEvents(ctx);
        break;
      case 'waiting-timeouts':
        p = cancelTimedOutWaitingOrders(ctx);
        break;
      case 'payout-retries':
        p = retryPayouts(ctx);
        break;
      case 'dev-fee':
        p = payDevFees(ctx, { state: proc.devFeeState });
        break;
      case 'payout-reconcile':
        p = reconcilePayoutsJob(ctx);
        break;
      case 'escrow-deadline':
        p = guardEscrowDeadlines(ctx);
        break;
      case 'book-sync':
        // The accepted publications' change-log deletes (written within 100 ms by the daemon), then
        // the every-minute pass.
        p = ctx.orderChangeAcks.flush().then(async () => {
          await republishChangedOrders(ctx, proc.bookSync);
          await republishChangedDisputes(ctx, proc.bookSync);
        });
        break;
    }
    const tracked = this.spawn(p).finally(() => proc.jobs.delete(name));
    proc.jobs.set(name, tracked);
    return tracked;
  }

  /**
   * The process dies: pending calls are applied at the node per `bits` or not, answers are lost; a
   * new process boots. `powerCut` (power-cut worlds): the machine dies too — the database comes back
   * as the last completed sync left it (the syncs in flight never complete).
   */
  async crash(bits: number, powerCut = false): Promise<void> {
    const old = this.proc;
    old.dead = true;
    old.syncs = [];
    this.node.killClient(old.client, (i) => ((bits >> (i % 24)) & 1) === 1);
    old.client.dead = true;
    for (const s of this.sent) if (s.proc === old.n && s.fate === 'queued') s.fate = 'lost';
    this.queuedEvents = this.queuedEvents.filter((q) => q.proc !== old.n);
    await old.db.destroy();
    if (powerCut && this.diskImage !== null) {
      for (const f of [`${this.file}-wal`, `${this.file}-shm`]) rmSync(f, { force: true });
      writeFileSync(this.file, this.diskImage);
    }
    // The machine reboots: time passes before the daemon is up again.
    if (powerCut) this.clock.advance(REBOOT_SECONDS);
    await this.boot();
  }

  /** Power-cut worlds: complete the oldest sync in flight (a next one may start from its completion). */
  private async completeSync(): Promise<boolean> {
    const done = this.proc.syncs.shift();
    if (done === undefined) return false;
    done();
    await this.flush();
    return true;
  }

  /** Escrow hashes from the pay-invoice messages sent to sellers. */
  /**
   * A range order's child, announced to the maker's next key (`new-order`), joins the schedule's
   * orders as a new order of that maker (so children are traded too, and their children).
   */
  private adoptChildren(): void {
    for (let i = this.adoptScan; i < this.sent.length; i += 1) {
      const m = this.sent[i]!;
      if (m.action !== 'new-order' || m.orderId === null || m.payload === null || !('order' in m.payload)) continue;
      if (this.orders.some((x) => x.id === m.orderId)) continue;
      const parent = this.orders.find((x) => x.range && x.next.pubkey === m.to);
      if (parent === undefined) continue;
      const n = this.orders.length + 1;
      const kind = m.payload.order.kind ?? parent.kind;
      const taker = keysFrom(n, 2);
      this.orders.push({
        n,
        kind,
        maker: parent.next,
        taker,
        seller: kind === 'sell' ? parent.next : taker,
        buyer: kind === 'sell' ? taker : parent.next,
        id: m.orderId,
        invoices: new Map(),
        escrows: [],
        decisions: [],
        range: m.payload.order.min_amount !== null && m.payload.order.min_amount !== undefined,
        next: keysFrom(n, 3),
      });
    }
    this.adoptScan = this.sent.length;
  }

  private collectEscrows(): void {
    this.adoptChildren();
    for (const s of this.sent) {
      if (s.action !== 'pay-invoice' || s.orderId === null || s.payload === null || !('payment_request' in s.payload)) continue;
      const pr = s.payload.payment_request[1];
      const m = /x([0-9a-f]{64})$/.exec(pr);
      const o = this.orders.find((x) => x.id === s.orderId);
      if (m === null || o === undefined) continue;
      if (!o.escrows.includes(m[1]!)) o.escrows.push(m[1]!);
    }
  }

  // ---- quiescence --------------------------------------------------------------------------------

  /** Complete every pending op (FIFO, ok) until all work of the live process is done. */
  async drain(): Promise<void> {
    let idle = 0;
    for (let guard = 0; guard < 10_000; guard += 1) {
      await this.flush();
      await this.restartIfCut();
      if (await this.completeSync()) {
        idle = 0;
        continue;
      }
      const ops = this.livePending();
      if (ops.length > 0) {
        idle = 0;
        this.node.complete(ops[0]!, 'ok');
        continue;
      }
      if (this.proc.running.size === 0 && this.proc.ctx.tasks.size === 0) return;
      idle += 1;
      if (idle > 20) {
        throw new InvariantViolation(
          `liveness: ${this.proc.running.size + this.proc.ctx.tasks.size} task(s) stuck with no Lightning op pending (deadlock?)`,
        );
      }
    }
    throw new InvariantViolation('liveness: work never ends (more than 10 000 Lightning ops while draining)');
  }

  private async fingerprint(): Promise<string> {
    const rows = await findOrders(this.proc.ctx.db, {});
    const o = rows
      .map((r) => [r.id, r.status, r.hash, r.payout_payment_hash, r.payment_attempts, r.failed_payment, r.dev_fee_paid, r.dev_fee_payment_hash].join('|'))
      .sort()
      .join(';');
    const book = [...this.book, ...this.disputeBook].map(([d, e]) => `${d}:${e.status}:${e.createdAt}`).sort().join(';');
    const changes = await this.changeLog();
    return `${o}#${this.node.ledger.length}#${this.sent.length}#${book}#${changes.join(',')}`;
  }

  /** The order change log's rows (orders whose public event may lag: book-sync's work). */
  private async changeLog(): Promise<number[]> {
    const sqlite = (this.proc.db as unknown as { sqlite: Database }).sqlite;
    const orders = (sqlite.prepare('SELECT seq FROM mostrod_ts_order_changes ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
    const disputes = (sqlite.prepare('SELECT seq FROM mostrod_ts_dispute_changes ORDER BY seq').all() as Array<{ seq: number }>).map((r) => -r.seq);
    return [...orders, ...disputes];
  }

  async quiesce(): Promise<void> {
    this.proc.cuts.disarm();
    this.stepNo += 1;
    this.node.step = this.stepNo;
    if (!this.relayUp) await this.apply({ t: 'relay', up: true });
    if (this.proc.client.state !== 'up') await this.apply({ t: 'link', up: true });
    this.routes = 'succeed';
    this.staleLnurl = false;
    let last = '';
    for (let round = 0; round < 20; round += 1) {
      await this.drain();
      for (const p of [...this.node.payments.values()]) if (p.state === 'in_flight') this.node.finishPayment(p.hash, true);
      for (const job of JOB_LIST) {
        void this.runJob(job);
        await this.drain();
      }
      this.collectEscrows();
      const fp = await this.fingerprint();
      // Settled: nothing changed in a whole round, and no order's public event is left to book-sync
      // (its first pass in a process only sets its watermark).
      if (fp === last && (await this.changeLog()).length === 0) return;
      last = fp;
      this.clock.advance(61);
      this.node.tick();
    }
    throw new InvariantViolation('liveness: the world did not settle after 20 rounds of every job');
  }

  // ---- invariants --------------------------------------------------------------------------------

  private orderOfEscrow(hash: string): SimOrder | undefined {
    return this.orders.find((o) => o.escrows.includes(hash));
  }

  private orderOfPayout(hash: string): SimOrder | undefined {
    return this.orders.find((o) => o.invoices.has(hash));
  }

  private fail(what: string, detail: string): void {
    if (this.opts.skip?.includes(what) === true) {
      this.skipped.push(`${what}: ${detail}`);
      return;
    }
    throw new InvariantViolation(`${what} (after step ${this.stepNo}): ${detail}`);
  }

  /** Checked after every step. */
  async checkStep(): Promise<void> {
    const settled = new Set<string>();
    const canceled = new Set<string>();
    const paidPerOrder = new Map<number, number>();
    const devPaid = new Set<string>();
    for (const e of this.node.ledger) {
      if (e.kind === 'settle') settled.add(e.hash);
      if (e.kind === 'cancel' || e.kind === 'node-cancel') canceled.add(e.hash);
      if (e.kind === 'payment-succeeded') {
        if (this.devFeeHashes.has(e.hash)) {
          devPaid.add(e.hash);
          continue;
        }
        const o = this.orderOfPayout(e.hash);
        if (o === undefined) {
          this.fail('buyer paid at most once', `payment ${short(e.hash)} to an invoice of no order`);
          continue;
        }
        paidPerOrder.set(o.n, (paidPerOrder.get(o.n) ?? 0) + 1);
      }
    }
    for (const h of settled) {
      if (canceled.has(h)) this.fail('escrow settled xor canceled', `escrow ${short(h)} was both settled and canceled`);
      const o = this.orderOfEscrow(h);
      if (o === undefined) {
        this.fail('nothing settled without a decision', `escrow ${short(h)} settled but no order asked the seller to pay it`);
        continue;
      }
      if (o.decisions.length === 0) this.fail('nothing settled without a decision', `order o${o.n} escrow ${short(h)} settled without release/admin-settle`);
    }
    for (const [n, count] of paidPerOrder) {
      if (count > 1) this.fail('buyer paid at most once', `order o${n} buyer paid ${count} times`);
    }
    if (devPaid.size > 0) {
      const rows = await findOrders(this.proc.ctx.db, {});
      const perOrder = new Map<string, number>();
      for (const h of devPaid) {
        const row = rows.find((r) => r.dev_fee_payment_hash === h);
        if (row === undefined) continue; // attributed at quiescence
        perOrder.set(row.id, (perOrder.get(row.id) ?? 0) + 1);
        const sim = this.orders.find((x) => x.id === row.id);
        const escrowSettled = sim !== undefined && sim.escrows.some((e) => settled.has(e));
        if (!escrowSettled) this.fail('dev fee only for settled escrows', `order o${sim?.n ?? '?'} dev fee ${short(h)} paid while its escrow is not settled in LND`);
      }
      for (const [id, count] of perOrder) if (count > 1) this.fail('dev fee at most once', `order ${id} dev fee paid ${count} times`);
    }
    this.checkMessagesNoDup();
  }

  /**
   * Terminal notices at most once per recipient and order. A duplicate sent by one process is
   * "no duplicated terminal notice"; one re-sent by a later process after a crash is reported under
   * its own name, "no duplicated terminal notice across restarts" (see docs/SIMULATION.md).
   */
  private checkMessagesNoDup(): void {
    // The answer to the recipient's own request (e.g. the admin repeating admin-settle on a
    // cooperatively canceled order gets cooperative-cancel-accepted each time) is a reply: two replies
    // to two different requests are not a duplicate; anything else sent twice is.
    const isReply = (r: SentRecord) => r.requestId !== null && this.requests.get(r.requestId) === r.to;
    const seen = new Map<string, SentRecord[]>();
    for (const s of this.sent) {
      // A message lost with its process's queue reached nobody (a stored notice is then sent again).
      if (!TERMINAL_NOTICES.includes(s.action) || s.orderId === null || s.fate === 'lost') continue;
      const key = `${s.to}|${s.orderId}|${s.action}`;
      const prior = seen.get(key) ?? [];
      seen.set(key, [...prior, s]);
      const first = prior.find((p) => !(isReply(p) && isReply(s) && p.requestId !== s.requestId));
      if (first === undefined) continue;
      const o = this.orders.find((x) => x.id === s.orderId);
      const who = o === undefined ? s.to.slice(0, 8) : s.to === o.buyer.pubkey ? 'buyer' : s.to === o.seller.pubkey ? 'seller' : 'admin';
      const where = `order o${o?.n ?? '?'}: ${who} got ${s.action} at step ${first.step} (process ${first.proc}) and again at step ${s.step} (process ${s.proc})`;
      this.fail(first.proc === s.proc ? 'no duplicated terminal notice' : 'no duplicated terminal notice across restarts', where);
    }
  }

  /** Checked once the world is quiescent (after quiesce()). */
  async checkQuiescent(): Promise<void> {
    await this.checkStep();
    const rows = await findOrders(this.proc.ctx.db, {});
    const byId = new Map<string, OrderRow>(rows.map((r) => [r.id, r]));
    const settled = new Set(this.node.ledger.filter((e) => e.kind === 'settle').map((e) => e.hash));
    const margin = this.settings.lightning.escrow_deadline_margin_blocks;
    for (const o of this.orders) {
      if (o.id === null) continue;
      const row = byId.get(o.id);
      if (row === undefined) continue;
      const paid = this.node.ledger.filter((e) => e.kind === 'payment-succeeded' && o.invoices.has(e.hash)).length;
      const msgsTo = (k: Keys) => this.sent.filter((s) => s.to === k.pubkey && s.orderId === o.id && s.fate !== 'lost').map((s) => s.action);
      // Every settled escrow ends paid or stranded-and-reported.
      for (const h of o.escrows) {
        if (!settled.has(h)) continue;
        if (paid === 1) continue;
        const reported =
          this.logs.some((l) => l.level >= 50 && l.orderId === o.id) ||
          (row.status === 'settled-hold-invoice' && msgsTo(o.buyer).includes('add-invoice') && msgsTo(o.buyer).includes('payment-failed'));
        if (!reported) {
          this.fail('settled escrow ends paid or stranded-and-reported', `order o${o.n} (${row.status}) escrow ${short(h)} settled, buyer unpaid, nobody told`);
        }
      }
      if (row.status === 'success') {
        if (paid !== 1) this.fail('success means paid once', `order o${o.n} is success but its buyer was paid ${paid} times`);
        if (!o.escrows.some((h) => settled.has(h))) this.fail('success means settled', `order o${o.n} is success but no escrow of it was settled`);
        if (!msgsTo(o.buyer).includes('purchase-completed')) this.fail('every party gets its path', `order o${o.n} success without purchase-completed to the buyer`);
        const sellerTold = msgsTo(o.seller).some((a) => a === 'hold-invoice-payment-settled' || a === 'admin-settled');
        if (!sellerTold) this.fail('every party gets its path', `order o${o.n} success but the seller was never told the escrow was settled`);
        const buyerTold = msgsTo(o.buyer).some((a) => a === 'released' || a === 'admin-settled');
        if (!buyerTold) this.fail('every party gets its path', `order o${o.n} success but the buyer was never told the escrow was released`);
      }
      if (paid > 0 && !o.escrows.some((h) => settled.has(h))) {
        this.fail('buyer paid only from a settled escrow', `order o${o.n} buyer paid but no escrow of it was settled`);
      }
      // Held escrows at quiescence.
      for (const h of o.escrows) {
        const inv = this.node.invoices.get(h);
        if (inv === undefined || inv.state !== 'accepted') continue;
        if (row.hash !== h) this.fail('no escrow held for a dead trade', `order o${o.n} (${row.status}) no longer refers to its accepted escrow ${short(h)}`);
        if (!HELD_OK.includes(row.status)) this.fail('no escrow held for a dead trade', `order o${o.n} is ${row.status} but its escrow ${short(h)} is still held`);
        if (this.node.height + margin >= inv.htlcExpiryHeight && row.status !== 'dispute') {
          this.fail('no escrow held past its deadline margin', `order o${o.n} is ${row.status}, escrow ${short(h)} expires at ${inv.htlcExpiryHeight}, height ${this.node.height}`);
        }
      }
      // A seller whose accepted escrow was returned is told.
      const refunded = o.escrows.some((h) => this.node.ledger.some((e) => e.hash === h && e.kind === 'accept')) && o.escrows.every((h) => this.node.invoices.get(h)?.state !== 'settled' && this.node.invoices.get(h)?.state !== 'accepted');
      if (refunded && ['canceled', 'canceled-by-admin', 'cooperatively-canceled'].includes(row.status)) {
        if (!msgsTo(o.seller).some((a) => CANCEL_NOTICES.includes(a))) {
          this.fail('every party gets its path', `order o${o.n} ${row.status}, seller refunded but never told`);
        }
      }
    }
    this.checkRangeChildren(rows, settled);
    // A banned maker's order is not left in the book (the ban's withdrawal, the handler or job that
    // puts a taken order back to pending, the expire job's sweep).
    const banned = new Set((await this.proc.ctx.db.selectFrom('users').select('pubkey').where('is_banned', '!=', 0).execute()).map((r) => r.pubkey));
    for (const row of rows) {
      const maker = row.kind === 'sell' ? row.master_seller_pubkey : row.master_buyer_pubkey;
      if (row.status === 'pending' && maker !== null && banned.has(maker)) {
        const o = this.orders.find((x) => x.id === row.id);
        this.fail('no pending order of a banned maker', `order ${o === undefined ? row.id.slice(0, 8) : `o${o.n}`} is pending, its maker is banned`);
      }
    }
    // Every successful dev-fee payment belongs to exactly one order that records it as paid.
    for (const e of this.node.ledger) {
      if (e.kind !== 'payment-succeeded' || !this.devFeeHashes.has(e.hash)) continue;
      const owners = rows.filter((r) => r.dev_fee_payment_hash === e.hash);
      if (owners.length !== 1 || owners[0]!.dev_fee_paid !== 1) {
        this.fail('dev fee at most once', `dev fee payment ${short(e.hash)} succeeded but ${owners.length} order(s) record it (paid=${owners[0]?.dev_fee_paid ?? '-'})`);
      }
    }
    this.checkBook(rows, await findDisputes(this.proc.ctx.db, {}));
  }

  /**
   * Range orders at quiescence: a released range order has exactly one child (the remainder) for the
   * maker's next trade key, created only for a settled escrow, and its maker was told once
   * (`new-order` for the child to the next key).
   */
  private checkRangeChildren(rows: readonly OrderRow[], settled: ReadonlySet<string>): void {
    for (const o of this.orders) {
      if (!o.range || o.id === null) continue;
      const row = rows.find((r) => r.id === o.id);
      if (row === undefined) continue;
      const children = rows.filter((r) => r.range_parent_id === o.id);
      if (children.length > 1) this.fail('range child at most once', `order o${o.n} has ${children.length} children`);
      const escrowSettled = o.escrows.some((h) => settled.has(h));
      for (const child of children) {
        if (!escrowSettled) this.fail('range child only for a settled trade', `order o${o.n} (${row.status}) has a child but no escrow of it was settled`);
        if (child.creator_pubkey !== o.next.pubkey) this.fail('range child for the maker’s next key', `order o${o.n}'s child belongs to ${child.creator_pubkey?.slice(0, 8) ?? 'nobody'}`);
        // The announcement: a `new-order` of the child sent before anything else about it (request id:
        // the seller's release, or none when another path finished the release) — not the one the
        // maker gets when a take of the child is undone (a taker's cancel, a waiting-state timeout).
        const fromRelease = (m: SentRecord) => m.requestId === null || this.requests.get(m.requestId) === o.seller.pubkey;
        const firstOther = this.sent.findIndex((m) => m.orderId === child.id && m.action !== 'new-order' && m.fate !== 'lost');
        const announced = this.sent
          .map((m, i) => [m, i] as const)
          .filter(([m]) => m.to === o.next.pubkey && m.orderId === child.id && m.action === 'new-order' && m.fate !== 'lost' && fromRelease(m));
        const told = announced.filter(([, i]) => firstOther === -1 || i < firstOther).map(([m]) => m);
        if (announced.length === 0) this.fail('range child announced to its maker', `order o${o.n} (${row.status}): its child was never announced to the maker`);
        if (told.length > 1) {
          this.fail('range child announced to its maker once', `order o${o.n}: new-order of its child sent ${told.length} times (steps ${told.map((m) => m.step).join(', ')})`);
        }
      }
      // Released only by the seller (no admin or solver settle, which create no child), the maker
      // named its next key (a buy maker at fiat-sent: a trade released from a dispute may skip it),
      // and a remainder of at least the minimum is left.
      const released = escrowSettled && (row.status === 'settled-hold-invoice' || row.status === 'success');
      const onlyReleases = o.decisions.length > 0 && o.decisions.every((d) => d.startsWith('release@'));
      const named = o.kind === 'sell' || row.next_trade_pubkey !== null;
      // A banned maker's range order is not continued (app/flows/range-child.ts).
      if (this.everBanned.has(o.maker.pubkey)) continue;
      const remainderDue = row.min_amount !== null && row.max_amount !== null && row.max_amount - row.fiat_amount >= row.min_amount;
      if (released && onlyReleases && named && remainderDue && children.length === 0) {
        this.fail('released range order has its child', `order o${o.n} (${row.status}) was released but no child order exists`);
      }
    }
  }

  /**
   * Invariant 12: the relay's order book shows every order as the database has it — the public
   * status of its row, or `in-progress` for a trade under way (active, fiat-sent, dispute, a release
   * being paid: no public status of their own, the last one published was the take's) — and no
   * order the database does not have.
   */
  private checkBook(rows: readonly OrderRow[], disputes: readonly DisputeRow[]): void {
    const nameOf = (id: string) => {
      const o = this.orders.find((x) => x.id === id);
      return o === undefined ? id.slice(0, 8) : `o${o.n}`;
    };
    for (const row of rows) {
      const expected = expectedPublicStatus(row) ?? '(none)';
      const shown = this.book.get(row.id);
      if (shown === undefined) this.fail('the book shows every order as it is', `order ${nameOf(row.id)} (${row.status}) has no event on the relay`);
      else if (shown.status !== expected) {
        this.fail(
          'the book shows every order as it is',
          `order ${nameOf(row.id)} is ${row.status} (public: ${expected}) but the relay keeps its ${shown.status} event (created_at ${shown.createdAt}, published by process ${shown.proc} at step ${shown.step})`,
        );
      }
    }
    const ids = new Set(rows.map((r) => r.id));
    for (const [d, e] of this.book) if (!ids.has(d)) this.fail('the book shows every order as it is', `the relay shows order ${d.slice(0, 8)} (${e.status}), which the database does not have`);
    // Disputes: every dispute's event, with its status (solvers find disputes from these).
    for (const d of disputes) {
      const shown = this.disputeBook.get(d.id);
      const what = `dispute of order ${nameOf(d.order_id)} (${d.status})`;
      if (shown === undefined) this.fail('the book shows every dispute as it is', `${what} has no event on the relay`);
      else if (shown.status !== d.status) {
        this.fail('the book shows every dispute as it is', `${what}: the relay keeps its ${shown.status} event (published by process ${shown.proc} at step ${shown.step})`);
      }
    }
    const disputeIds = new Set(disputes.map((d) => d.id));
    for (const [d, e] of this.disputeBook) if (!disputeIds.has(d)) this.fail('the book shows every dispute as it is', `the relay shows dispute ${d.slice(0, 8)} (${e.status}), which the database does not have`);
  }

  /** What the run reached (for coverage statistics): final statuses and real effects. */
  async summary(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const add = (k: string) => {
      out[k] = (out[k] ?? 0) + 1;
    };
    for (const r of await findOrders(this.proc.ctx.db, {})) add(`status:${r.status}`);
    for (const e of this.node.ledger) add(`ledger:${e.kind}`);
    add(`processes:${this.procCount}`);
    if (this.cutsFired > 0) out['cuts-fired'] = this.cutsFired;
    return out;
  }

  /** Run a whole schedule: each step, the step invariants, then quiescence and every invariant. */
  async run(commands: readonly SimCommand[]): Promise<void> {
    for (const c of commands) {
      await this.apply(c);
      await this.checkStep();
    }
    await this.quiesce();
    await this.checkQuiescent();
  }
}
