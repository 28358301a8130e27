/**
 * Helpers for the fault and restart e2e tests (faults-*.test.ts, restart-more.test.ts): start the
 * built daemon without waiting for LND, drive a trade with real clients, read the daemon's DB.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import assert from 'node:assert/strict';
import Database from '../../../src/db/sqlite-driver.js';
import { buildMessage } from '../../../src/protocol/build.js';
import type { Action, Message, Payload } from '../../../src/protocol/types.js';
import { TestClient, type ClientKey, type Reply } from '../../support/client.js';
import { DAEMON_ENTRY, type DaemonProcess, type Sandbox } from '../../support/sandbox.js';
import { smallOrder } from '../../support/trade-fixtures.js';

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function msg(
  action: Action,
  id: string | undefined,
  opts: { tradeIndex?: bigint | null; payload?: Payload | null; requestId?: bigint } = {},
): Message {
  return buildMessage({
    action,
    ...(id !== undefined ? { id } : {}),
    requestId: opts.requestId ?? 1n,
    tradeIndex: opts.tradeIndex ?? null,
    payload: opts.payload ?? null,
  });
}

/** Log messages written since `seen` lines. */
export function logsSince(sb: Sandbox, seen: number): Array<Record<string, unknown>> {
  return sb.logs().slice(seen);
}

/**
 * Start the daemon and wait for what the test needs: 'relay connected' + 'mostrod ready' always,
 * plus the LND reconciliation line unless `lightning: false` (LND is down on purpose). The
 * sandbox's own startDaemon() insists on the LND line, so this spawns the child the same way.
 */
export async function startDaemon(sb: Sandbox, opts: { lightning?: boolean; echo?: boolean } = {}): Promise<DaemonProcess> {
  if (sb.daemon !== null) throw new Error('daemon already running');
  const seen = sb.logs().length;
  const child = spawn(process.execPath, [DAEMON_ENTRY, '-d', sb.dir], {
    env: { ...process.env, MOSTROD_LOG_LEVEL: 'info', MOSTRO_NSEC_PRIVKEY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(sb.logFile, { flags: 'a' });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  if (opts.echo === true || process.env['E2E_ECHO'] === '1') {
    child.stdout.pipe(process.stderr, { end: false });
    child.stderr.pipe(process.stderr, { end: false });
  }
  let dead = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      dead = true;
      resolve(code);
    }),
  );
  const proc: DaemonProcess = { child, exited };
  sb.daemon = proc;
  const want = ['mostrod ready', 'relay connected', ...(opts.lightning === false ? [] : ['reconciliation with the lightning node done'])];
  await waitFor(`daemon start (${want.join(', ')})`, () => {
    if (dead) throw new Error(`daemon exited during start:\n${sb.logs().slice(seen).map((l) => JSON.stringify(l)).join('\n')}`);
    const m = new Set(logsSince(sb, seen).map((l) => l['msg']));
    return want.every((w) => m.has(w));
  }, 20_000);
  return proc;
}

/** SIGKILL (or SIGTERM) the daemon and start it again. */
export async function restartDaemon(sb: Sandbox, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const code = await sb.stopDaemon(signal);
  if (signal === 'SIGKILL') assert.equal(code, null, 'killed by a signal');
  await startDaemon(sb);
}

