/**
 * Event-loop CPU of a new-order request without crypto or sockets (not part of `npm run bench`):
 *   node --import tsx bench/inproc-new-order.ts [--rounds 3] [--count 5000] [--users 100] [--sync barrier|commit] [--no-prepare] [--group N]
 *
 * What the daemon does on its event loop for one gift-wrapped new-order once the request is
 * decrypted and parsed: intake's trade-index gate read (`dbTradeIndexStore`), then the router's
 * `dispatch` → new-order handler → one transaction: trade index raise, the 38383 event prepared
 * (created_at and id, no signature), the order insert with that id, the change-log clear and the
 * ledger row → the event handed to the outbox (stubbed: no signature, no socket; the publication
 * ledger on, as in the daemon) → the reply handed to the outbox. `--no-prepare`: the path before
 * session 27 (insert and raise, then the publication, then the id, change log and ledger in a
 * second transaction). `--group N` (N > 1) prices group commit, which the daemon does not do: N
 * requests share one SQLite transaction (an outer BEGIN … COMMIT; each handler's own transaction
 * becomes a savepoint inside it), so their pages are written to the WAL and its locks taken once
 * per N requests instead of once per request — the most that committing several handlers'
 * transactions together could save on the event loop (docs/PERFORMANCE.md, session 38).
 * SQLite is a WAL file in a temporary directory, opened as the daemon opens it. `count` requests per
 * round, one at a time; CPU from process.cpuUsage() (user + system) per round. Prints each round and
 * the median CPU-ms per request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { pino } from 'pino';
import { BanList } from '../src/app/bans.js';
import { UnratedBudgets } from '../src/app/unrated-budget.js';
import { KeyedLock } from '../src/app/locks.js';
import { dispatch } from '../src/app/router.js';
import { TaskTracker, type AppContext } from '../src/context.js';
import { getEventHash } from '../src/crypto/event.js';
import { bytesToHex, generateSecretKey, getPublicKey } from '../src/crypto/secp.js';
import { closeDatabase, openDatabase, type StatementCache } from '../src/db/database.js';
import { dbTradeIndexStore } from '../src/db/trade-index-store.js';
import { OrderChangeAcks } from '../src/db/order-changes.js';
import { insertUser } from '../src/db/users.js';
import type { EventTemplate, Outbox, PreparedEvent, PublishOptions } from '../src/nostr/outbox.js';
import { PublicationLedgerOutbox } from '../src/ops/publication-ledger.js';
import { buildMessage } from '../src/protocol/build.js';
import type { Message } from '../src/protocol/types.js';
import { FakeClock } from '../test/support/fake-clock.js';
import { FakeLightning } from '../test/support/fake-lightning.js';
import { FakeLnurlResolver, FixedPriceService, testSettings } from '../test/support/test-context.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    count: { type: 'string', default: '5000' },
    users: { type: 'string', default: '100' },
    sync: { type: 'string', default: 'barrier' },
    'no-prepare': { type: 'boolean', default: false },
    group: { type: 'string', default: '1' },
  },
});
const ROUNDS = Number(values.rounds);
const COUNT = Number(values.count);
const USERS = Number(values.users);
const GROUP = Number(values.group);
if (!Number.isInteger(GROUP) || GROUP < 1) throw new Error(`--group must be a positive integer, got ${values.group}`);

/**
 * Outbox with no signatures and no sockets: an event id per publication, messages counted. Like the
 * daemon's outbox it prepares events (their id hashed on this thread, as RelayOutbox.prepare does),
 * so a new order is one transaction; `--no-prepare` leaves that out (the two-transaction path).
 */
class StubOutbox implements Outbox {
  sent = 0;
  private seq = 0;
  readonly prepare?: (event: EventTemplate) => PreparedEvent;
  readonly publishPrepared?: (event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>) => void;
  constructor(private readonly pubkey: string, prepares: boolean) {
    if (prepares) {
      this.prepare = (event) => {
        const created_at = event.created_at ?? 1_700_000_000;
        const id = getEventHash({ pubkey: this.pubkey, created_at, kind: event.kind, tags: event.tags, content: event.content });
        return { id, kind: event.kind, tags: event.tags, content: event.content, created_at };
      };
      // accepted at once: the change-log row goes with the next batch (OrderChangeAcks), as in the daemon
      this.publishPrepared = (_event, opts) => opts?.onOutcome?.(true);
    }
  }
  sendMessage(): void {
    this.sent++;
  }
  publish(_event: EventTemplate, opts?: PublishOptions): Promise<string> {
    this.seq++;
    opts?.onOutcome?.(true);
    return Promise.resolve(this.seq.toString(16).padStart(64, '0'));
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'inproc-new-order-'));
if (values.sync !== 'barrier' && values.sync !== 'commit') throw new Error(`--sync must be barrier or commit, got ${values.sync}`);
// `barrier`: as the daemon opens it (MOSTROD_DB_SYNC default); `commit`: an fsync per commit.
const db = await openDatabase(path.join(dir, 'mostro.db'), { durability: values.sync });
const clock = new FakeClock(1_700_000_000);
const node = generateSecretKey();
const settings = testSettings({ nostr: { nsec_privkey: bytesToHex(node) } });
const logger = pino({ level: 'silent' });
const stub = new StubOutbox(getPublicKey(node), !values['no-prepare']);
const ctx: AppContext = {
  settings,
  db,
  lightning: new FakeLightning({ network: 'regtest' }),
  lnurl: new FakeLnurlResolver(),
  outbox: new PublicationLedgerOutbox(stub, db, clock, logger),
  prices: new FixedPriceService(clock, { USD: 50_000 }),
  keys: { secretKey: node, pubkey: getPublicKey(node) },
  clock,
  logger,
  locks: new KeyedLock(),
  tasks: new TaskTracker(),
  orderChangeAcks: new OrderChangeAcks(db, logger),
  bans: new BanList(),
  unrated: new UnratedBudgets(),
};
const store = dbTradeIndexStore(db);

