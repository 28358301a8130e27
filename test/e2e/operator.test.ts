/**
 * Issue 15 (operator) against the BUILT daemon: [rpc] auth_token_file loaded by the daemon,
 * mostrod-admin (dist/tools/admin-cli.js) as a process, a ghost order (canceled in the DB, public
 * 38383 still `pending`) found by `stuck` through the daemon's publication record and fixed by
 * `republish` (the relay then carries `canceled`), token refusal, and scheduled backups taken by the
 * daemon on a cron schedule (every second here), integrity-checked, restorable and pruned to `keep`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from '../../src/db/sqlite-driver.js';
import { cantDoReason, expectMsg, msg, order, orderEventStates, startE2E, uuidBlob, waitFor, type E2E } from './e2e-harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = '7'.repeat(64);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function admin(dir: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist/tools/admin-cli.js'), '-d', dir, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });
}

void describe('e2e operator: mostrod-admin, token auth, repair, scheduled backups (built daemon)', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E({
      startDaemon: false,
      settings: {
        rpc: { auth_token_file: 'rpc-token' },
        backup: { schedule: '* * * * * *', dir: 'nightly', keep: 2 },
      },
    });
    writeFileSync(join(e.sb.dir, 'rpc-token'), `ops ${TOKEN}\n`, { mode: 0o600 });
    await e.sb.startDaemon();
  });
  after(async () => {
    await e.close();
  });

  void test('status through the daemon with its token; a wrong token is refused', async () => {
    const r = await admin(e.sb.dir, ['--json', 'status']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.pubkey, e.sb.nodePubkey);
    assert.equal(s.auth_required, true);
    assert.deepEqual(s.relays_connected, [e.sb.relay.url]);
    assert.equal(s.backup.schedule, '* * * * * *');
    const wrong = join(e.sb.dir, 'wrong');
    writeFileSync(wrong, `${'0'.repeat(64)}\n`);
    const refused = await admin(e.sb.dir, ['--token-file', wrong, 'status']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UNAUTHENTICATED/);
  });

  void test('a ghost order is listed as stuck and republished as canceled', async () => {
    const seller = await e.client();
    const ts = seller.tradeKey();
    await seller.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: ts.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), {
      tradeKey: ts,
    });
    const orderId = (await expectMsg(seller, ts, 'new-order', { requestId: 1n })).message.kind.id;
    assert.ok(orderId !== undefined);
    await waitFor('38383 pending', () => orderEventStates(e.sb, orderId).includes('pending'));

    // The database moves on without a public event (what a crash between the two would leave).
    const db = new Database(join(e.sb.dir, 'mostro.db'));
    try {
      db.pragma('busy_timeout = 5000');
      assert.equal(db.prepare("UPDATE orders SET status = 'canceled' WHERE id = ? AND status = 'pending'").run(uuidBlob(orderId)).changes, 1);
    } finally {
      db.close();
    }
    const stuck = await admin(e.sb.dir, ['stuck']);
    assert.equal(stuck.code, 0, stuck.stderr);
    assert.match(stuck.stdout, new RegExp(`^public-event-lag +${orderId} +\\[canceled\\] +public 38383 says "pending"`, 'm'));

    const fixed = await admin(e.sb.dir, ['republish', orderId]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /^published: 38383 s=canceled event [0-9a-f]{64} \(order now canceled\)$/m);
    await waitFor('38383 canceled on the relay', () => orderEventStates(e.sb, orderId).at(-1) === 'canceled');
    const after = await admin(e.sb.dir, ['--json', 'stuck']);
    assert.equal(JSON.parse(after.stdout).items.some((i: { order_id: string }) => i.order_id === orderId), false);
  });

  void test('ban: the pending order leaves the book, a new order is refused (invalid_pubkey to a 0.8 client), unban lets it in', async () => {
    const spammer = await e.client();
    const ts = spammer.tradeKey();
    await spammer.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: ts.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), {
      tradeKey: ts,
    });
    const orderId = (await expectMsg(spammer, ts, 'new-order', { requestId: 1n })).message.kind.id;
    assert.ok(orderId !== undefined);
    await waitFor('38383 pending', () => orderEventStates(e.sb, orderId).includes('pending'));

    const banned = await admin(e.sb.dir, ['ban', spammer.identity.pubkey, '--reason', 'order-book spam']);
    assert.equal(banned.code, 0, banned.stderr);
    assert.match(banned.stdout, new RegExp(`^banned: ${spammer.identity.pubkey}$`, 'm'));
    assert.match(banned.stdout, new RegExp(`^  withdrawn  ${orderId}$`, 'm'));
    await expectMsg(spammer, ts, 'admin-canceled', { id: orderId });
    await waitFor('38383 canceled on the relay', () => orderEventStates(e.sb, orderId).at(-1) === 'canceled');

    // The daemon's own ban list, updated by the RPC: the next new order gets cant-do on the wire,
    // in the 0.8 vocabulary this (gift-wrap) client speaks.
    const ts2 = spammer.tradeKey();
    await spammer.send(msg('new-order', undefined, { requestId: 2n, tradeIndex: ts2.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), {
      tradeKey: ts2,
    });
    const refused = await expectMsg(spammer, ts2, 'cant-do', { requestId: 2n });
    assert.equal(cantDoReason(refused), 'invalid_pubkey');

    const listed = await admin(e.sb.dir, ['--json', 'banned']);
    assert.equal(listed.code, 0, listed.stderr);
    const users = JSON.parse(listed.stdout).users as Array<{ pubkey: string; reason: string; banned_by: string }>;
    assert.deepEqual(users.map((u) => [u.pubkey, u.reason, u.banned_by.startsWith('ops')]), [[spammer.identity.pubkey, 'order-book spam', true]]);

    const lifted = await admin(e.sb.dir, ['unban', spammer.identity.pubkey]);
    assert.equal(lifted.code, 0, lifted.stderr);
    assert.match(lifted.stdout, /^unbanned: /m);
    const ts3 = spammer.tradeKey();
    await spammer.send(msg('new-order', undefined, { requestId: 3n, tradeIndex: ts3.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), {
      tradeKey: ts3,
    });
    await expectMsg(spammer, ts3, 'new-order', { requestId: 3n });
  });

  void test('scheduled backups: written by the daemon, integrity-checked, restorable, pruned to keep', async () => {
    let status: Record<string, any> = {};
    // Poll the daemon's own report (bounded) until three runs happened.
    for (let i = 0; i < 60; i++) {
      status = JSON.parse((await admin(e.sb.dir, ['--json', 'status'])).stdout).backup;
      if (Number(status.runs) >= 3 && Number(status.last_success_at) > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(Number(status.runs) >= 3, JSON.stringify(status));
    assert.equal(status.failures, '0', status.last_error);
    const dir = join(e.sb.dir, 'nightly');
    const files = readdirSync(dir).filter((f) => f.endsWith('.db')).sort();
    assert.ok(files.length >= 1 && files.length <= 2, files.join(','));
    const copy = new Database(join(dir, files.at(-1)!), { readonly: true, fileMustExist: true });
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
      const n = copy.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number };
      assert.ok(n.n >= 1, 'the restored copy has the orders');
    } finally {
      copy.close();
    }
  });
});

void describe('e2e operator: [mostro] unrated_orders_per_minute (built daemon)', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E({ settings: { mostro: { unrated_orders_per_minute: 1 } } });
  });
  after(async () => {
    await e.close();
  });

  void test('a budget of one unrated order a minute: the first is accepted, the next (another fresh key) gets cant-do too_many_requests', async () => {
    const first = await e.client();
    const t1 = first.tradeKey();
    await first.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: t1.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), {
      tradeKey: t1,
    });
    await expectMsg(first, t1, 'new-order', { requestId: 1n });
    const second = await e.client();
    const t2 = second.tradeKey();
    await second.send(msg('new-order', undefined, { requestId: 2n, tradeIndex: t2.index, payload: { order: order({ amount: 20_000n, fiat_amount: 100n }) } }), {
      tradeKey: t2,
    });
    const refused = await expectMsg(second, t2, 'cant-do', { requestId: 2n });
    // mostro-core 0.8 has the reason: a gift-wrap client gets it as it is.
    assert.equal(cantDoReason(refused), 'too_many_requests');
  });
});
