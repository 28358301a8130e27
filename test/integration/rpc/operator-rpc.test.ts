import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GrpcReflection } from 'grpc-js-reflection-client';
import type { AppContext } from '../../../src/context.js';
import { casUpdateOrder } from '../../../src/db/orders.js';
import { listAudit } from '../../../src/ops/audit.js';
import { PublicationLedgerOutbox, recordOrderPublication } from '../../../src/ops/publication-ledger.js';
import { parseTokenFile } from '../../../src/rpc/auth.js';
import { ADMIN_PROTO_PATH, OPERATOR_PROTO_PATH, startRpcServer, type RpcServerHandle } from '../../../src/rpc/server.js';
import { makeTestContext, type TestContext } from '../../support/test-context.js';
import { createOrder, lastOrderEvent, party, reload, tag } from '../../support/trade-fixtures.js';
import { nip19 } from '../../../src/crypto/nip19.js';
import { escrowedTrade, openDispute, type Trade } from '../../unit/app/handlers/dispute-fixture.js';

const NOW = 1_700_000_000;
const TOKEN = 'a'.repeat(20) + 'b'.repeat(20);
const OTHER = 'c'.repeat(40);

type Client = grpc.Client & Record<string, (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

const LOADER = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function client(address: string, proto: string, path: string[]): Client {
  let node: any = grpc.loadPackageDefinition(protoLoader.loadSync(proto, LOADER));
  for (const p of path) node = node[p];
  return new (node as grpc.ServiceClientConstructor)(address, grpc.credentials.createInsecure()) as unknown as Client;
}

function bearer(token: string | null): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== null) md.set('authorization', `Bearer ${token}`);
  return md;
}

