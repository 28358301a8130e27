import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTokenFile } from '../../../src/rpc/auth.js';
import { startRpcServer, type RpcServerHandle } from '../../../src/rpc/server.js';
import { listAudit } from '../../../src/ops/audit.js';
import { makeTestContext, type TestContext } from '../../support/test-context.js';
import { reload } from '../../support/trade-fixtures.js';
import { escrowedTrade } from '../../unit/app/handlers/dispute-fixture.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = 'f'.repeat(48);
const NOW = 1_700_000_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run mostrod-admin as its own process. */
function admin(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/tools/admin-cli.ts', ...args],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });
}

void describe('mostrod-admin against a running gRPC server', () => {
  let ctx: TestContext;
  let server: RpcServerHandle;
  let dir: string;

  before(async () => {
    ctx = await makeTestContext({ now: NOW });
    server = await startRpcServer(ctx, {
      listenAddress: '127.0.0.1',
      port: 0,
      staleSeconds: 3600,
      authTokens: parseTokenFile(`ops ${TOKEN}\n`),
    });
    // A settings directory as the operator has it: [rpc] names the address and the token file.
    dir = mkdtempSync(join(tmpdir(), 'mostrod-admin-'));
    writeFileSync(join(dir, 'rpc-token'), `# mostrod tokens\nops ${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'settings.toml'),
      `[rpc]\nenabled = true\nlisten_address = "127.0.0.1"\nport = ${server.port}\nauth_token_file = "rpc-token"\n`,
    );
  });

  after(async () => {
    await ctx.tasks.idle();
    await server.close();
  });

  void test('status (human and --json) with the address and token from settings.toml', async () => {
    const human = await admin(['-d', dir, 'status']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^mostrod 0\.17\.1 {2}npub1/);
    assert.match(human.stdout, /lightning {3}up {2}fake-lnd {2}height 1000 {2}regtest/);
    assert.match(human.stdout, /auth {8}bearer token required/);
    const json = await admin(['-d', dir, '--json', 'status']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.pubkey, ctx.keys.pubkey);
    assert.equal(parsed.auth_required, true);
  });

  void test('order, stuck, retry-payout and the admin service version', async () => {
    const t = await escrowedTrade(ctx, { status: 'settled-hold-invoice', order: { failed_payment: 1, payment_attempts: 3 } });
    await ctx.lightning.settleHoldInvoice(t.preimage);
    ctx.lightning.registerPaymentRequest(t.order.buyer_invoice!, { amountMsat: BigInt(t.order.amount - t.order.fee) * 1000n });

    const order = await admin(['-d', dir, 'order', t.order.id]);
    assert.equal(order.code, 0, order.stderr);
    assert.match(order.stdout, new RegExp(`^id +${t.order.id}$`, 'm'));
    assert.match(order.stdout, /^status +settled-hold-invoice$/m);
    assert.match(order.stdout, /^buyer_payout_sats +9970$/m);

    const stuck = await admin(['-d', dir, 'stuck']);
    assert.equal(stuck.code, 0, stuck.stderr);
    assert.match(stuck.stdout, new RegExp(`^unpaid-settled +${t.order.id} +\\[settled-hold-invoice\\] +escrow settled, buyer not paid \\(9970 sats\\)`, 'm'));

    const paid = await admin(['-d', dir, 'retry-payout', t.order.id]);
    assert.equal(paid.code, 0, paid.stderr);
    assert.equal(paid.stdout, 'succeeded: buyer paid; order completed (order now success)\n');
    assert.equal((await reload(ctx, t.order.id)).status, 'success');
    const again = await admin(['-d', dir, '--json', 'retry-payout', t.order.id]);
    assert.equal(again.code, 1, 'a refused action exits 1');
    assert.equal(JSON.parse(again.stdout).outcome, 'refused');
    const audit = await listAudit(ctx.db, { target: t.order.id });
    assert.deepEqual(audit.map((a) => [a.who, a.outcome]), [
      ['ops@127.0.0.1', 'refused'],
      ['ops@127.0.0.1', 'ok'],
    ]);

    const version = await admin(['-d', dir, 'version']);
    assert.equal(version.stdout, '0.17.1\n');
  });

  void test('a wrong token file fails clearly; usage errors exit 2', async () => {
    const wrong = join(dir, 'wrong-token');
    writeFileSync(wrong, `${'0'.repeat(40)}\n`);
    const r = await admin(['-d', dir, '--token-file', wrong, 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NodeStatus at 127\.0\.0\.1:\d+ failed: UNAUTHENTICATED: missing or invalid bearer token/);
    const usage = await admin(['-d', dir, 'order']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /expected exactly one ORDER_ID/);
    const noKey = await admin(['-d', dir, 'ban', '--reason', 'spam']);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /expected exactly one PUBKEY/);
    const badKey = await admin(['-d', dir, 'ban', 'nope']);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /BanUser at 127\.0\.0\.1:\d+ failed: INVALID_ARGUMENT: invalid pubkey "nope"/);
    const unknown = await admin(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const help = await admin(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /retry-payout ORDER_ID/);
  });
});
