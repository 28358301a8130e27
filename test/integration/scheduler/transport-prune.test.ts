/**
 * The transport-prune job (protocol v2): a real SQLite migrated from migrations/, the real
 * TransportRegistry and job. Keys of live orders, open disputes and solvers are kept; keys idle
 * past the retention are deleted from the table and from memory; a key that speaks while the job
 * runs is kept; a restart loads only what remains; the retention setting is validated.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { parseSettings, templateText } from '../../../src/config/settings.js';
import { getPublicKey, generateSecretKey } from '../../../src/crypto/secp.js';
import { closeDatabase } from '../../../src/db/database.js';
import type { Database } from '../../../src/db/sqlite-driver.js';
import { insertDispute } from '../../../src/db/disputes.js';
import { insertOrder, RESTORE_EXCLUDED_STATUSES } from '../../../src/db/orders.js';
import {
  deleteIdleKeys,
  findIdleKeys,
  FINISHED_STATUSES_SQL,
  getKeyTransport,
  idleKeysDelete,
  idleKeysSelect,
  loadKeyTransports,
} from '../../../src/db/transports.js';
import { insertUser, makeSolver } from '../../../src/db/users.js';
import { ConfigError } from '../../../src/errors.js';
import { RelayOutbox, type Publisher } from '../../../src/nostr/relay-outbox.js';
import { TransportRegistry } from '../../../src/nostr/transport-registry.js';
import { buildMessage } from '../../../src/protocol/build.js';
import type { Status } from '../../../src/protocol/types.js';
import { PRUNE_BATCH, pruneTransports } from '../../../src/scheduler/jobs/prune-transports.js';
import { makeOrder } from '../../support/db.js';
import { makeTestContext, type TestContext } from '../../support/test-context.js';

const DAY = 86_400;
const NOW = 1_800_000_000;
const OLD = NOW - 40 * DAY; // idle past the default 30-day retention
const RECENT = NOW - 5 * DAY;

const contexts: TestContext[] = [];
after(async () => {
  for (const c of contexts) await closeDatabase(c.db);
});

function key(): string {
  return getPublicKey(generateSecretKey());
}

async function setup(transport: 'both' | 'nip44' | 'gift-wrap' = 'both', retentionDays?: number) {
  const ctx = await makeTestContext({
    now: NOW,
    settings: { mostro: { transport, ...(retentionDays !== undefined ? { transport_retention_days: retentionDays } : {}) } },
  });
  contexts.push(ctx);
  const registry = new TransportRegistry(ctx.db, ctx.settings, ctx.logger);
  ctx.transports = registry;
  return { ctx, registry };
}

/** Remember `pk` on kind 14, last active at `at` (as intake does when the key speaks). */
async function speaks(registry: TransportRegistry, pk: string, at: number): Promise<void> {
  await registry.record(pk, 'nip44', at);
}

async function orderWith(ctx: TestContext, status: Status, keys: { buyer?: string; seller?: string; next?: string }): Promise<string> {
  const o = makeOrder({
    status,
    creator_pubkey: keys.seller ?? keys.buyer ?? key(),
    seller_pubkey: keys.seller ?? null,
    buyer_pubkey: keys.buyer ?? null,
    next_trade_pubkey: keys.next ?? null,
  });
  await insertOrder(ctx.db, o);
  return o.id;
}

async function rows(ctx: TestContext): Promise<Set<string>> {
  return new Set((await loadKeyTransports(ctx.db)).map((r) => r.pubkey));
}

function sqliteOf(ctx: TestContext): Database {
  return (ctx.db as unknown as { sqlite: Database }).sqlite;
}