function call<T = any>(c: Client, method: string, req: unknown, token: string | null = TOKEN): Promise<T> {
  return new Promise((resolve, reject) => {
    c[method]!(req, bearer(token), (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

async function rejectsWith(p: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, err.details);
    if (details) assert.match(err.details, details);
    return true;
  });
}

/** A settled escrow whose buyer can be paid (LND decodes the buyer invoice, the escrow is SETTLED). */
async function settledTrade(ctx: TestContext, order: Parameters<typeof escrowedTrade>[1] = {}): Promise<Trade> {
  const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', ...order });
  await ctx.lightning.settleHoldInvoice(t.preimage);
  ctx.lightning.registerPaymentRequest(t.order.buyer_invoice!, { amountMsat: BigInt(t.order.amount - t.order.fee) * 1000n });
  return t;
}

void describe('OperatorService over a real gRPC client', () => {
  let ctx: TestContext;
  let opCtx: AppContext;
  let server: RpcServerHandle;
  let address: string;
  let op: Client;

  before(async () => {
    ctx = await makeTestContext({ now: NOW });
    // The daemon's outbox records every 38383 it queues (what RepublishOrder / ListStuck rely on).
    opCtx = { ...ctx, outbox: new PublicationLedgerOutbox(ctx.outbox, ctx.db, ctx.clock, ctx.logger) };
    server = await startRpcServer(opCtx, {
      listenAddress: '127.0.0.1',
      port: 0,
      staleSeconds: 3600,
      authTokens: parseTokenFile(`# operators\nalice ${TOKEN}\n`),
      operator: { connectedRelays: () => ['ws://relay.test'], startedAt: NOW - 60, version: '0.17.1' },
    });
    address = `127.0.0.1:${server.port}`;
    op = client(address, OPERATOR_PROTO_PATH, ['mostro', 'operator', 'v1', 'OperatorService']);
  });

  after(async () => {
    op.close();
    await ctx.tasks.idle();
    await server.close();
  });

  void test('reflection lists both services (no token needed to describe the API)', async () => {
    const refl = new GrpcReflection(address, grpc.credentials.createInsecure());
    const services = await refl.listServices();
    assert.ok(services.includes('mostro.admin.v1.AdminService'));
    assert.ok(services.includes('mostro.operator.v1.OperatorService'));
    const methods = (await refl.listMethods('mostro.operator.v1.OperatorService')).map((m) => m.name).sort();
    assert.deepEqual(methods, ['BanUser', 'GetOrder', 'ListBanned', 'ListDisputes', 'ListStuck', 'NodeStatus', 'ReconcileNow', 'RepublishOrder', 'RetryPayout', 'UnbanUser']);
  });

  void test('NodeStatus', async () => {
    await escrowedTrade(ctx, { status: 'active' });
    const s = await call(op, 'NodeStatus', {});
    assert.equal(s.pubkey, ctx.keys.pubkey);
    assert.match(s.npub, /^npub1/);
    assert.equal(s.version, '0.17.1');
    assert.equal(s.started_at, String(NOW - 60));
    assert.equal(s.lightning.state, 'up');
    assert.equal(s.lightning.block_height, '1000');
    assert.deepEqual(s.relays_connected, ['ws://relay.test']);
    assert.deepEqual(s.relays_configured, ctx.settings.nostr.relays);
    assert.ok(s.orders_by_status.some((c: { status: string; count: string }) => c.status === 'active' && Number(c.count) >= 1));
    assert.equal(s.auth_required, true);
    assert.equal(s.backup, null);
  });

  void test('GetOrder decodes the whole row; unknown and malformed ids are errors', async () => {
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'buyer');
    const r = await call(op, 'GetOrder', { order_id: t.order.id.replace(/-/g, '').toUpperCase() });
    const o = r.order;
    assert.equal(o.id, t.order.id);
    assert.equal(o.status, 'dispute');
    assert.equal(o.kind, 'sell');
    assert.equal(o.amount, '10000');
    assert.equal(o.fee, '30');
    assert.equal(o.buyer_payout_sats, '9970');
    assert.equal(o.hash, t.hash);
    assert.equal(o.buyer_dispute, true);
    assert.equal(o.price_from_api, false);
    assert.equal(o.seller_dispute, false);
    assert.equal(o.master_buyer_pubkey, t.buyer.identity.pubkey);
    assert.equal(o.range_parent_id, '', 'NULL column left unset');
    assert.equal(o.payout_payment_hash, '');
    assert.equal(o.payout_claim_seq, '0');
    assert.equal(typeof o.extra, 'object', 'columns added later come as text in extra');
    assert.equal(o.expected_public_status, 'in-progress');
    assert.equal(r.dispute.id, d.id);
    assert.equal(r.dispute.status, 'initiated');
    await rejectsWith(call(op, 'GetOrder', { order_id: '00000000-0000-4000-8000-000000000000' }), grpc.status.NOT_FOUND);
    await rejectsWith(call(op, 'GetOrder', { order_id: 'nope' }), grpc.status.INVALID_ARGUMENT, /invalid order_id "nope"/);
  });

  void test('ListStuck finds each seeded stuck state', async () => {
    const unpaid = await settledTrade(ctx, { order: { failed_payment: 1, payment_attempts: 3 } });
    const stranded = await settledTrade(ctx, { order: { payout_payment_hash: 'ab'.repeat(32), payout_claimed_at: NOW - 1000 } });
    const nearDeadline = await escrowedTrade(ctx, { status: 'fiat-sent' }); // HTLC expiry 1144
    const ghost = await escrowedTrade(ctx, { status: 'canceled' });
    await recordOrderPublication(ctx.db, { orderId: ghost.order.id, status: 'pending', eventId: 'ee'.repeat(32), createdAt: NOW - 500, recordedAt: NOW - 500 });
    const lost = await escrowedTrade(ctx, { status: 'success', order: { payout_lost_success_hash: 'ef'.repeat(32) } });
    const orphan = await escrowedTrade(ctx, { status: 'fiat-sent' });
    const od = await openDispute(ctx, orphan, 'seller');
    assert.ok(await casUpdateOrder(ctx.db, orphan.order.id, { status: 'dispute' }, { status: 'cooperatively-canceled' }));
    ctx.lightning.info!.blockHeight = 1100;

    const res = await call(op, 'ListStuck', { deadline_blocks: 50 });
    assert.deepEqual(res.errors, []);
    const find = (kind: string, id: string) => res.items.find((i: any) => i.kind === kind && i.order_id === id);
    assert.match(find('unpaid-settled', unpaid.order.id)?.detail ?? '', /3 of 3 attempts failed; attempts exhausted/);
    assert.match(find('stranded-payout', stranded.order.id)?.detail ?? '', /claimed 1000 s ago/);
    assert.match(find('escrow-near-deadline', nearDeadline.order.id)?.detail ?? '', /expires at height 1144 \(tip 1100, 44 blocks left\)/);
    assert.match(find('public-event-lag', ghost.order.id)?.detail ?? '', /says "pending".*implies "canceled"/);
    assert.match(find('lost-payout-success', lost.order.id)?.detail ?? '', new RegExp(`payout ${'ef'.repeat(32)} SUCCEEDED`));
    const o = find('orphaned-dispute', orphan.order.id);
    assert.equal(o?.dispute_id, od.id);
    assert.equal(o?.order_status, 'cooperatively-canceled');
    // With a narrower window the escrow is not near its deadline yet.
    const narrow = await call(op, 'ListStuck', { deadline_blocks: 10 });
    assert.equal(narrow.items.some((i: any) => i.kind === 'escrow-near-deadline' && i.order_id === nearDeadline.order.id), false);
    // Lightning down: the deadline check is reported as not run, the others still answer.
    ctx.lightning.setState('down');
    try {
      const down = await call(op, 'ListStuck', {});
      assert.deepEqual(down.errors, ['escrow deadlines not checked: Lightning node is down']);
      assert.ok(down.items.some((i: any) => i.kind === 'stranded-payout'));
    } finally {
      ctx.lightning.setState('up');
      ctx.lightning.info!.blockHeight = 1000;
    }
  });

  void test('RetryPayout pays a settled order once; repeats and ineligible orders are refused; all audited', async () => {
    const t = await settledTrade(ctx, { order: { failed_payment: 1, payment_attempts: 3 } });
    const paid = await call(op, 'RetryPayout', { order_id: t.order.id });
    assert.deepEqual(paid, { outcome: 'succeeded', detail: 'buyer paid; order completed', order_status: 'success' });
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    const payments = ctx.lightning.payments.filter((p) => p.request.paymentRequest === t.order.buyer_invoice);
    assert.equal(payments.length, 1);
    assert.equal(ctx.outbox.actions(t.buyer.trade.pubkey).includes('purchase-completed'), true);

    const again = await call(op, 'RetryPayout', { order_id: t.order.id });
    assert.equal(again.outcome, 'refused');
    assert.match(again.detail, /order is success/);
    assert.equal(ctx.lightning.payments.filter((p) => p.request.paymentRequest === t.order.buyer_invoice).length, 1, 'never paid twice');

    const inFlight = await settledTrade(ctx, { order: { payout_payment_hash: 'cd'.repeat(32), payout_claimed_at: NOW - 5 } });
    const r = await call(op, 'RetryPayout', { order_id: inFlight.order.id });
    assert.equal(r.outcome, 'refused');
    assert.match(r.detail, /in flight/);

    await rejectsWith(call(op, 'RetryPayout', { order_id: 'x' }), grpc.status.INVALID_ARGUMENT);

    const audit = await listAudit(ctx.db, { target: t.order.id });
    assert.deepEqual(
      audit.map((a) => [a.action, a.who, a.outcome]),
      [
        ['RetryPayout', 'alice@127.0.0.1', 'refused'],
        ['RetryPayout', 'alice@127.0.0.1', 'ok'],
      ],
    );
    assert.match(audit[1]!.detail, /^succeeded: buyer paid/);
    assert.equal(audit[1]!.at, ctx.clock.now());
    const bad = (await listAudit(ctx.db)).find((a) => a.target === null && a.action === 'RetryPayout');
    assert.equal(bad?.outcome, 'refused');
  });

  void test('RepublishOrder publishes the DB state (canceled ghost; active order still public as pending)', async () => {
    const ghost = await escrowedTrade(ctx, { status: 'canceled' });
    await recordOrderPublication(ctx.db, { orderId: ghost.order.id, status: 'pending', eventId: 'ef'.repeat(32), createdAt: NOW - 500, recordedAt: NOW - 500 });
    const r = await call(op, 'RepublishOrder', { order_id: ghost.order.id });
    assert.equal(r.outcome, 'published');
    assert.equal(r.order_status, 'canceled');
    const ev = lastOrderEvent(ctx, ghost.order.id);
    assert.equal(tag(ev!, 's')?.[0], 'canceled');
    assert.equal((await reload(ctx, ghost.order.id)).event_id, ev!.id);

    const active = await escrowedTrade(ctx, { status: 'active' });
    await recordOrderPublication(ctx.db, { orderId: active.order.id, status: 'pending', eventId: 'fe'.repeat(32), createdAt: NOW - 500, recordedAt: NOW - 500 });
    const a = await call(op, 'RepublishOrder', { order_id: active.order.id });
    assert.equal(a.outcome, 'published');
    assert.equal(tag(lastOrderEvent(ctx, active.order.id)!, 's')?.[0], 'in-progress');

    const stuck = await call(op, 'ListStuck', {});
    assert.equal(
      stuck.items.some((i: any) => i.kind === 'public-event-lag' && [ghost.order.id, active.order.id].includes(i.order_id)),
      false,
      'no longer lagging',
    );
    const missing = await call(op, 'RepublishOrder', { order_id: '00000000-0000-4000-8000-000000000001' });
    assert.deepEqual(missing, { outcome: 'refused', detail: 'order not found', order_status: '' });
  });

  void test('ReconcileNow resolves a payout LND finished and is audited', async () => {
    const t = await settledTrade(ctx);
    const hash = ctx.lightning.registerPaymentRequest(t.order.buyer_invoice!).hash;
    assert.ok(await casUpdateOrder(ctx.db, t.order.id, { status: 'settled-hold-invoice' }, { payout_payment_hash: hash, payout_claimed_at: NOW - 1000 }));
    ctx.lightning.setPaymentResult(hash, { hash, state: 'succeeded', preimage: '00'.repeat(32), feeSats: 0 });
    const r = await call(op, 'ReconcileNow', {});
    assert.ok(Number(r.payouts_succeeded) >= 1);
    assert.equal(r.escrow_deadlines_checked, true);
    assert.deepEqual(r.errors, []);
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    // Idempotent: a second run finds nothing more to do for this order.
    const again = await call(op, 'ReconcileNow', {});
    assert.equal(again.payouts_succeeded, '0');
    const audit = (await listAudit(ctx.db)).filter((a) => a.action === 'ReconcileNow');
    assert.equal(audit.length, 2);
    assert.equal(audit[0]!.outcome, 'ok');
  });

  void test('ListDisputes with the order status, filter and bad filter', async () => {
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'seller');
    const all = await call(op, 'ListDisputes', {});
    const mine = all.disputes.find((x: any) => x.id === d.id);
    assert.equal(mine.order_id, t.order.id);
    assert.equal(mine.order_status, 'dispute');
    const initiated = await call(op, 'ListDisputes', { status: 'initiated' });
    assert.ok(initiated.disputes.every((x: any) => x.status === 'initiated'));
    assert.ok(initiated.disputes.some((x: any) => x.id === d.id));
    await rejectsWith(call(op, 'ListDisputes', { status: 'bogus' }), grpc.status.INVALID_ARGUMENT, /unknown dispute status/);
  });

  void test('BanUser / ListBanned / UnbanUser: npub or hex, pending orders withdrawn, bad keys refused; all audited', async () => {
    const spammer = await party(ctx);
    const o = await createOrder(ctx, spammer, { amount: 20_000n });
    const npub = nip19.npubEncode(spammer.identity.pubkey);
    const r = await call(op, 'BanUser', { pubkey: npub, reason: 'fake orders' });
    assert.deepEqual(r, { outcome: 'banned', pubkey: spammer.identity.pubkey, canceled_orders: [o.id], kept_orders: [], failed_orders: [] });
    assert.equal((await reload(ctx, o.id)).status, 'canceled-by-admin');
    // The ledger outbox recorded the withdrawal's event (what the operator's lag check reads).
    assert.equal(tag(lastOrderEvent(ctx, o.id)!, 's')?.[0], 'canceled');
    assert.equal(ctx.bans.has(spammer.identity.pubkey), true);
    assert.equal((await call(op, 'BanUser', { pubkey: spammer.identity.pubkey.toUpperCase() })).outcome, 'already-banned');

    const listed = await call(op, 'ListBanned', {});
    const u = listed.users.find((x: any) => x.pubkey === spammer.identity.pubkey);
    assert.equal(u.npub, npub);
    assert.equal(u.reason, 'fake orders');
    assert.equal(u.banned_by, 'alice@127.0.0.1');
    assert.equal(u.banned_at, String(ctx.clock.now()));
    assert.equal(u.open_orders, '0');

    await rejectsWith(call(op, 'BanUser', { pubkey: 'npub1nope' }), grpc.status.INVALID_ARGUMENT, /invalid pubkey/);
    await rejectsWith(call(op, 'BanUser', { pubkey: ctx.keys.pubkey }), grpc.status.INVALID_ARGUMENT, /own key/);
    assert.equal((await call(op, 'UnbanUser', { pubkey: npub })).outcome, 'unbanned');
    assert.equal((await call(op, 'UnbanUser', { pubkey: npub })).outcome, 'not-banned');
    assert.equal(ctx.bans.has(spammer.identity.pubkey), false);
    assert.equal((await call(op, 'ListBanned', {})).users.some((x: any) => x.pubkey === spammer.identity.pubkey), false);

    const audit = await listAudit(ctx.db, { target: spammer.identity.pubkey });
    assert.deepEqual(audit.map((a) => [a.action, a.outcome, a.detail]).reverse(), [
      ['BanUser', 'ok', 'banned; pending orders canceled 1, kept 0, failed 0'],
      ['BanUser', 'ok', 'already-banned; pending orders canceled 0, kept 0, failed 0'],
      ['UnbanUser', 'ok', 'unbanned'],
      ['UnbanUser', 'ok', 'not-banned'],
    ]);
    const refused = (await listAudit(ctx.db, { limit: 10 })).filter((a) => a.action === 'BanUser' && a.outcome === 'refused');
    assert.equal(refused.length, 2);
  });
});

