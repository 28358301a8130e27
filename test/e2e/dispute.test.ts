/**
 * Disputes against the BUILT daemon (issue 6; PROTOCOL.md §5.8, §5.14, §9.5): a buyer's dispute
 * settled by a solver the admin added over Nostr; a seller's dispute canceled by the admin over
 * gRPC; the admin taking over a solver's dispute; refused attempts (a stranger, a solver acting on a
 * dispute it has not taken). Messages, 38386 events, DB rows, and exactly one settle or cancel.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { npubEncode } from 'nostr-tools/nip19';
import type { TestClient, ClientKey, Reply } from '../support/client.js';
import {
  addressable,
  cancelsOf,
  cantDoReason,
  disputeRow,
  escrowOf,
  expectMsg,
  msg,
  order,
  orderEventStates,
  orderRow,
  paymentsOf,
  settlesOf,
  startE2E,
  tagValue,
  unconsumed,
  userRow,
  waitFor,
  waitForStatus,
  type E2E,
} from './e2e-harness.js';

interface AdminResponse {
  success: boolean;
  error_message?: string;
}
type Rpc = (req: Record<string, unknown>) => Promise<AdminResponse>;

function adminRpc(port: number): { call(method: string): Rpc; close(): void } {
  const def = protoLoader.loadSync(new URL('../../proto/admin.proto', import.meta.url).pathname, { keepCase: true, longs: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { mostro: { admin: { v1: { AdminService: grpc.ServiceClientConstructor } } } };
  const client = new pkg.mostro.admin.v1.AdminService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const c = client as unknown as Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: AdminResponse) => void) => void>;
  return {
    call: (method) => (req) =>
      new Promise((resolve, reject) => {
        const f = c[method];
        if (f === undefined) throw new Error(`no method ${method}`);
        f.call(client, req, (err, res) => (err !== null ? reject(err) : resolve(res)));
      }),
    close: () => client.close(),
  };
}

interface Active {
  orderId: string;
  seller: TestClient;
  ts: ClientKey;
  buyer: TestClient;
  tb: ClientKey;
  escrowHash: string;
  payoutHash: string;
}

function disputeOf(r: Reply): [string, unknown] {
  const p = r.message.kind.payload;
  assert.ok(p !== null && 'dispute' in p, `${r.message.kind.action} carries a dispute payload`);
  return p.dispute;
}

void describe('e2e disputes (built daemon, relay, LND simulator, admin gRPC)', () => {
  let e: E2E;
  let rpc: ReturnType<typeof adminRpc>;
  let admin: TestClient;
  let ak: ClientKey;
  let solver: TestClient;
  let sk: ClientKey;
  let solver2: TestClient;
  let sk2: ClientKey;

  before(async () => {
    e = await startE2E();
    rpc = adminRpc(e.sb.rpcPort);
    admin = await e.client({ identitySk: e.sb.nodeSecretKey });
    ak = admin.tradeKey();
    solver = await e.client();
    sk = solver.tradeKey();
    solver2 = await e.client();
    sk2 = solver2.tradeKey();
  });
  after(async () => {
    rpc.close();
    await e.close();
  });

  /** A 20 000-sat sell order taken with an invoice and paid: active. */
  async function activeTrade(): Promise<Active> {
    const { sb } = e;
    const seller = await e.client();
    const ts = seller.tradeKey();
    await seller.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: ts.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), { tradeKey: ts });
    const orderId = (await expectMsg(seller, ts, 'new-order', { requestId: 1n })).message.kind.id;
    assert.ok(orderId !== undefined);
    const buyer = await e.client();
    const tb = buyer.tradeKey();
    const payout = sb.sim.createPayeeInvoice({ sats: null, expirySeconds: 7200 });
    await buyer.send(msg('take-sell', orderId, { requestId: 2n, tradeIndex: tb.index, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(seller, ts, 'pay-invoice', { requestId: 2n });
    await expectMsg(buyer, tb, 'waiting-seller-to-pay', { requestId: 2n });
    const escrow = escrowOf(sb, orderId);
    sb.sim.payHoldInvoice(escrow.hash);
    await expectMsg(seller, ts, 'buyer-took-order');
    await expectMsg(buyer, tb, 'hold-invoice-payment-accepted');
    await waitForStatus(sb, orderId, 'active');
    return { orderId, seller, ts, buyer, tb, escrowHash: escrow.hash, payoutHash: payout.hash };
  }

  /** `by` opens a dispute; both told; returns the dispute id. */
  async function openDispute(t: Active, by: 'buyer' | 'seller', requestId: bigint): Promise<string> {
    const [me, mk, peer, pk] = by === 'buyer' ? [t.buyer, t.tb, t.seller, t.ts] : [t.seller, t.ts, t.buyer, t.tb];
    await me.send(msg('dispute', t.orderId, { requestId }), { tradeKey: mk });
    const mine = await expectMsg(me, mk, 'dispute-initiated-by-you', { id: t.orderId, requestId, tradeIndex: null, wrapper: 'order' });
    const theirs = await expectMsg(peer, pk, 'dispute-initiated-by-peer', { id: t.orderId, requestId, tradeIndex: null, wrapper: 'order' });
    const [did, info] = disputeOf(mine);
    assert.equal(info, null);
    assert.deepEqual(disputeOf(theirs), [did, null]);
    await waitFor('38386 initiated', () => addressable(e.sb, 38386, did).length >= 1);
    const ev = addressable(e.sb, 38386, did)[0]!;
    assert.deepEqual(ev.tags.map((x) => x[0]), ['d', 'expiration', 's', 'initiator', 'y', 'z']);
    assert.equal(tagValue(ev, 's'), 'initiated');
    assert.equal(tagValue(ev, 'initiator'), by);
    assert.equal(tagValue(ev, 'z'), 'dispute');
    const row = disputeRow(e.sb, t.orderId);
    assert.equal(row?.['status'], 'initiated');
    assert.equal(row?.['order_previous_status'], 'active');
    assert.equal(orderRow(e.sb, t.orderId)?.['status'], 'dispute');
    assert.equal(orderRow(e.sb, t.orderId)?.[by === 'buyer' ? 'buyer_dispute' : 'seller_dispute'], 1);
    return did;
  }

  const disputeStates = (did: string): string[] => addressable(e.sb, 38386, did).map((ev) => tagValue(ev, 's') ?? '?');

  void test('admin adds a solver over Nostr (sealed by the node key); strangers are ignored', async () => {
    const { sb } = e;
    // a stranger cannot add solvers: silent
    const stranger = await e.client();
    const xk = stranger.tradeKey();
    await stranger.send(msg('admin-add-solver', randomUUID(), { wrapper: 'dispute', requestId: 90n, payload: { text_message: npubEncode(stranger.identity.pubkey) } }), { tradeKey: xk });

    for (const [c, who] of [[solver, 91n], [solver2, 92n]] as const) {
      await admin.send(msg('admin-add-solver', randomUUID(), { wrapper: 'dispute', requestId: who, payload: { text_message: npubEncode(c.identity.pubkey) } }), { tradeKey: ak });
      const ack = await expectMsg(admin, ak, 'admin-add-solver', { requestId: who, tradeIndex: null, wrapper: 'dispute' });
      assert.equal(ack.message.kind.payload, null);
      await waitFor('solver row', () => userRow(sb, c.identity.pubkey)?.['is_solver'] === 1);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(userRow(sb, stranger.identity.pubkey)?.['is_solver'] ?? 0, 0);
    assert.deepEqual(stranger.actions(xk), [], 'no reply to a stranger');
  });

  void test('buyer disputes; a stranger is refused; the solver takes it and settles; one settle, one payout', async () => {
    const { sb } = e;
    const t = await activeTrade();
    const did = await openDispute(t, 'buyer', 10n);
    // a second dispute on the same order is ignored silently
    await t.seller.send(msg('dispute', t.orderId, { requestId: 11n }), { tradeKey: t.ts });

    // a stranger (not a solver) can neither take nor settle
    const stranger = await e.client();
    const xk = stranger.tradeKey();
    await stranger.send(msg('admin-take-dispute', did, { wrapper: 'dispute', requestId: 12n }), { tradeKey: xk });
    const r12 = await stranger.waitFor((r) => r.message.kind.action === 'cant-do' && r.message.kind.request_id === 12n, 10_000);
    assert.equal(cantDoReason(r12), 'invalid_pubkey');
    await stranger.send(msg('admin-settle', t.orderId, { wrapper: 'dispute', requestId: 13n }), { tradeKey: xk });
    const r13 = await stranger.waitFor((r) => r.message.kind.action === 'cant-do' && r.message.kind.request_id === 13n, 10_000);
    assert.equal(cantDoReason(r13), 'is_not_your_dispute');
    assert.equal(disputeRow(sb, t.orderId)?.['status'], 'initiated');

    // the solver takes it: full info to its seal key, the parties learn the solver's key
    await solver.send(msg('admin-take-dispute', did, { wrapper: 'dispute', requestId: 14n }), { tradeKey: sk });
    const took = await expectMsg(solver, solver.identity.pubkey, 'admin-took-dispute', { id: did, requestId: 14n, tradeIndex: null, wrapper: 'dispute' });
    const [did2, info] = disputeOf(took);
    assert.equal(did2, did);
    assert.ok(info !== null && typeof info === 'object');
    const sdi = info as Record<string, unknown>;
    assert.equal(sdi['id'], t.orderId);
    assert.equal(sdi['status'], 'dispute');
    assert.equal(sdi['order_previous_status'], 'active');
    assert.equal(sdi['initiator_pubkey'], t.tb.pubkey);
    assert.equal(sdi['buyer_pubkey'], t.tb.pubkey);
    assert.equal(sdi['seller_pubkey'], t.ts.pubkey);
    assert.equal(sdi['hash'], t.escrowHash);
    assert.equal(sdi['amount'], 20_000n);
    for (const [c, k] of [[t.buyer, t.tb], [t.seller, t.ts]] as const) {
      const m = await expectMsg(c, k, 'admin-took-dispute', { id: t.orderId, requestId: 14n, wrapper: 'order' });
      assert.deepEqual(m.message.kind.payload, { peer: { pubkey: solver.identity.pubkey, reputation: null } });
    }
    await waitFor('38386 in-progress', () => disputeStates(did).at(-1) === 'in-progress');
    assert.equal(disputeRow(sb, t.orderId)?.['status'], 'in-progress');
    assert.equal(disputeRow(sb, t.orderId)?.['solver_pubkey'], solver.identity.pubkey);

    // another solver cannot take an in-progress dispute, nor settle a dispute it has not taken
    await solver2.send(msg('admin-take-dispute', did, { wrapper: 'dispute', requestId: 15n }), { tradeKey: sk2 });
    const r15 = await solver2.waitFor((r) => r.message.kind.action === 'cant-do' && r.message.kind.request_id === 15n, 10_000);
    assert.equal(cantDoReason(r15), 'invalid_pubkey');
    await solver2.send(msg('admin-settle', t.orderId, { wrapper: 'dispute', requestId: 16n }), { tradeKey: sk2 });
    const r16 = await solver2.waitFor((r) => r.message.kind.action === 'cant-do' && r.message.kind.request_id === 16n, 10_000);
    assert.equal(cantDoReason(r16), 'is_not_your_dispute');
    assert.equal(settlesOf(sb, t.escrowHash), 0);

    // the solver settles: escrow settled once, buyer paid once
    await solver.send(msg('admin-settle', t.orderId, { wrapper: 'dispute', requestId: 17n }), { tradeKey: sk });
    await expectMsg(solver, sk, 'admin-settled', { id: t.orderId, requestId: 17n });
    await expectMsg(t.seller, t.ts, 'admin-settled', { id: t.orderId, requestId: null });
    await expectMsg(t.buyer, t.tb, 'admin-settled', { id: t.orderId, requestId: null });
    await expectMsg(t.buyer, t.tb, 'purchase-completed', { id: t.orderId, requestId: null });
    await expectMsg(t.buyer, t.tb, 'rate', { id: t.orderId, requestId: 17n });
    await waitForStatus(sb, t.orderId, 'success');
    await waitFor('38386 settled', () => disputeStates(did).at(-1) === 'settled');
    assert.deepEqual(disputeStates(did), ['initiated', 'in-progress', 'settled']);
    assert.equal(disputeRow(sb, t.orderId)?.['status'], 'settled');
    await waitFor('38383 success', () => orderEventStates(sb, t.orderId).at(-1) === 'success');
    assert.equal(settlesOf(sb, t.escrowHash), 1);
    assert.equal(cancelsOf(sb, t.escrowHash), 0);
    assert.equal(paymentsOf(sb, t.payoutHash), 1);
    assert.deepEqual(unconsumed(t.seller, t.ts).filter((a) => a !== 'rate'), [], 'the repeated dispute got no reply');
  });

  void test('seller disputes; the admin takes it and cancels over gRPC; one cancel, no settle', async () => {
    const { sb } = e;
    const t = await activeTrade();
    await t.buyer.send(msg('fiat-sent', t.orderId, { requestId: 20n }), { tradeKey: t.tb });
    await expectMsg(t.buyer, t.tb, 'fiat-sent-ok', { requestId: 20n });
    await expectMsg(t.seller, t.ts, 'fiat-sent-ok');
    await waitForStatus(sb, t.orderId, 'fiat-sent');
    await t.seller.send(msg('dispute', t.orderId, { requestId: 21n }), { tradeKey: t.ts });
    const mine = await expectMsg(t.seller, t.ts, 'dispute-initiated-by-you', { requestId: 21n });
    await expectMsg(t.buyer, t.tb, 'dispute-initiated-by-peer', { requestId: 21n });
    const [did] = disputeOf(mine);
    assert.equal(disputeRow(sb, t.orderId)?.['order_previous_status'], 'fiat-sent');

    const take = await rpc.call('TakeDispute')({ dispute_id: did, request_id: '22' });
    assert.equal(take.success, true, take.error_message);
    for (const [c, k] of [[t.buyer, t.tb], [t.seller, t.ts]] as const) {
      const m = await expectMsg(c, k, 'admin-took-dispute', { id: t.orderId, wrapper: 'order' });
      assert.deepEqual(m.message.kind.payload, { peer: { pubkey: sb.nodePubkey, reputation: null } });
    }
    await waitFor('dispute in-progress held by the node key', () => disputeRow(sb, t.orderId)?.['solver_pubkey'] === sb.nodePubkey);
    // a solver cannot cancel a dispute the admin holds
    await solver.send(msg('admin-cancel', t.orderId, { wrapper: 'dispute', requestId: 23n }), { tradeKey: sk });
    const r23 = await solver.waitFor((r) => r.message.kind.action === 'cant-do' && r.message.kind.request_id === 23n, 10_000);
    assert.equal(cantDoReason(r23), 'dispute_taken_by_admin');

    const cancel = await rpc.call('CancelOrder')({ order_id: t.orderId, request_id: '24' });
    assert.equal(cancel.success, true, cancel.error_message);
    await expectMsg(t.seller, t.ts, 'admin-canceled', { id: t.orderId });
    await expectMsg(t.buyer, t.tb, 'admin-canceled', { id: t.orderId });
    await waitForStatus(sb, t.orderId, 'canceled-by-admin');
    await waitFor('38386 seller-refunded', () => disputeStates(did).at(-1) === 'seller-refunded');
    assert.deepEqual(disputeStates(did), ['initiated', 'in-progress', 'seller-refunded']);
    assert.equal(tagValue(addressable(sb, 38386, did).at(-1)!, 'initiator'), 'seller');
    await waitFor('38383 canceled', () => orderEventStates(sb, t.orderId).at(-1) === 'canceled');
    await waitFor('escrow canceled', () => cancelsOf(sb, t.escrowHash) === 1);

    // a second cancel is refused and changes nothing
    const again = await rpc.call('CancelOrder')({ order_id: t.orderId, request_id: '25' });
    assert.equal(again.success, false);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(cancelsOf(sb, t.escrowHash), 1, 'canceled exactly once');
    assert.equal(settlesOf(sb, t.escrowHash), 0, 'never settled');
    assert.equal(paymentsOf(sb, t.payoutHash), 0, 'buyer never paid');
  });

  void test('the admin takes over a solver\'s dispute (Nostr); the solver is then refused; the admin cancels', async () => {
    const { sb } = e;
    const t = await activeTrade();
    const did = await openDispute(t, 'buyer', 30n);
    await solver.send(msg('admin-take-dispute', did, { wrapper: 'dispute', requestId: 31n }), { tradeKey: sk });
    await expectMsg(solver, solver.identity.pubkey, 'admin-took-dispute', { id: did, requestId: 31n });
    await waitFor('solver holds it', () => disputeRow(sb, t.orderId)?.['solver_pubkey'] === solver.identity.pubkey);
    for (const [c, k] of [[t.buyer, t.tb], [t.seller, t.ts]] as const) await expectMsg(c, k, 'admin-took-dispute', { requestId: 31n });

    await admin.send(msg('admin-take-dispute', did, { wrapper: 'dispute', requestId: 32n }), { tradeKey: ak });
    // (match on the id: the gRPC TakeDispute above also answered to the node key)
    await expectMsg(admin, admin.identity.pubkey, 'admin-took-dispute', { id: did, requestId: 32n, wrapper: 'dispute', match: (r) => r.message.kind.id === did });
    for (const [c, k] of [[t.buyer, t.tb], [t.seller, t.ts]] as const) {
      const m = await expectMsg(c, k, 'admin-took-dispute', { requestId: 32n });
      assert.deepEqual(m.message.kind.payload, { peer: { pubkey: sb.nodePubkey, reputation: null } });
    }
    await waitFor('admin holds it', () => disputeRow(sb, t.orderId)?.['solver_pubkey'] === sb.nodePubkey);
    assert.equal(disputeRow(sb, t.orderId)?.['status'], 'in-progress');

    await solver.send(msg('admin-settle', t.orderId, { wrapper: 'dispute', requestId: 33n }), { tradeKey: sk });
    const r33 = await solver.waitFor((r) => r.message.kind.action === 'cant-do' && r.message.kind.request_id === 33n, 10_000);
    assert.equal(cantDoReason(r33), 'dispute_taken_by_admin');
    assert.equal(settlesOf(sb, t.escrowHash), 0);

    await admin.send(msg('admin-cancel', t.orderId, { wrapper: 'dispute', requestId: 34n }), { tradeKey: ak });
    await expectMsg(admin, ak, 'admin-canceled', { id: t.orderId, requestId: 34n });
    await expectMsg(t.seller, t.ts, 'admin-canceled', { id: t.orderId, requestId: 34n });
    await expectMsg(t.buyer, t.tb, 'admin-canceled', { id: t.orderId, requestId: 34n });
    await waitForStatus(sb, t.orderId, 'canceled-by-admin');
    await waitFor('escrow canceled', () => cancelsOf(sb, t.escrowHash) === 1);
    await waitFor('38386 seller-refunded', () => disputeStates(did).at(-1) === 'seller-refunded');
    assert.equal(settlesOf(sb, t.escrowHash), 0);
    assert.equal(paymentsOf(sb, t.payoutHash), 0);
  });
});