function uuidBlob(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

/** One order row read from the daemon's DB (read-only connection; WAL makes this safe while it runs). */
export function orderRow(sb: Sandbox, orderId: string): Record<string, unknown> | undefined {
  const db = new Database(`${sb.dir}/mostro.db`, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM orders WHERE id = ?').get(uuidBlob(orderId)) as Record<string, unknown> | undefined;
  } finally {
    db.close();
  }
}

export function orderStatus(sb: Sandbox, orderId: string): string | undefined {
  const s = orderRow(sb, orderId)?.['status'];
  return typeof s === 'string' ? s : undefined;
}

export function disputeStatus(sb: Sandbox, orderId: string): string | undefined {
  const db = new Database(`${sb.dir}/mostro.db`, { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare('SELECT status FROM disputes WHERE order_id = ?').get(uuidBlob(orderId)) as { status?: unknown } | undefined;
    return typeof r?.status === 'string' ? r.status : undefined;
  } finally {
    db.close();
  }
}

/** Write to the DB while the daemon is dead (to reproduce a crash window exactly). */
export function setOrderStatus(sb: Sandbox, orderId: string, status: string): void {
  assert.equal(sb.daemon, null, 'the daemon must be stopped');
  const db = new Database(`${sb.dir}/mostro.db`, { fileMustExist: true });
  try {
    const r = db.prepare('UPDATE orders SET status = ? WHERE id = ?').run(status, uuidBlob(orderId));
    assert.equal(r.changes, 1);
  } finally {
    db.close();
  }
}

export interface Trade {
  orderId: string;
  escrowHash: string;
  payoutHash: string;
  seller: TestClient;
  buyer: TestClient;
  sk: ClientKey;
  bk: ClientKey;
}

export interface Harness {
  sb: Sandbox;
  client(opts?: { identitySk?: Uint8Array }): Promise<TestClient>;
  /** A fixed-amount sell order (20 000 sat, 100 USD), status pending. */
  sellOrder(seller?: TestClient): Promise<{ orderId: string; seller: TestClient; sk: ClientKey }>;
  /** A sell order taken by a buyer with an invoice: waiting-payment, escrow open in LND. */
  takenOrder(): Promise<Trade>;
  /** Seller pays the escrow and both are told (active). */
  payEscrow(t: Trade): Promise<void>;
  /** fiat-sent + release; waits for purchase-completed and the payout to succeed. */
  finish(t: Trade): Promise<void>;
  settlesOf(hash: string): number;
  paymentsOf(hash: string): number;
  close(): Promise<void>;
}

export function harness(sb: Sandbox): Harness {
  const clients: TestClient[] = [];
  const h: Harness = {
    sb,
    async client(opts = {}) {
      const c = await TestClient.connect({
        relays: [sb.relay.url],
        mostroPubkey: sb.nodePubkey,
        ...(opts.identitySk !== undefined ? { identitySk: opts.identitySk } : {}),
      });
      clients.push(c);
      return c;
    },
    async sellOrder(existing) {
      const seller = existing ?? (await h.client());
      const sk = seller.tradeKey();
      await seller.send(msg('new-order', undefined, { tradeIndex: BigInt(sk.index), payload: { order: smallOrder({ amount: 20_000n, fiat_amount: 100n }) } }), { tradeKey: sk });
      const created = await seller.waitForAction(sk, 'new-order', 10_000);
      const orderId = created.message.kind.id;
      assert.ok(orderId !== undefined);
      return { orderId, seller, sk };
    },
    async takenOrder() {
      const { orderId, seller, sk } = await h.sellOrder();
      const buyer = await h.client();
      const bk = buyer.tradeKey();
      const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
      await buyer.send(msg('take-sell', orderId, { tradeIndex: BigInt(bk.index), payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: bk });
      await seller.waitForAction(sk, 'pay-invoice', 10_000);
      await buyer.waitForAction(bk, 'waiting-seller-to-pay', 10_000);
      const escrow = [...sb.sim.invoices.values()].find((i) => i.memo.includes(orderId));
      assert.ok(escrow !== undefined, 'escrow hold invoice exists in LND');
      return { orderId, escrowHash: escrow.hash, payoutHash: payout.hash, seller, buyer, sk, bk };
    },
    async payEscrow(t) {
      sb.sim.payHoldInvoice(t.escrowHash);
      await t.buyer.waitForAction(t.bk, 'hold-invoice-payment-accepted', 15_000);
      await t.seller.waitForAction(t.sk, 'buyer-took-order', 15_000);
    },
    async finish(t) {
      await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 7n }), { tradeKey: t.bk });
      await t.seller.waitForAction(t.sk, 'fiat-sent-ok', 10_000);
      await t.seller.send(msg('release', t.orderId, { requestId: 8n }), { tradeKey: t.sk });
      await t.buyer.waitForAction(t.bk, 'purchase-completed', 15_000);
      await waitFor('payout succeeded', () => sb.sim.paymentsByHash.get(t.payoutHash)?.status === 'SUCCEEDED');
    },
    settlesOf: (hash) => sb.sim.settles.filter((x) => x === hash).length,
    paymentsOf: (hash) => sb.sim.payments.filter((p) => p.hash === hash).length,
    async close() {
      for (const c of clients) await c.close();
      await sb.close();
    },
  };
  return h;
}

/** The cant-do reason of a reply (null when it is not a cant-do). */
export function cantDoReason(r: Reply): string | null {
  if (r.message.kind.action !== 'cant-do') return null;
  const p = r.message.kind.payload;
  return p !== null && 'cant_do' in p ? String(p.cant_do) : 'none';
}
