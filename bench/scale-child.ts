/**
 * Scale benchmark, run as its own process (fresh heap, own RSS):
 *   node --import tsx bench/scale-child.ts --file DB --orders N
 * Builds a mostrod database with N orders (90 % pending of which 5 % already expired, 10 % success;
 * one maker identity per 10 orders), then times the repository queries the daemon runs against the
 * order book, the cost of republishing the pending book (users lookup + 38383 build + node
 * signature per order), the real expiry job and the transport-prune job. Prints one JSON line on
 * stdout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Database } from '../src/db/sqlite-driver.js';
import { sql } from 'kysely';
import { pino } from 'pino';
import { makerRating } from '../src/app/flows/reputation.js';
import { BanList } from '../src/app/bans.js';
import { UnratedBudgets } from '../src/app/unrated-budget.js';
import { KeyedLock } from '../src/app/locks.js';
import type { AppContext } from '../src/context.js';
import { TaskTracker } from '../src/context.js';
import { finalizeEvent } from '../src/crypto/event.js';
import { bytesToHex, generateSecretKey, getPublicKey } from '../src/crypto/secp.js';
import { closeDatabase, openDatabase, type Db } from '../src/db/database.js';
import { getDisputeByOrder } from '../src/db/disputes.js';
import { countAbandonedTakes } from '../src/db/abandoned-takes.js';
import { OrderChangeAcks } from '../src/db/order-changes.js';
import { listClaimableEvents } from '../src/db/event-queue.js';
import { listOrderChanges } from '../src/db/order-changes.js';
import {
  casUpdateOrder,
  countPendingOrdersOf,
  findExpiredPending,
  findExpiredPendingIds,
  findFailedPayouts,
  findOpenEscrows,
  findOrders,
  findOrdersByIdsForUser,
  findUnverifiedPaidDevFees,
  findPartialDevFees,
  findStaleDevFeeClaims,
  findUnpaidDevFees,
  findWaitingTimedOut,
  getOrder,
  getOrderByHash,
  hasPendingTake,
  newOrderRow,
  orderToDb,
  restoreSessionDisputes,
  restoreSessionOrders,
} from '../src/db/orders.js';
import { listDisputeChanges } from '../src/db/dispute-changes.js';
import { uuidToBlob } from '../src/db/uuid-blob.js';
import { getUser } from '../src/db/users.js';
import type { OrderRow } from '../src/db/types.js';
import { buildOrderEvent, networkTagValue } from '../src/nostr/events.js';
import type { EventTemplate, Outbox, PublishOptions } from '../src/nostr/outbox.js';
import { EXPIRE_BATCH, expirePendingOrders } from '../src/scheduler/jobs/expire-pending-orders.js';
import { newBookSyncState, republishChangedOrders } from '../src/scheduler/jobs/republish-changed-orders.js';
import { PRUNE_BATCH, pruneTransports } from '../src/scheduler/jobs/prune-transports.js';
import { FakeClock } from '../test/support/fake-clock.js';
import { FakeLightning } from '../test/support/fake-lightning.js';
import { FakeLnurlResolver, FixedPriceService, testSettings } from '../test/support/test-context.js';
import { median, round } from './stats.js';

const { values } = parseArgs({ options: { file: { type: 'string' }, orders: { type: 'string' }, 'republish-sample': { type: 'string', default: '2000' }, explain: { type: 'boolean', default: false } } });
if (values.file === undefined || values.orders === undefined) throw new Error('--file and --orders are required');
const N = Number(values.orders);
const now = Math.floor(Date.now() / 1000);

/** Outbox that signs with the daemon's crypto and drops the events (publication cost without a relay). */
class SigningOutbox implements Outbox {
  published = 0;
  constructor(private readonly sk: Uint8Array, private readonly pk: string) {}
  sendMessage(): void {}
  publish(e: EventTemplate, opts?: PublishOptions): Promise<string> {
    const signed = finalizeEvent({ kind: e.kind, tags: e.tags, content: e.content, created_at: e.created_at ?? now }, this.sk, this.pk);
    this.published++;
    opts?.onOutcome?.(true); // accepted at once: the change-log rows go with the next batch
    return Promise.resolve(signed.id);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

function hex32(): string {
  return randomBytes(32).toString('hex');
}

const ESCROW_MIX = ['waiting-payment', 'waiting-buyer-invoice', 'active', 'fiat-sent', 'dispute', 'settled-hold-invoice'] as const;

/**
 * The order book: 90 % pending (5 % of those past expiry), the rest history — mostly `success` with
 * a paid dev fee (hash recorded), some canceled/expired, and one in 500 a trade in progress (escrow
 * states, disputes with a row, a few failed payouts, dev-fee claims and unpaid dev fees).
 */
async function build(db: Db): Promise<{ seconds: number; sampleIdentity: string; sampleIds: string[]; sampleHash: string; sampleDisputeOrder: string }> {
  const t0 = performance.now();
  const sqlite = (db as unknown as { sqlite: Database }).sqlite;
  const sampleOrder = orderToDb(
    newOrderRow({ id: randomUUID(), kind: 'sell', status: 'pending', premium: 0, payment_method: 'x', amount: 1, fiat_code: 'USD', fiat_amount: 1, created_at: now, expires_at: now }),
  );
  const cols = Object.keys(sampleOrder);
  const insert = sqlite.prepare(`INSERT INTO orders (${cols.join(',')}) VALUES (${cols.map((c) => '@' + c).join(',')})`);
  const userCols = ['pubkey', 'is_admin', 'is_solver', 'is_banned', 'category', 'last_trade_index', 'total_reviews', 'total_rating', 'last_rating', 'max_rating', 'min_rating', 'created_at'];
  const insertUser = sqlite.prepare(`INSERT INTO users (${userCols.join(',')}) VALUES (${userCols.map((c) => '@' + c).join(',')})`);
  const insertDispute = sqlite.prepare('INSERT INTO disputes (id, order_id, status, order_previous_status, solver_pubkey, created_at, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const identities: string[] = [];
  const sampleIds: string[] = [];
  let sampleHash = '';
  let sampleDisputeOrder = '';
  const methods = ['bank transfer', 'face to face', 'SEPA', 'Zelle,Revolut', 'mercado pago'];
  const fiats = ['USD', 'EUR', 'ARS', 'VES'];
  sqlite.transaction(() => {
    for (let u = 0; u < Math.max(1, N / 10); u++) {
      const pubkey = hex32();
      identities.push(pubkey);
      insertUser.run({ pubkey, is_admin: 0, is_solver: 0, is_banned: u % 1000 === 999 ? 1 : 0, category: 0, last_trade_index: 10, total_reviews: u % 50, total_rating: (u % 5) + 0.5, last_rating: 4, max_rating: 5, min_rating: 1, created_at: now - 86_400 * (u % 400) });
    }
    for (let i = 0; i < N; i++) {
      const identity = identities[i % identities.length]!;
      const pending = i % 10 !== 0;
      const expired = pending && i % 20 === 1;
      const kind = i % 2 === 0 ? 'sell' : 'buy';
      const id = randomUUID();
      if (identity === identities[0] && sampleIds.length < 10) sampleIds.push(id);
      let history: Partial<OrderRow> = {};
      if (!pending) {
        const k = i / 10;
        const inTrade = k % 500 === 0;
        const status = inTrade ? ESCROW_MIX[(k / 500) % ESCROW_MIX.length]! : k % 10 === 1 ? 'canceled' : k % 10 === 2 ? 'expired' : 'success';
        const hash = status === 'canceled' || status === 'expired' ? null : hex32();
        if (hash !== null && sampleHash === '') sampleHash = hash;
        history = {
          status,
          hash,
          preimage: hash === null ? null : hex32(),
          amount: 10_000 + (i % 1000),
          fee: 10,
          dev_fee: 3,
          dev_fee_paid: status === 'success' && k % 97 !== 0 ? 1 : 0,
          dev_fee_payment_hash: status === 'success' ? (k % 97 === 0 ? (k % 2 === 0 ? `PENDING-${id}-${now - 7200}` : null) : hex32()) : null,
          taken_at: now - 3600,
          failed_payment: status === 'settled-hold-invoice' && k % 2 === 0 ? 1 : 0,
          payment_attempts: status === 'settled-hold-invoice' && k % 2 === 0 ? 1 : 0,
          buyer_invoice: status === 'settled-hold-invoice' || status === 'success' ? 'lnbcrt1' : null,
          ...(kind === 'sell' ? { master_buyer_pubkey: hex32(), buyer_pubkey: hex32(), trade_index_buyer: 1 } : { master_seller_pubkey: hex32(), seller_pubkey: hex32(), trade_index_seller: 1 }),
        };
        if (status === 'dispute') {
          insertDispute.run(uuidToBlob(randomUUID()), uuidToBlob(id), 'initiated', 'active', null, now - 600, 0);
          if (sampleDisputeOrder === '') sampleDisputeOrder = id;
        }
      }
      const row: OrderRow = newOrderRow({
        id,
        kind,
        status: 'pending',
        premium: i % 7,
        payment_method: methods[i % methods.length]!,
        amount: 0,
        fiat_code: fiats[i % fiats.length]!,
        fiat_amount: 10 + (i % 500),
        created_at: now - 3600 - (i % 80_000),
        expires_at: expired ? now - 60 : now + 86_400,
        creator_pubkey: hex32(),
        event_id: hex32(),
        ...(kind === 'sell' ? { master_seller_pubkey: identity, seller_pubkey: hex32(), trade_index_seller: 1 + (i % 100) } : { master_buyer_pubkey: identity, buyer_pubkey: hex32(), trade_index_buyer: 1 + (i % 100) }),
        ...history,
      });
      insert.run(orderToDb(row));
    }
  })();
  return { seconds: (performance.now() - t0) / 1000, sampleIdentity: identities[0]!, sampleIds, sampleHash, sampleDisputeOrder };
}

async function timeIt(runs: number, f: () => Promise<unknown>): Promise<{ ms: number; rows: number }> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await f();
    times.push(performance.now() - t0);
    rows = Array.isArray(r) ? r.length : r === undefined ? 0 : 1;
  }
  return { ms: round(median(times), 2), rows };
}

const rss0 = process.memoryUsage().rss;
const openT0 = performance.now();
let db = await openDatabase(values.file);
const openMs = performance.now() - openT0;
const built = await build(db);
// The book as a running node has it: every order's event already published (the build's inserts
// logged each order as changed; a DB from the Rust daemon has no log rows at all).
await sql`DELETE FROM mostrod_ts_order_changes`.execute(db);
await sql`DELETE FROM mostrod_ts_dispute_changes`.execute(db);
await closeDatabase(db);
const reopenT0 = performance.now();
db = await openDatabase(values.file);
const reopenMs = performance.now() - reopenT0;

/** Every query the daemon runs per request or per job, by where it runs (target ≤ 50 ms each). */
const perRequest: Record<string, () => Promise<unknown>> = {
  getOrder: () => getOrder(db, built.sampleIds[0]!),
  getOrderByHash: () => getOrderByHash(db, built.sampleHash),
  hasPendingTakeBuyer: () => hasPendingTake(db, built.sampleIdentity, 'buyer'),
  hasPendingTakeSeller: () => hasPendingTake(db, built.sampleIdentity, 'seller'),
  ordersByIdsForUser10: () => findOrdersByIdsForUser(db, built.sampleIds, built.sampleIdentity),
  restoreSessionOrders: () => restoreSessionOrders(db, built.sampleIdentity),
  restoreSessionDisputes: () => restoreSessionDisputes(db, built.sampleIdentity),
  getUser: () => getUser(db, built.sampleIdentity),
  getDisputeByOrder: () => getDisputeByOrder(db, built.sampleDisputeOrder),
  // [mostro] max_pending_orders_per_user (new-order, when set) and a ban's withdrawal.
  pendingOrdersOfUser: () => countPendingOrdersOf(db, built.sampleIdentity),
  // [mostro] max_abandoned_takes (take-sell / take-buy, when set): an index range, empty here.
  abandonedTakesOfUser: () => countAbandonedTakes(db, built.sampleIdentity, now - 86_400),
};
const perJob: Record<string, () => Promise<unknown>> = {
  expiredPendingBatch: () => findExpiredPendingIds(db, now, EXPIRE_BATCH),
  waitingTimedOut: () => findWaitingTimedOut(db, now - 900),
  openEscrows: () => findOpenEscrows(db),
  failedPayouts: () => findFailedPayouts(db),
  payoutRetriesDue: () => findOrders(db, { status: 'settled-hold-invoice', payout_payment_hash: null }),
  payoutReconcile: () => findOrders(db, { status: 'settled-hold-invoice' }),
  // The range child of a release being finished (payout reconciliation, SETTLED-escrow path).
  rangeChildOf: () => findOrders(db, { range_parent_id: built.sampleIds[0]! }),
  unpaidDevFees: () => findUnpaidDevFees(db),
  staleDevFeeClaims: () => findStaleDevFeeClaims(db),
  unverifiedPaidDevFees: () => findUnverifiedPaidDevFees(db, 0, 200),
  partialDevFees: () => findPartialDevFees(db),
  claimableQueuedEvents: () => listClaimableEvents(db, now - 300),
  changedOrders: () => listOrderChanges(db, Number.MAX_SAFE_INTEGER, 500),
  changedDisputes: () => listDisputeChanges(db, Number.MAX_SAFE_INTEGER, 500),
  // The banned keys (expire-pending-orders, every minute): one user in 1,000 banned here.
  bannedKeys: () => new BanList().load(db),
};

const sqliteHandle = (db as unknown as { sqlite: Database }).sqlite;
/** EXPLAIN QUERY PLAN of the statements a function prepares (better-sqlite3 prepare recorded). */
async function planOf(f: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const original = sqliteHandle.prepare.bind(sqliteHandle);
  const recorder = ((source: string) => {
    seen.push(source);
    return original(source);
  }) as typeof sqliteHandle.prepare;
  sqliteHandle.prepare = recorder;
  try {
    await f();
  } finally {
    sqliteHandle.prepare = original;
  }
  return seen.map((source) => {
    const params = (source.match(/\?/g) ?? []).map(() => null);
    const rows = original(`EXPLAIN QUERY PLAN ${source}`).all(...params) as { detail: string }[];
    return rows.map((r) => r.detail).join('; ');
  });
}

const queries: Record<string, { ms: number; rows: number; where: 'request' | 'job'; plan?: string[] }> = {};
for (const [where, table] of [['request', perRequest], ['job', perJob]] as const) {
  for (const [name, f] of Object.entries(table)) {
    queries[name] = { ...(await timeIt(where === 'request' ? 20 : 5, f)), where, ...(values.explain === true ? { plan: await planOf(f) } : {}) };
  }
}
/** Not run by the daemon: reading the whole pending book (what a full republish would start with). */
const fullPendingBook = await timeIt(1, () => findOrders(db, { status: 'pending' }));
const rssAfterQueries = process.memoryUsage().rss;

// Context for the republish / expiry measurements: the real file DB, the daemon's signing.
const nodeSk = generateSecretKey();
const nodePk = getPublicKey(nodeSk);
const clock = new FakeClock(now);
const outbox = new SigningOutbox(nodeSk, nodePk);
const ctx: AppContext = {
  settings: testSettings({ nostr: { nsec_privkey: bytesToHex(nodeSk) } }),
  db,
  lightning: new FakeLightning({ network: 'regtest' }),
  lnurl: new FakeLnurlResolver(),
  outbox,
  prices: new FixedPriceService(clock, { USD: 50_000 }),
  keys: { secretKey: nodeSk, pubkey: nodePk },
  clock,
  logger: pino({ level: 'silent' }),
  locks: new KeyedLock(),
  tasks: new TaskTracker(),
  orderChangeAcks: new OrderChangeAcks(db, pino({ level: 'silent' })),
  bans: new BanList(),
  unrated: new UnratedBudgets(),
};

// Full republish of the pending book (what mostrod 0.18.3's hourly sweep did; this daemon never
// does it): rating lookup, 38383 template and signature per order, timed on a sample, extrapolated.
const pending = await findOrders(db, { status: 'pending' });
const sample = pending.slice(0, Number(values['republish-sample']));
const repT0 = performance.now();
for (const o of sample) {
  const rating = await makerRating(ctx, o);
  const template = buildOrderEvent({ order: o, status: 'pending', rating, settings: ctx.settings, nodePubkey: nodePk, network: networkTagValue(['regtest']), now });
  await outbox.publish(template);
}
const repSec = (performance.now() - repT0) / 1000;
const republish = {
  pendingOrders: pending.length,
  sampled: sample.length,
  eventsPerSecond: round(sample.length / repSec, 0),
  projectedSeconds: round((pending.length * repSec) / Math.max(1, sample.length), 2),
};

// Incremental republish (the book-sync job): CHANGED orders change status without their event
// being published (a crash between the two), then the job's passes. Cost follows CHANGED.
const CHANGED = 100;
const published0 = outbox.published;
const bookState = newBookSyncState();
const idleT0 = performance.now();
await republishChangedOrders(ctx, bookState);
await republishChangedOrders(ctx, bookState);
const idlePassMs = round((performance.now() - idleT0) / 2, 2);
for (const o of pending.filter((x) => x.expires_at > now).slice(0, CHANGED)) {
  await casUpdateOrder(db, o.id, { status: 'pending' }, { status: 'canceled' });
}
await republishChangedOrders(ctx, bookState);
const passT0 = performance.now();
const pass = await republishChangedOrders(ctx, bookState);
await ctx.orderChangeAcks.flush(); // the change-log deletes of the accepted events, part of the pass's cost
const incremental = { changed: CHANGED, republished: pass.republished, passMs: round(performance.now() - passT0, 2), idlePassMs, published: outbox.published - published0 };

const expiredCount = (await findExpiredPending(db, now)).length;
const publishedBeforeExpiry = outbox.published;
const jobT0 = performance.now();
await expirePendingOrders(ctx);
await ctx.orderChangeAcks.flush();
const expiryJob = { expired: expiredCount, seconds: round((performance.now() - jobT0) / 1000, 3), published: outbox.published - publishedBeforeExpiry };
const jobT1 = performance.now();
await expirePendingOrders(ctx);
const expiryJobIdleMs = round(performance.now() - jobT1, 2);

// Transport-prune job (protocol v2): one remembered key per order's maker (its trade key on the
// order), last seen spread over the past 60 days, so half are idle past the 30-day retention (most
// of those on a pending order here, so kept and refreshed). First a backlog pass, then an hourly
// pass (the keys gone idle in that hour). The rows are removed afterwards: the daemon started on
// this DB below must see the book only.
const makers = (await db.selectFrom('orders').select(['kind', 'buyer_pubkey', 'seller_pubkey']).execute())
  .map((o) => (o.kind === 'sell' ? o.seller_pubkey : o.buyer_pubkey))
  .filter((k): k is string => k !== null);
const seedTransport = sqliteHandle.prepare('INSERT OR IGNORE INTO mostrod_ts_transport (pubkey, transport, first_seen_at, updated_at, last_seen_at) VALUES (?, ?, ?, ?, ?)');
sqliteHandle.transaction(() => {
  for (const [i, pk] of makers.entries()) {
    const seen = now - ((i * 7919) % (60 * 86_400));
    seedTransport.run(pk, 'nip44', seen, seen, seen);
  }
})();
const pruneCtx: AppContext = { ...ctx, settings: testSettings({ mostro: { transport: 'both' } }) };
const pruneT0 = performance.now();
const pruneBacklog = await pruneTransports(pruneCtx);
const pruneBacklogMs = performance.now() - pruneT0;
clock.advance(3600);
const pruneT1 = performance.now();
const pruneHourly = await pruneTransports(pruneCtx);
const transportPrune = {
  keys: makers.length,
  backlog: { ...pruneBacklog, ms: round(pruneBacklogMs, 1), msPerBatch: round(pruneBacklogMs / Math.max(1, Math.ceil(pruneBacklog.examined / PRUNE_BATCH)), 2) },
  hourly: { ...pruneHourly, ms: round(performance.now() - pruneT1, 2) },
};
await sql`DELETE FROM mostrod_ts_transport`.execute(db);
await closeDatabase(db);

process.stdout.write(
  `${JSON.stringify({
    orders: N,
    buildSeconds: round(built.seconds, 2),
    openMigrateMs: round(openMs, 1),
    reopenMs: round(reopenMs, 1),
    queries,
    fullPendingBook,
    republish,
    incremental,
    expiryJob,
    expiryJobIdleMs,
    transportPrune,
    rssMb: { start: round(rss0 / 2 ** 20), afterQueries: round(rssAfterQueries / 2 ** 20), end: round(process.memoryUsage().rss / 2 ** 20) },
  })}\n`,
);
