/**
 * Shared pieces of the e2e tests (test/e2e/*.test.ts) and scripts/demo.ts: one sandbox around the
 * BUILT daemon, real clients, reads of the daemon's DB (read-only) and of the relay's events, and
 * assertions on the messages each party receives.
 */
import assert from 'node:assert/strict';
import Database, { type Database as SqliteDatabase } from '../../src/db/sqlite-driver.js';
import type { NostrEvent } from '../../src/crypto/event.js';
import { buildMessage } from '../../src/protocol/build.js';
import type { Action, Message, Payload, SmallOrder, Wrapper } from '../../src/protocol/types.js';
import { TestClient, type ClientKey, type Reply } from '../support/client.js';
import { startSandbox, type Sandbox, type SandboxOptions } from '../support/sandbox.js';

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = performance.now(); // monotonic (a wall-clock step must not time the wait out)
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface MsgOptions {
  requestId?: bigint | null;
  tradeIndex?: bigint | number | null;
  payload?: Payload | null;
  wrapper?: Wrapper;
}

/** A request as a client sends it. */
export function msg(action: Action, id: string | undefined, o: MsgOptions = {}): Message {
  return buildMessage({
    action,
    ...(id !== undefined ? { id } : {}),
    ...(o.wrapper !== undefined ? { wrapper: o.wrapper } : {}),
    requestId: o.requestId ?? null,
    tradeIndex: o.tradeIndex === undefined || o.tradeIndex === null ? null : BigInt(o.tradeIndex),
    payload: o.payload ?? null,
  });
}

export function order(fields: Partial<SmallOrder> = {}): SmallOrder {
  return {
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
    ...fields,
  };
}

export interface Expect {
  id?: string;
  requestId?: bigint | null;
  tradeIndex?: bigint | null;
  wrapper?: Wrapper;
  /** extra condition on the reply (e.g. which payload) */
  match?: (r: Reply) => boolean;
}

/**
 * Wait for the next reply to `key` with `action` that has not been consumed yet, and assert the
 * envelope fields given in `e`.
 */
export async function expectMsg(c: TestClient, key: ClientKey | string, action: Action, e: Expect = {}, timeoutMs = 15_000): Promise<Reply> {
  const pk = typeof key === 'string' ? key : key.pubkey;
  const seen = consumed(c);
  const r = await c.waitFor((x) => x.to === pk && x.message.kind.action === action && !seen.has(x) && (e.match === undefined || e.match(x)), timeoutMs);
  seen.add(r);
  const k = r.message.kind;
  const where = `${action} to ${pk.slice(0, 8)}`;
  if (e.id !== undefined) assert.equal(k.id, e.id, `${where}: id`);
  if (e.requestId !== undefined) assert.equal(k.request_id, e.requestId, `${where}: request_id`);
  if (e.tradeIndex !== undefined) assert.equal(k.trade_index, e.tradeIndex, `${where}: trade_index`);
  assert.equal(r.message.wrapper, e.wrapper ?? (action === 'cant-do' ? 'cant-do' : r.message.wrapper), `${where}: wrapper`);
  assert.equal(k.version, 1, `${where}: version`);
  return r;
}

const consumedByClient = new WeakMap<TestClient, Set<Reply>>();
function consumed(c: TestClient): Set<Reply> {
  let s = consumedByClient.get(c);
  if (s === undefined) {
    s = new Set();
    consumedByClient.set(c, s);
  }
  return s;
}

/** Replies to `key` nobody consumed with expectMsg (to assert that nothing else was sent). */
export function unconsumed(c: TestClient, key: ClientKey | string): Action[] {
  const pk = typeof key === 'string' ? key : key.pubkey;
  const seen = consumed(c);
  return c.repliesTo(pk).filter((r) => !seen.has(r)).map((r) => r.message.kind.action);
}