void describe('transport-prune job', () => {
  void test('keeps keys of live orders, open disputes, solvers, admins and the node; prunes old finished ones from DB and memory', async () => {
    const { ctx, registry } = await setup();
    const k = {
      pendingMaker: key(),
      activeBuyer: key(),
      activeSeller: key(),
      disputeParty: key(),
      nextTradeLive: key(),
      openSolver: key(),
      flaggedSolver: key(),
      admin: key(),
      recentFinished: key(),
      successBuyer: key(),
      canceledMaker: key(),
      nextTradeDone: key(),
      closedSolver: key(),
      orphan: key(),
    };
    for (const pk of Object.values(k)) await speaks(registry, pk, k.recentFinished === pk ? RECENT : OLD);
    await speaks(registry, ctx.keys.pubkey, OLD); // the node's own key (admin requests)

    await orderWith(ctx, 'pending', { seller: k.pendingMaker });
    await orderWith(ctx, 'active', { buyer: k.activeBuyer, seller: k.activeSeller });
    const disputed = await orderWith(ctx, 'dispute', { buyer: key(), seller: k.disputeParty });
    await insertDispute(ctx.db, {
      id: randomUUID(),
      order_id: disputed,
      status: 'in-progress',
      order_previous_status: 'active',
      solver_pubkey: k.openSolver,
      created_at: OLD,
      taken_at: OLD,
    });
    await orderWith(ctx, 'fiat-sent', { buyer: key(), seller: key(), next: k.nextTradeLive });
    await makeSolver(ctx.db, k.flaggedSolver, OLD);
    await insertUser(ctx.db, { pubkey: k.admin, created_at: OLD, is_admin: 1 });
    await orderWith(ctx, 'success', { buyer: k.recentFinished });
    await orderWith(ctx, 'success', { buyer: k.successBuyer, seller: key() });
    await orderWith(ctx, 'canceled', { seller: k.canceledMaker });
    await orderWith(ctx, 'success', { seller: key(), next: k.nextTradeDone });
    const settled = await orderWith(ctx, 'settled-by-admin', { buyer: key(), seller: key() });
    await insertDispute(ctx.db, {
      id: randomUUID(),
      order_id: settled,
      status: 'settled',
      order_previous_status: 'dispute',
      solver_pubkey: k.closedSolver,
      created_at: OLD,
      taken_at: OLD,
    });

    const kept = [k.pendingMaker, k.activeBuyer, k.activeSeller, k.disputeParty, k.nextTradeLive, k.openSolver, k.flaggedSolver, k.admin, k.recentFinished, ctx.keys.pubkey];
    const pruned = [k.successBuyer, k.canceledMaker, k.nextTradeDone, k.closedSolver, k.orphan];
    assert.equal(registry.size, kept.length + pruned.length);

    const summary = await pruneTransports(ctx);
    assert.deepEqual(summary, { examined: kept.length - 1 + pruned.length, pruned: pruned.length, forgotten: pruned.length, kept: kept.length - 1 });
    const left = await rows(ctx);
    for (const pk of kept) {
      assert.ok(left.has(pk), `row kept: ${pk}`);
      assert.equal(registry.transportOf(pk), 'nip44', 'still answered on kind 14');
    }
    for (const pk of pruned) {
      assert.ok(!left.has(pk), `row pruned: ${pk}`);
      assert.equal(registry.transportOf(pk), 'gift-wrap', 'forgotten: the node default, as a key never seen');
    }
    assert.equal(registry.size, kept.length);

    // Idempotent: nothing more to do; the kept idle keys were moved out of the idle range.
    assert.deepEqual(await pruneTransports(ctx), { examined: 0, pruned: 0, forgotten: 0, kept: 0 });
    assert.equal((await rows(ctx)).size, kept.length);

    // A pruned key that speaks again is recorded again before its reply.
    await speaks(registry, k.successBuyer, NOW);
    assert.equal(registry.transportOf(k.successBuyer), 'nip44');
    assert.equal(await getKeyTransport(ctx.db, k.successBuyer), 'nip44');

    // Once its order is finished and another retention has passed, a kept key goes too.
    ctx.clock.advance(31 * DAY);
    await ctx.db.updateTable('orders').set({ status: 'success' }).where('status', '=', 'pending').execute();
    await pruneTransports(ctx);
    assert.ok(!(await rows(ctx)).has(k.pendingMaker));
    assert.equal(registry.transportOf(k.pendingMaker), 'gift-wrap');
  });

  void test('after a restart the registry loads only what remains', async () => {
    const { ctx, registry } = await setup();
    const live = key();
    const gone = [key(), key(), key()];
    for (const pk of [live, ...gone]) await speaks(registry, pk, OLD);
    await orderWith(ctx, 'waiting-payment', { buyer: live, seller: key() });
    await pruneTransports(ctx);

    const restarted = new TransportRegistry(ctx.db, ctx.settings, pino({ level: 'silent' }));
    assert.equal(await restarted.load(), 1);
    assert.equal(restarted.transportOf(live), 'nip44');
    for (const pk of gone) assert.equal(restarted.transportOf(pk), 'gift-wrap');
  });

  void test('a key that speaks while the job runs is kept (DB re-check and memory)', async () => {
    const { ctx, registry } = await setup();
    const k = key();
    await speaks(registry, k, OLD);
    const cutoff = NOW - 30 * DAY;

    // 1. It speaks after the job listed it, before the DELETE: the DELETE's re-check keeps it.
    const listed = await findIdleKeys(ctx.db, cutoff, null, PRUNE_BATCH);
    assert.deepEqual(listed.map((r) => r.pubkey), [k]);
    await speaks(registry, k, NOW);
    assert.deepEqual(await deleteIdleKeys(ctx.db, listed.map((r) => r.rowid), cutoff, []), []);
    assert.equal(await getKeyTransport(ctx.db, k), 'nip44');

    // 2. The row is deleted, then the key speaks before the job updates memory: memory keeps it
    //    and the key's write puts the row back.
    const k2 = key();
    await speaks(registry, k2, OLD);
    const listed2 = await findIdleKeys(ctx.db, cutoff, null, PRUNE_BATCH);
    const deleted = await deleteIdleKeys(ctx.db, listed2.map((r) => r.rowid), cutoff, []);
    assert.deepEqual(deleted.map((r) => r.pubkey), [k2]);
    const speaking = speaks(registry, k2, NOW); // memory at once, the row after an await
    assert.equal(registry.forget(deleted), 0, 'active after the job read it: not dropped');
    await speaking;
    assert.equal(registry.transportOf(k2), 'nip44');
    assert.equal(await getKeyTransport(ctx.db, k2), 'nip44');

    // 3. The whole job with the key speaking concurrently: whatever the interleaving, it stays.
    const k3 = key();
    await speaks(registry, k3, OLD);
    const job = pruneTransports(ctx);
    await speaks(registry, k3, NOW);
    await job;
    assert.equal(registry.transportOf(k3), 'nip44');
    assert.equal(await getKeyTransport(ctx.db, k3), 'nip44');
    await pruneTransports(ctx);
    assert.equal(await getKeyTransport(ctx.db, k3), 'nip44', 'fresh: not idle');
  });

  void test('a message sent to a key counts as activity (written at most once a day)', async () => {
    const { ctx, registry } = await setup();
    const k = key();
    const unknown = key();
    await speaks(registry, k, OLD);
    const publisher: Publisher = { urls: () => ['ws://a'], publish: () => Promise.resolve([{ url: 'ws://a', ok: true, message: '' }]) };
    const outbox = new RelayOutbox({ pool: publisher, keys: ctx.keys, clock: ctx.clock, logger: ctx.logger, transports: registry, sleep: async () => {} });
    outbox.sendMessage(k, buildMessage({ action: 'rate', id: randomUUID(), requestId: null }));
    outbox.sendMessage(unknown, buildMessage({ action: 'rate', id: randomUUID(), requestId: null }));
    await registry.idle();
    await outbox.flush();
    const seen = (await loadKeyTransports(ctx.db)).find((r) => r.pubkey === k);
    assert.equal(seen?.last_seen_at, NOW);
    assert.equal(await getKeyTransport(ctx.db, unknown), null, 'an unknown key is not recorded by a send');
    assert.deepEqual(await pruneTransports(ctx), { examined: 0, pruned: 0, forgotten: 0, kept: 0 });

    // Later the same day: no write.
    ctx.clock.advance(60);
    outbox.sendMessage(k, buildMessage({ action: 'rate', id: randomUUID(), requestId: null }));
    await registry.idle();
    await outbox.flush();
    assert.equal((await loadKeyTransports(ctx.db)).find((r) => r.pubkey === k)?.last_seen_at, NOW);
  });

  void test('retention comes from [mostro] transport_retention_days; batches walk a backlog', async () => {
    const { ctx, registry } = await setup('nip44', 2);
    const many = Array.from({ length: PRUNE_BATCH * 2 + 17 }, () => key());
    for (const [i, pk] of many.entries()) await speaks(registry, pk, NOW - 3 * DAY + i);
    const live = many[PRUNE_BATCH + 3]!;
    await orderWith(ctx, 'active', { buyer: live, seller: key() });
    const fresh = key();
    await speaks(registry, fresh, NOW - DAY);
    const summary = await pruneTransports(ctx);
    assert.deepEqual(summary, { examined: many.length, pruned: many.length - 1, forgotten: many.length - 1, kept: 1 });
    assert.deepEqual(await rows(ctx), new Set([live, fresh]));
    assert.equal(registry.size, 2);
  });

  void test('a gift-wrap-only node loads no keys; the job still clears old rows', async () => {
    const both = await setup('both');
    const pk = key();
    await speaks(both.registry, pk, OLD);
    const giftWrapOnly = new TransportRegistry(both.ctx.db, { ...both.ctx.settings, mostro: { ...both.ctx.settings.mostro, transport: 'gift-wrap' } }, pino({ level: 'silent' }));
    assert.equal(await giftWrapOnly.load(), 0);
    both.ctx.transports = giftWrapOnly;
    assert.equal((await pruneTransports(both.ctx)).pruned, 1);
  });

  void test('the DELETE is index lookups only (the finished-status list matches the partial indexes)', async () => {
    const { ctx } = await setup();
    assert.equal(
      FINISHED_STATUSES_SQL,
      `(${RESTORE_EXCLUDED_STATUSES.filter((s) => s !== 'dispute').map((s) => `'${s}'`).join(', ')})`,
      'same set as the known-sender reload (findActiveKeys)',
    );
    const compiled = idleKeysDelete(ctx.db, [1, 2], NOW, [ctx.keys.pubkey]).compile();
    const plan = (sqliteOf(ctx).prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...compiled.parameters) as { detail: string }[]).map((r) => r.detail);
    for (const index of ['idx_orders_live_buyer_pubkey', 'idx_orders_live_seller_pubkey', 'idx_orders_live_next_trade_pubkey', 'idx_disputes_solver_pubkey', 'sqlite_autoindex_users_1']) {
      assert.ok(plan.some((d) => d.includes(`USING INDEX ${index}`)), `${index} used: ${plan.join(' | ')}`);
    }
    assert.ok(!plan.some((d) => d.startsWith('SCAN')), `no table scan: ${plan.join(' | ')}`);
    const sel = idleKeysSelect(ctx.db, NOW, { last_seen_at: 0, rowid: 0 }, PRUNE_BATCH).compile();
    const select = (sqliteOf(ctx).prepare(`EXPLAIN QUERY PLAN ${sel.sql}`).all(...sel.parameters) as { detail: string }[]).map((r) => r.detail).join(' | ');
    assert.match(select, /USING INDEX idx_mostrod_ts_transport_last_seen/);
    assert.doesNotMatch(select, /TEMP B-TREE/);
  });
});