/**
 * `--group`: Kysely opens and ends each transaction with the statements `begin` / `commit` /
 * `rollback`, prepared through the database's statement cache; while a group is open they are
 * swapped for a savepoint, its release and a rollback to it.
 */
const handle = db as unknown as { sqlite: import('better-sqlite3').Database; statements: StatementCache };
let inGroup = false;
const prepare = handle.statements.prepare.bind(handle.statements);
const INSIDE_GROUP: Record<string, string> = { begin: 'savepoint request', commit: 'release request', rollback: 'rollback to request' };
handle.statements.prepare = (source: string) => prepare(inGroup ? (INSIDE_GROUP[source] ?? source) : source);
function groupStart(i: number): void {
  if (GROUP > 1 && i % GROUP === 0) {
    handle.sqlite.exec('begin');
    inGroup = true;
  }
}
function groupEnd(i: number, last: boolean): void {
  if (inGroup && (i % GROUP === GROUP - 1 || last)) {
    inGroup = false;
    handle.sqlite.exec('commit');
  }
}

const users = Array.from({ length: USERS }, () => ({
  identity: getPublicKey(generateSecretKey()),
  trade: getPublicKey(generateSecretKey()),
  index: 0,
}));
for (const u of users) await insertUser(db, { pubkey: u.identity, created_at: clock.now(), last_trade_index: 0 });

let requestId = 1n;
function request(index: number): Message {
  return buildMessage({
    action: 'new-order',
    requestId: requestId++,
    tradeIndex: BigInt(index),
    payload: {
      order: {
        kind: 'sell',
        status: 'pending',
        amount: 0n,
        fiat_code: 'USD',
        min_amount: null,
        max_amount: null,
        fiat_amount: 100n,
        payment_method: 'face to face,bank transfer',
        premium: 0n,
        created_at: 0n,
        expires_at: null,
      },
    },
  });
}

async function one(i: number): Promise<void> {
  const u = users[i % users.length]!;
  const last = await store.lastTradeIndex(u.identity); // intake's trade-index gate
  if (last !== u.index) throw new Error(`trade index ${last} != ${u.index}`);
  u.index++;
  await dispatch(ctx, request(u.index), {
    identity: u.identity,
    tradeKey: u.trade,
    createdAt: clock.now(),
    eventId: '',
    fullPrivacy: false,
  });
}

// Warm-up (JIT, statement cache), not measured.
for (let i = 0; i < 500; i++) await one(i);
const perRequest: number[] = [];
let n = 500;
for (let r = 0; r < ROUNDS; r++) {
  const start = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    groupStart(i);
    await one(n++);
    groupEnd(i, i === COUNT - 1);
  }
  await ctx.orderChangeAcks.flush(); // the batched change-log deletes of the round's accepted events
  const cpu = process.cpuUsage(start);
  const ms = (cpu.user + cpu.system) / 1000 / COUNT;
  perRequest.push(ms);
  console.log(
    `round ${r + 1}: ${COUNT} requests${GROUP > 1 ? ` in groups of ${GROUP}` : ''}, ${ms.toFixed(3)} CPU-ms/request (user ${(cpu.user / 1000 / COUNT).toFixed(3)}, ` +
      `system ${(cpu.system / 1000 / COUNT).toFixed(3)}), ${((performance.now() - t0) / COUNT).toFixed(3)} wall-ms/request`,
  );
}
// Every request did all its work: an order with its event id, no change-log entry left (its event
// accepted), a ledger row.
if (stub.sent !== n) throw new Error(`${stub.sent} replies for ${n} requests`);
const counts = await sql<{ orders: number; unpublished: number; changes: number; ledger: number }>`
  SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM orders WHERE event_id = '') AS unpublished,
    (SELECT count(*) FROM mostrod_ts_order_changes) AS changes, (SELECT count(*) FROM mostrod_ts_order_publications) AS ledger`.execute(db);
const c = counts.rows[0];
if (c === undefined || c.orders !== n || c.unpublished !== 0 || c.changes !== 0 || c.ledger !== n) {
  throw new Error(`unexpected database state after ${n} requests: ${JSON.stringify(c)}`);
}
const sorted = [...perRequest].sort((a, b) => a - b);
console.log(`median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} CPU-ms/request`);
await closeDatabase(db);
rmSync(dir, { recursive: true, force: true });