export function payloadOrder(r: Reply): SmallOrder {
  const p = r.message.kind.payload;
  if (p !== null && 'order' in p) return p.order;
  if (p !== null && 'payment_request' in p && p.payment_request[0] !== null) return p.payment_request[0];
  throw new Error(`${r.message.kind.action} carries no order: ${JSON.stringify(p, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
}

export function cantDoReason(r: Reply): string | null {
  const p = r.message.kind.payload;
  return p !== null && 'cant_do' in p ? p.cant_do : null;
}

// ---- DB (read-only; WAL makes this safe while the daemon runs) ----

export function uuidBlob(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

function withDb<T>(sb: Sandbox, f: (db: SqliteDatabase) => T): T {
  const db = new Database(`${sb.dir}/mostro.db`, { readonly: true, fileMustExist: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

export type Row = Record<string, unknown>;

export function orderRow(sb: Sandbox, orderId: string): Row | undefined {
  return withDb(sb, (db) => db.prepare('SELECT * FROM orders WHERE id = ?').get(uuidBlob(orderId)) as Row | undefined);
}

export function disputeRow(sb: Sandbox, orderId: string): Row | undefined {
  return withDb(sb, (db) => db.prepare('SELECT * FROM disputes WHERE order_id = ?').get(uuidBlob(orderId)) as Row | undefined);
}

export function userRow(sb: Sandbox, pubkey: string): Row | undefined {
  return withDb(sb, (db) => db.prepare('SELECT * FROM users WHERE pubkey = ?').get(pubkey) as Row | undefined);
}

export function ordersWhere(sb: Sandbox, where: string, ...args: unknown[]): Row[] {
  return withDb(sb, (db) => db.prepare(`SELECT * FROM orders WHERE ${where}`).all(...args) as Row[]);
}

export function blobToUuid(b: unknown): string {
  const hex = Buffer.isBuffer(b) ? b.toString('hex') : String(b).replace(/-/g, '');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function waitForStatus(sb: Sandbox, orderId: string, status: string, timeoutMs = 15_000): Promise<Row> {
  await waitFor(`order ${orderId} ${status} in the DB (now ${String(orderRow(sb, orderId)?.['status'])})`, () => orderRow(sb, orderId)?.['status'] === status, timeoutMs);
  const row = orderRow(sb, orderId);
  assert.ok(row !== undefined);
  return row;
}

// ---- relay events ----

export function tag(e: NostrEvent, name: string): string[] | undefined {
  return e.tags.find((t) => t[0] === name);
}

export function tagValue(e: NostrEvent, name: string): string | undefined {
  return tag(e, name)?.[1];
}

/** Every event of `kind` with `d` = `d` the relay accepted, oldest first. */
export function addressable(sb: Sandbox, kind: number, d: string): NostrEvent[] {
  return sb.relay.events().filter((e) => e.kind === kind && e.pubkey === sb.nodePubkey && tagValue(e, 'd') === d);
}

/** The `s` values of the order's 38383 events in arrival order (consecutive duplicates kept). */
export function orderEventStates(sb: Sandbox, orderId: string): string[] {
  return addressable(sb, 38383, orderId).map((e) => tagValue(e, 's') ?? '?');
}

export async function waitForEvent(sb: Sandbox, what: string, pred: (e: NostrEvent) => boolean, timeoutMs = 15_000): Promise<NostrEvent> {
  let found: NostrEvent | undefined;
  await waitFor(what, () => (found = sb.relay.events().find(pred)) !== undefined, timeoutMs);
  assert.ok(found !== undefined);
  return found;
}

// ---- lightning simulator ----

export function settlesOf(sb: Sandbox, hash: string): number {
  return sb.sim.settles.filter((h) => h === hash).length;
}

export function cancelsOf(sb: Sandbox, hash: string): number {
  return sb.sim.cancels.filter((h) => h === hash).length;
}

export function paymentsOf(sb: Sandbox, hash: string): number {
  return sb.sim.payments.filter((p) => p.hash === hash).length;
}

/** The escrow hold invoice the daemon created for `orderId` (memo names the order). */
export function escrowOf(sb: Sandbox, orderId: string): { hash: string; valueSat: number; paymentRequest: string } {
  const inv = [...sb.sim.invoices.values()].find((i) => i.memo.includes(orderId));
  assert.ok(inv !== undefined, `a hold invoice for ${orderId} exists in LND`);
  return inv;
}

// ---- one sandbox per file ----

export interface E2E {
  sb: Sandbox;
  client(opts?: { identitySk?: Uint8Array }): Promise<TestClient>;
  close(): Promise<void>;
}

export async function startE2E(opts: SandboxOptions = {}): Promise<E2E> {
  const sb = await startSandbox({ echoLogs: process.env['E2E_ECHO'] === '1', ...opts });
  const clients: TestClient[] = [];
  return {
    sb,
    async client(o = {}) {
      const c = await TestClient.connect({
        relays: [sb.relay.url],
        mostroPubkey: sb.nodePubkey,
        ...(o.identitySk !== undefined ? { identitySk: o.identitySk } : {}),
      });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await sb.close();
    },
  };
}
