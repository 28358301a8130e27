/**
 * Scale benchmark, run as its own process (fresh heap, own RSS):
 *   node --import tsx bench/scale-child.ts --file DB --orders N
 * Builds a mostrod database with N orders (90 % pending of which 5 % already expired, 10 % success;
 * one maker identity per 10 orders), then times the repository queries the daemon runs against the
 * order book, the cost of republishing the pending book (users lookup + 38383 build + node
 * signature per order) and the real expiry job. Prints one JSON line on stdout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Database } from 'better-sqlite3';
import { pino } from 'pino';
import { makerRating } from '../src/app/flows/reputation.js';
import { KeyedLock } from '../src/app/locks.js';
import type { AppContext } from '../src/context.js';
import { TaskTracker } from '../src/context.js';
import { finalizeEvent } from '../src/crypto/event.js';
import { bytesToHex, generateSecretKey, getPublicKey } from '../src/crypto/secp.js';
import { closeDatabase, openDatabase, type Db } from '../src/db/database.js';
import {
  findExpiredPending,
  findOpenEscrows,
  findOrders,
  findOrdersByIdsForUser,
  getOrder,
  newOrderRow,
  orderToDb,
  restoreSessionOrders,
} from '../src/db/orders.js';
import type { OrderRow } from '../src/db/types.js';
import { buildOrderEvent, networkTagValue } from '../src/nostr/events.js';
import type { EventTemplate, Outbox } from '../src/nostr/outbox.js';
import { expirePendingOrders } from '../src/scheduler/jobs/expire-pending-orders.js';
import { FakeClock } from '../test/support/fake-clock.js';
import { FakeLightning } from '../test/support/fake-lightning.js';
import { FakeLnurlResolver, FixedPriceService, testSettings } from '../test/support/test-context.js';
import { median, round } from './stats.js';

const { values } = parseArgs({ options: { file: { type: 'string' }, orders: { type: 'string' }, 'republish-sample': { type: 'string', default: '10000' } } });
if (values.file === undefined || values.orders === undefined) throw new Error('--file and --orders are required');
const N = Number(values.orders);
const now = Math.floor(Date.now() / 1000);

/** Outbox that signs with the daemon's crypto and drops the events (publication cost without a relay). */
class SigningOutbox implements Outbox {
  published = 0;
  constructor(private readonly sk: Uint8Array, private readonly pk: string) {}
  sendMessage(): void {}
  publish(e: EventTemplate): Promise<string> {
    const signed = finalizeEvent({ kind: e.kind, tags: e.tags, content: e.content, created_at: e.created_at ?? now }, this.sk, this.pk);
    this.published++;
    return Promise.resolve(signed.id);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

function hex32(): string {
  return randomBytes(32).toString('hex');
}

async function build(db: Db): Promise<{ seconds: number; sampleIdentity: string; sampleIds: string[] }> {
  const t0 = performance.now();
  const sqlite = (db as unknown as { sqlite: Database }).sqlite;
  const sampleOrder = orderToDb(
    newOrderRow({ id: randomUUID(), kind: 'sell', status: 'pending', premium: 0, payment_method: 'x', amount: 1, fiat_code: 'USD', fiat_amount: 1, created_at: now, expires_at: now }),
  );
  const cols = Object.keys(sampleOrder);
  const insert = sqlite.prepare(`INSERT INTO orders (${cols.join(',')}) VALUES (${cols.map((c) => '@' + c).join(',')})`);
  const userCols = ['pubkey', 'is_admin', 'is_solver', 'is_banned', 'category', 'last_trade_index', 'total_reviews', 'total_rating', 'last_rating', 'max_rating', 'min_rating', 'created_at'];
  const insertUser = sqlite.prepare(`INSERT INTO users (${userCols.join(',')}) VALUES (${userCols.map((c) => '@' + c).join(',')})`);
  const identities: string[] = [];
  const sampleIds: string[] = [];
  const methods = ['bank transfer', 'face to face', 'SEPA', 'Zelle,Revolut', 'mercado pago'];
  const fiats = ['USD', 'EUR', 'ARS', 'VES'];
  sqlite.transaction(() => {
    for (let u = 0; u < Math.max(1, N / 10); u++) {
      const pubkey = hex32();
      identities.push(pubkey);
      insertUser.run({ pubkey, is_admin: 0, is_solver: 0, is_banned: 0, category: 0, last_trade_index: 10, total_reviews: u % 50, total_rating: (u % 5) + 0.5, last_rating: 4, max_rating: 5, min_rating: 1, created_at: now - 86_400 * (u % 400) });
    }
    for (let i = 0; i < N; i++) {
      const identity = identities[i % identities.length]!;
      const pending = i % 10 !== 0;
      const expired = pending && i % 20 === 1;
      const kind = i % 2 === 0 ? 'sell' : 'buy';
      const id = randomUUID();
      if (identity === identities[0] && sampleIds.length < 10) sampleIds.push(id);
      const row: OrderRow = newOrderRow({
        id,
        kind,
        status: pending ? 'pending' : 'success',
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
      });
      insert.run(orderToDb(row));
    }
  })();
  return { seconds: (performance.now() - t0) / 1000, sampleIdentity: identities[0]!, sampleIds };
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
await closeDatabase(db);
const reopenT0 = performance.now();
db = await openDatabase(values.file);
const reopenMs = performance.now() - reopenT0;

const queries = {
  orderBookPending: await timeIt(3, () => findOrders(db, { status: 'pending' })),
  expiredPending: await timeIt(5, () => findExpiredPending(db, now)),
  openEscrows: await timeIt(5, () => findOpenEscrows(db)),
  ordersByIdsForUser10: await timeIt(20, () => findOrdersByIdsForUser(db, built.sampleIds, built.sampleIdentity)),
  restoreSession: await timeIt(20, () => restoreSessionOrders(db, built.sampleIdentity)),
  getOrder: await timeIt(50, () => getOrder(db, built.sampleIds[0]!)),
};
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
};

// Republish of the pending book: what publishing every pending order costs (rating lookup, 38383
// template, signature). Timed on a sample and extrapolated to the whole book.
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

const expiredCount = (await findExpiredPending(db, now)).length;
const jobT0 = performance.now();
await expirePendingOrders(ctx);
const expiryJob = { expired: expiredCount, seconds: round((performance.now() - jobT0) / 1000, 3), published: outbox.published - sample.length };
const jobT1 = performance.now();
await expirePendingOrders(ctx);
const expiryJobIdleMs = round(performance.now() - jobT1, 2);
await closeDatabase(db);

process.stdout.write(
  `${JSON.stringify({
    orders: N,
    buildSeconds: round(built.seconds, 2),
    openMigrateMs: round(openMs, 1),
    reopenMs: round(reopenMs, 1),
    queries,
    republish,
    expiryJob,
    expiryJobIdleMs,
    rssMb: { start: round(rss0 / 2 ** 20), afterQueries: round(rssAfterQueries / 2 ** 20), end: round(process.memoryUsage().rss / 2 ** 20) },
  })}\n`,
);