void describe('bearer-token authentication of both services', () => {
  let ctx: TestContext;
  let server: RpcServerHandle;
  let op: Client;
  let admin: Client;

  before(async () => {
    ctx = await makeTestContext({ now: NOW });
    server = await startRpcServer(ctx, {
      listenAddress: '127.0.0.1',
      port: 0,
      staleSeconds: 3600,
      authTokens: parseTokenFile(`${TOKEN}\n`),
    });
    const address = `127.0.0.1:${server.port}`;
    op = client(address, OPERATOR_PROTO_PATH, ['mostro', 'operator', 'v1', 'OperatorService']);
    admin = client(address, ADMIN_PROTO_PATH, ['mostro', 'admin', 'v1', 'AdminService']);
  });

  after(async () => {
    op.close();
    admin.close();
    await server.close();
  });

  void test('missing or wrong token is refused on both services; the right one passes', async () => {
    await rejectsWith(call(op, 'NodeStatus', {}, null), grpc.status.UNAUTHENTICATED, /bearer token/);
    ctx.clock.advance(10);
    await rejectsWith(call(admin, 'GetVersion', {}, OTHER), grpc.status.UNAUTHENTICATED);
    ctx.clock.advance(10);
    assert.equal((await call(admin, 'GetVersion', {})).version, '0.17.1');
    assert.equal((await call(op, 'NodeStatus', {})).auth_required, true);
  });

  void test('failed authentications lock the address out, but never a caller with the right token', async () => {
    ctx.clock.advance(4000); // clean slate
    for (let i = 0; i < 5; i++) {
      await rejectsWith(call(op, 'NodeStatus', {}, OTHER), grpc.status.UNAUTHENTICATED);
      ctx.clock.advance(20);
    }
    // Locked out for wrong tokens…
    await rejectsWith(call(op, 'NodeStatus', {}, OTHER), grpc.status.RESOURCE_EXHAUSTED, /Too many requests/);
    await rejectsWith(call(admin, 'GetVersion', {}, null), grpc.status.RESOURCE_EXHAUSTED);
    // …while the operator with the right token, from the same address, still gets in.
    assert.equal((await call(admin, 'GetVersion', {})).version, '0.17.1');
    assert.equal((await call(op, 'NodeStatus', {})).pubkey, ctx.keys.pubkey);
    ctx.clock.advance(301);
    await rejectsWith(call(op, 'NodeStatus', {}, OTHER), grpc.status.UNAUTHENTICATED, /bearer token/);
  });

  void test('five ordinary refused calls with the right token do not lock anyone out', async () => {
    ctx.clock.advance(4000);
    for (let i = 0; i < 6; i++) {
      const r = await call(admin, 'CancelOrder', { order_id: 'bad' });
      assert.equal(r.success, false);
      await rejectsWith(call(op, 'GetOrder', { order_id: 'bad' }), grpc.status.INVALID_ARGUMENT);
    }
    assert.equal((await call(admin, 'GetVersion', {})).version, '0.17.1');
  });
});

void describe('token file', () => {
  void test('parses named and bare tokens, refuses short, duplicate and empty files', () => {
    assert.deepEqual(parseTokenFile(`# c\n\nalice ${TOKEN}\nbob ${OTHER}\n`).map((t) => t.name), ['alice', 'bob']);
    assert.deepEqual(parseTokenFile(`${TOKEN}\n`).map((t) => t.name), ['operator']);
    assert.throws(() => parseTokenFile('short\n', 'f'), /f line 1: token shorter than 32/);
    assert.throws(() => parseTokenFile(`a ${TOKEN}\na ${OTHER}\n`), /duplicate token name/);
    assert.throws(() => parseTokenFile('# nothing\n'), /holds no token/);
    assert.throws(() => parseTokenFile(`a b ${TOKEN}\n`), /expected "\[name\] token"/);
  });
});