void describe('[mostro] transport_retention_days', () => {
  const NSEC = 'nsec13as48eum93hkg7plv526r9gjpa0uc52zysqm93pmnkca9e69x6tsdjmdxd';
  const withRetention = (line: string | null) =>
    templateText().replace('# transport_retention_days = 30', line ?? '# transport_retention_days = 30');

  void test('defaults to 30 days; any whole number of days from 1 is accepted', () => {
    assert.ok(templateText().includes('# transport_retention_days = 30'), 'documented in the template');
    assert.equal(parseSettings(withRetention(null), { MOSTRO_NSEC_PRIVKEY: NSEC }).mostro.transport_retention_days, 30);
    for (const days of [1, 7, 365]) {
      assert.equal(parseSettings(withRetention(`transport_retention_days = ${days}`), { MOSTRO_NSEC_PRIVKEY: NSEC }).mostro.transport_retention_days, days);
    }
  });

  void test('0, negative, fractional and non-numeric values stop startup naming the setting', () => {
    const cases: Array<[string, RegExp]> = [
      ['0', /\[mostro\] transport_retention_days: must be at least 1/],
      ['-3', /\[mostro\] transport_retention_days: -3 is negative/],
      ['1.5', /\[mostro\] transport_retention_days: 1\.5 is not an integer/],
      ['"30"', /\[mostro\] transport_retention_days: expected number, got the string "30"/],
    ];
    for (const [value, re] of cases) {
      assert.throws(
        () => parseSettings(withRetention(`transport_retention_days = ${value}`), { MOSTRO_NSEC_PRIVKEY: NSEC }),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
        value,
      );
    }
  });
});
