import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GrpcReflection } from 'grpc-js-reflection-client';
import { nip19 } from 'nostr-tools';
import { getDispute } from '../../../src/db/disputes.js';
import { getUser } from '../../../src/db/users.js';
import { listAudit } from '../../../src/ops/audit.js';
import { ADMIN_PROTO_PATH, startRpcServer, type RpcServerHandle } from '../../../src/rpc/server.js';
import { makeTestContext, newKeys, type TestContext } from '../../support/test-context.js';
import { reload } from '../../support/trade-fixtures.js';
import { escrowedTrade, openDispute } from '../../unit/app/handlers/dispute-fixture.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface AdminResponse {
  success: boolean;
  error_message?: string;
}

type Client = grpc.Client & Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

function adminClient(address: string): Client {
  const def = protoLoader.loadSync(ADMIN_PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Ctor = pkg.mostro.admin.v1.AdminService as grpc.ServiceClientConstructor;
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as Client;
}

function call<T = AdminResponse>(client: Client, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!(req, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

const NOW = 1_700_000_000;

void describe('admin gRPC server (DAEMON.md §7)', () => {
  let ctx: TestContext;
  let server: RpcServerHandle;
  let address: string;
  let client: Client;

  /** Step past any backoff/lockout so each scenario starts clean. */
  const calm = () => ctx.clock.advance(3_700); // past lockout and the 3600 s retention: a clean slate

  before(async () => {
    ctx = await makeTestContext({ now: NOW });
    server = await startRpcServer(ctx, { listenAddress: '127.0.0.1', port: 0, staleSeconds: 3600 });
    address = `127.0.0.1:${server.port}`;
    client = adminClient(address);
  });

  after(async () => {
    client.close();
    await ctx.tasks.idle();
    await server.close();
  });

  void test('port 0 binds a random port', () => {
    assert.ok(server.port > 0);
  });

  void test('reflection lists the service and its six methods', async () => {
    const refl = new GrpcReflection(address, grpc.credentials.createInsecure());
    const services = await refl.listServices();
    assert.ok(services.includes('mostro.admin.v1.AdminService'), services.join(','));
    const methods = (await refl.listMethods('mostro.admin.v1.AdminService')).map((m) => m.name).sort();
    assert.deepEqual(methods, ['AddSolver', 'CancelOrder', 'GetVersion', 'SettleOrder', 'TakeDispute', 'ValidateDbPassword']);
  });

  void test('GetVersion and ValidateDbPassword', async () => {
    calm();
    assert.deepEqual(await call(client, 'GetVersion', {}), { version: '0.17.1' });
    const v = await call(client, 'ValidateDbPassword', { password: 'whatever' });
    assert.equal(v.success, true);
    assert.equal(v.error_message, undefined);
  });

  void test('TakeDispute then SettleOrder: the node key takes the dispute and the buyer is paid', async () => {
    calm();
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    const d = await openDispute(ctx, t, 'buyer');
    ctx.lightning.registerPaymentRequest(t.order.buyer_invoice!, { amountMsat: BigInt(t.order.amount - t.order.fee) * 1000n });
    ctx.outbox.clear();

    const took = await call(client, 'TakeDispute', { dispute_id: d.id, request_id: '12345' });
    assert.deepEqual(took, { success: true });
    const row = await getDispute(ctx.db, d.id);
    assert.equal(row?.status, 'in-progress');
    assert.equal(row?.solver_pubkey, ctx.keys.pubkey);
    const toNode = ctx.outbox.messagesTo(ctx.keys.pubkey);
    assert.equal(toNode[0]?.kind.action, 'admin-took-dispute');
    assert.equal(toNode[0]?.kind.request_id, 12345n);
    assert.equal(ctx.outbox.actions(t.buyer.trade.pubkey).at(-1), 'admin-took-dispute');

    const settled = await call(client, 'SettleOrder', { order_id: t.order.id });
    assert.deepEqual(settled, { success: true });
    assert.deepEqual(ctx.lightning.settles, [t.hash]);
    assert.equal((await getDispute(ctx.db, d.id))?.status, 'settled');
    await ctx.tasks.idle();
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    // Both decisions are in the operator audit table (no token configured: who = peer address).
    assert.deepEqual(
      (await listAudit(ctx.db, { target: t.order.id })).map((a) => [a.action, a.who, a.outcome, a.detail]),
      [['SettleOrder', '127.0.0.1', 'ok', 'success']],
    );
    assert.deepEqual((await listAudit(ctx.db, { target: d.id })).map((a) => [a.action, a.outcome]), [['TakeDispute', 'ok']]);
  });

  void test('TakeDispute then CancelOrder refunds the seller', async () => {
    calm();
    const t = await escrowedTrade(ctx);
    const d = await openDispute(ctx, t, 'seller');
    assert.equal((await call(client, 'TakeDispute', { dispute_id: d.id })).success, true);
    const res = await call(client, 'CancelOrder', { order_id: t.order.id, request_id: 'not-a-number' });
    assert.deepEqual(res, { success: true });
    assert.ok(ctx.lightning.cancels.includes(t.hash));
    assert.equal((await reload(ctx, t.order.id)).status, 'canceled-by-admin');
    assert.equal((await getDispute(ctx.db, d.id))?.status, 'seller-refunded');
    const reply = ctx.outbox.messagesTo(t.seller.trade.pubkey).at(-1);
    assert.equal(reply?.kind.action, 'admin-canceled');
    assert.equal(reply?.kind.request_id, null, 'an unparsable request_id is treated as absent');
  });

  void test('AddSolver makes the key a solver (npub and existing user)', async () => {
    calm();
    const who = newKeys();
    const res = await call(client, 'AddSolver', { solver_pubkey: nip19.npubEncode(who.pubkey) });
    assert.deepEqual(res, { success: true });
    assert.equal((await getUser(ctx.db, who.pubkey))?.is_solver, 1);
    calm();
    const bad = await call(client, 'AddSolver', { solver_pubkey: 'npub1garbage' });
    assert.equal(bad.success, false);
    assert.match(bad.error_message ?? '', /^Admin add solver failed: Sending cantDo message to user for InvalidPubkey/);
  });

  void test('refusals come back as success=false with mostrod-style messages', async () => {
    calm();
    const t = await escrowedTrade(ctx);
    await openDispute(ctx, t, 'buyer');
    const res = await call(client, 'CancelOrder', { order_id: t.order.id });
    assert.equal(res.success, false);
    assert.match(res.error_message ?? '', /^Admin cancel failed: Sending cantDo message to user for IsNotYourDispute/);
    assert.equal(ctx.lightning.cancels.includes(t.hash), false, 'nothing refunded');
    const refusal = (await listAudit(ctx.db, { target: t.order.id }))[0];
    assert.equal(refusal?.outcome, 'refused');
    assert.match(refusal?.detail ?? '', /^Admin cancel failed: Sending cantDo message to user for IsNotYourDispute/);
    assert.equal(ctx.outbox.messagesTo(ctx.keys.pubkey).filter((m) => m.kind.action === 'cant-do').length, 0, 'no cant-do DM');
    calm();
    const unknown = await call(client, 'SettleOrder', { order_id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.success, false);
    assert.match(unknown.error_message ?? '', /^Admin settle failed: Sending cantDo message to user for NotFound/);
  });

  void test('malformed ids give a clear error, never a crash', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['CancelOrder', { order_id: 'nope' }, 'Admin cancel failed: invalid order_id "nope"'],
      ['SettleOrder', { order_id: '' }, 'Admin settle failed: invalid order_id ""'],
      ['TakeDispute', { dispute_id: '1234' }, 'Admin take dispute failed: invalid dispute_id "1234"'],
      ['TakeDispute', {}, 'Admin take dispute failed: invalid dispute_id ""'],
    ];
    for (const [method, req, prefix] of cases) {
      calm();
      const res = await call(client, method, req);
      assert.equal(res.success, false, method);
      assert.ok(res.error_message?.startsWith(prefix), `${method}: ${res.error_message}`);
    }
    calm();
    assert.equal((await call<{ version: string }>(client, 'GetVersion', {})).version, '0.17.1', 'server still up');
  });

  void test('refused admin calls are answers, not failed logins: five in a row lock nobody out', async () => {
    calm();
    const bad = { order_id: 'bad' };
    for (let i = 1; i <= 6; i++) {
      assert.equal((await call(client, i % 2 === 0 ? 'SettleOrder' : 'CancelOrder', bad)).success, false, `refusal ${i}`);
    }
    // No backoff, no lockout: the next calls answer at once, on the same clock second.
    assert.equal((await call<{ version: string }>(client, 'GetVersion', {})).version, '0.17.1');
    assert.equal((await call(client, 'ValidateDbPassword', { password: '' })).success, true);
    const unknown = await call(client, 'TakeDispute', { dispute_id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.success, false);
    assert.match(unknown.error_message ?? '', /^Admin take dispute failed: /);
  });

  void test('scripts/grpcurl-lite.ts: list, describe and call through reflection', async () => {
    calm();
    const tool = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'scripts/grpcurl-lite.ts', ...args], { cwd: ROOT, timeout: 30_000 });
    const list = await tool(['-plaintext', address, 'list']);
    assert.match(list.stdout, /^mostro\.admin\.v1\.AdminService$/m);
    const describeOut = await tool([address, 'describe', 'mostro.admin.v1.AdminService']);
    assert.match(describeOut.stdout, /rpc CancelOrder \( CancelOrderRequest \) returns \( CancelOrderResponse \);/);
    const version = await tool([address, 'call', 'mostro.admin.v1.AdminService/GetVersion', '{}']);
    assert.deepEqual(JSON.parse(version.stdout), { version: '0.17.1' });
    const grpcurlStyle = await tool(['-plaintext', '-d', '{"password":"x"}', address, 'mostro.admin.v1.AdminService/ValidateDbPassword']);
    assert.equal(JSON.parse(grpcurlStyle.stdout).success, true);
  });
});

void describe('startRpcServer binding', () => {
  void test('an address that cannot be bound rejects with a clear error', async () => {
    const ctx = await makeTestContext({ now: NOW });
    await assert.rejects(
      startRpcServer(ctx, { listenAddress: '203.0.113.7', port: 0, staleSeconds: 60 }),
      /RPC server failed to bind 203\.0\.113\.7:0/,
    );
  });
});
