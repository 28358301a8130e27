/**
 * The operator cockpit in-process: real SQLite, FakeLightning, a real HTTP client against the
 * listener. Relay status and publishing are the pool's surfaces, given as data here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { statementCacheOf } from '../../../src/db/database.js';
import { clearDisputeChange } from '../../../src/db/dispute-changes.js';
import { casUpdateDispute, insertDispute } from '../../../src/db/disputes.js';
import { insertNotices } from '../../../src/db/notices.js';
import { insertOrder } from '../../../src/db/orders.js';
import type { AlertsSettings } from '../../../src/config/types.js';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { unwrapGiftWrap } from '../../../src/nostr/gift-wrap.js';
import { IDLE_INTAKE } from '../../../src/nostr/intake.js';
import type { PublishResult, RelayStatus } from '../../../src/nostr/relay-pool.js';
import { DaemonMetrics } from '../../../src/observability/metrics.js';
import { executeAction } from '../../../src/app/router.js';
import { banUser } from '../../../src/ops/ban-user.js';
import { buildMessage } from '../../../src/protocol/build.js';
import type { BackupStatus } from '../../../src/ops/backup-job.js';
import { Observability } from '../../../src/observability/observability.js';
import { makeOrder } from '../../support/db.js';
import { parseExposition } from '../../support/prom-text.js';
import { inboundFor, makeTestContext, newKeys, type TestContext } from '../../support/test-context.js';

function relay(url: string, state: RelayStatus['state'], extra: Partial<RelayStatus> = {}): RelayStatus {
  return { url, state, connectedAt: null, lastError: null, connects: 1, events: 0, dropped: 0, publishFailures: 0, rejected: 0, ...extra };
}

interface Setup {
  ctx: TestContext;
  obs: Observability;
  relays: RelayStatus[];
  published: NostrEvent[];
  accept: { ok: boolean };
  base: string;
}

async function setup(opts: { admin?: string; intake?: Record<string, number>; alerts?: Partial<AlertsSettings> } = {}): Promise<Setup> {
  const ctx = await makeTestContext({
    now: 1_800_000_000,
    settings: {
      http: { enabled: true, port: 0 },
      alerts: { ...(opts.admin !== undefined ? { admin_npub: opts.admin } : {}), lnd_down_minutes: 0, ...opts.alerts },
      lightning: { payment_timeout_seconds: 30 },
    },
  });
  const relays = [relay('ws://a.example', 'open', { publishFailures: 2, rejected: 1, connects: 3 })];
  const published: NostrEvent[] = [];
  const accept = { ok: true };
  const obs = new Observability({
    ctx,
    dbFile: null,
    relays: {
      status: () => relays,
      publish: (e: NostrEvent): Promise<PublishResult[]> => {
        if (accept.ok) published.push(e);
        return Promise.resolve([{ url: 'ws://a.example', ok: accept.ok, message: accept.ok ? '' : 'not connected' }]);
      },
    },
    intakeCounters: () => ({ ...(opts.intake ?? { dispatched: 5, pow: 2, stale: 1 }) }),
    outboxStats: () => ({ messagesSent: 7, messagesDropped: 1, eventsPublished: 4, eventsIncomplete: 0 }),
    cryptoStats: () => ({ threads: 1, queued: 3, completed: 50, inline: 30, helped: 8, workerFailures: 1, retried: 2, mode: 'pool' as const, modeSwitches: 5, loopShare: 0.4 }),
    intakeLoad: () => ({ ...IDLE_INTAKE, priorityQueued: 2, firstContactQueued: 40, queued: 1, inCrypto: 16, shedPriority: 0, shedFirstContact: 9 }),
    prices: () => [
      { source: 'yadio', ageSeconds: 42, breaker: 'closed', lastSuccessAt: 1_700_000_000 },
      { source: 'coingecko', ageSeconds: null, breaker: 'open', lastSuccessAt: null },
    ],
    priceCurrencies: () => [{ currency: 'USD', sources: ['coingecko', 'yadio'], ageSeconds: 12, stale: false }],
    version: '0.0.0-test',
    logger: ctx.logger,
  });
  await obs.startHttp();
  assert.ok(obs.httpPort !== null && obs.httpPort > 0);
  return { ctx, obs, relays, published, accept, base: `http://127.0.0.1:${obs.httpPort}` };
}

const hash = () => randomBytes(32).toString('hex');

async function scrape(base: string) {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

void describe('observability: /metrics, /healthz, /readyz', () => {
  void test('/metrics exposes the database, link, relay, intake, outbox, price and process figures', async () => {
    const { ctx, obs, base } = await setup();
    try {
      const now = ctx.clock.now();
      const grace = 60; // 2 × payment_timeout_seconds
      await insertOrder(ctx.db, makeOrder({ status: 'pending' }));
      await insertOrder(ctx.db, makeOrder({ status: 'active', amount: 10_000, fee: 60, hash: hash(), invoice_held_at: now - 100 }));
      await insertOrder(ctx.db, makeOrder({ status: 'fiat-sent', amount: 20_000, fee: 120, hash: hash(), invoice_held_at: now - 50 }));
      await insertOrder(ctx.db, makeOrder({ status: 'settled-hold-invoice', hash: hash(), payout_payment_hash: hash(), payout_claimed_at: now - grace }));
      await insertOrder(ctx.db, makeOrder({ status: 'settled-hold-invoice', hash: hash(), payout_payment_hash: hash(), payout_claimed_at: now - 5 }));
      await insertOrder(ctx.db, makeOrder({ status: 'settled-hold-invoice', hash: hash(), failed_payment: 1, payment_attempts: 1 }));
      await insertOrder(ctx.db, makeOrder({ status: 'success', dev_fee: 30, dev_fee_paid: 1, taken_at: now - 900 }));
      await insertOrder(ctx.db, makeOrder({ status: 'success', dev_fee: 20, dev_fee_paid: 0, taken_at: now - 900 }));
      await insertOrder(ctx.db, makeOrder({ status: 'cooperatively-canceled', taken_at: now - 600 }));
      await insertOrder(ctx.db, makeOrder({ status: 'canceled', taken_at: 0 }));
      await insertNotices(ctx.db, [{ orderId: null, recipient: 'a'.repeat(64), message: '{}' }, { orderId: null, recipient: 'b'.repeat(64), message: '{}' }], now);
      const disputed = makeOrder({ status: 'canceled-by-admin', taken_at: 0 }); // any status: it leaves the other figures as they are
      await insertOrder(ctx.db, disputed);
      await insertDispute(ctx.db, { id: randomUUID(), order_id: disputed.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: now, taken_at: 0 });
      // One banned key, and one of its new orders refused through the router.
      const spammer = newKeys();
      await banUser(ctx, spammer.pubkey);
      await assert.rejects(
        executeAction(ctx, buildMessage({ action: 'new-order', tradeIndex: 1n, payload: null }), inboundFor(spammer, newKeys(), now)),
        /banned/,
      );
      // One new order over the unrated makers' budget (a budget of 1 a minute, taken twice), two takes.
      assert.equal(ctx.unrated.orders.take(now, 1), true);
      assert.equal(ctx.unrated.orders.take(now, 1), false);
      assert.equal(ctx.unrated.takes.take(now, 1), true);
      assert.equal(ctx.unrated.takes.take(now, 1), false);
      assert.equal(ctx.unrated.takes.take(now, 1), false);

      const m = await scrape(base);
      assert.equal(m.get('mostrod_banned_keys'), 1);
      assert.equal(m.get('mostrod_banned_requests_total'), 1);
      assert.equal(m.get('mostrod_unrated_refused_total', { request: 'new-order' }), 1);
      assert.equal(m.get('mostrod_unrated_refused_total', { request: 'take' }), 2);
      assert.equal(m.get('mostrod_orders', { status: 'pending' }), 1);
      assert.equal(m.get('mostrod_orders', { status: 'settled-hold-invoice' }), 3);
      assert.equal(m.get('mostrod_orders', { status: 'expired' }), 0, 'every status has a series');
      assert.equal(m.get('mostrod_trades_completed'), 2);
      assert.equal(m.get('mostrod_trades_canceled'), 1, 'a pending order canceled before anyone took it is not a trade');
      assert.equal(m.get('mostrod_escrow_held_sats'), 30_180);
      assert.equal(m.get('mostrod_escrow_held'), 2);
      assert.equal(m.get('mostrod_payouts', { state: 'in_flight' }), 2);
      assert.equal(m.get('mostrod_payouts', { state: 'stranded' }), 1);
      assert.equal(m.get('mostrod_payouts', { state: 'failed' }), 1);
      assert.equal(m.get('mostrod_dev_fee_sats', { state: 'owed' }), 20);
      assert.equal(m.get('mostrod_dev_fee_sats', { state: 'paid' }), 30);
      assert.equal(m.get('mostrod_order_events_unaccepted'), 11, 'inserted, never published: every order lags');
      assert.equal(m.get('mostrod_dispute_events_unaccepted'), 1, 'a dispute whose event no relay accepted');
      assert.equal(m.get('mostrod_notices_unaccepted'), 2, 'stored notices no relay accepted yet');
      assert.equal(m.get('mostrod_lightning_up'), 1);
      assert.equal(m.get('mostrod_lightning_state', { state: 'up' }), 1);
      assert.equal(m.get('mostrod_lightning_block_height'), 1000);
      assert.equal(m.get('mostrod_relay_connected', { relay: 'ws://a.example' }), 1);
      assert.equal(m.get('mostrod_relay_publish_failures_total', { relay: 'ws://a.example' }), 2);
      assert.equal(m.get('mostrod_relay_rejected_events_total', { relay: 'ws://a.example' }), 1);
      assert.equal(m.get('mostrod_relay_connects_total', { relay: 'ws://a.example' }), 3);
      assert.equal(m.types.get('mostrod_relay_rejected_events_total'), 'counter');
      assert.equal(m.get('mostrod_intake_events_total', { verdict: 'dispatched' }), 5);
      assert.equal(m.get('mostrod_intake_events_total', { verdict: 'pow' }), 2);
      assert.equal(m.get('mostrod_outbox_messages_total', { result: 'sent' }), 7);
      assert.equal(m.get('mostrod_crypto_tasks_total', { where: 'inline' }), 30);
      assert.equal(m.get('mostrod_crypto_tasks_total', { where: 'helped' }), 8);
      assert.equal(m.get('mostrod_crypto_tasks_total', { where: 'threads' }), 12);
      assert.equal(m.get('mostrod_crypto_thread_failures_total'), 1);
      assert.equal(m.get('mostrod_crypto_queued'), 3);
      assert.equal(m.get('mostrod_crypto_on_threads'), 1);
      assert.equal(m.get('mostrod_crypto_mode_switches_total'), 5);
      assert.equal(m.get('mostrod_crypto_loop_share'), 0.4);
      assert.equal(m.get('mostrod_intake_queued', { stage: 'priority' }), 2);
      assert.equal(m.get('mostrod_intake_queued', { stage: 'first-contact' }), 40);
      assert.equal(m.get('mostrod_intake_queued', { stage: 'handler' }), 1);
      assert.equal(m.get('mostrod_intake_crypto_in_flight'), 16);
      assert.equal(m.get('mostrod_intake_lane_shed_total', { lane: 'first-contact' }), 9);
      assert.equal(m.get('mostrod_intake_lane_shed_total', { lane: 'priority' }), 0);
      assert.equal(m.types.get('mostrod_intake_lane_shed_total'), 'counter');
      // Lane waits are pushed: declared before any, counted per lane once observed.
      assert.equal(m.types.get('mostrod_intake_lane_wait_seconds'), 'histogram');
      obs.observeLaneWait('priority', 0);
      obs.observeLaneWait('first-contact', 0.003);
      obs.observeLaneWait('first-contact', 0.2);
      const w = await scrape(base);
      assert.equal(w.get('mostrod_intake_lane_wait_seconds_count', { lane: 'priority' }), 1);
      assert.equal(w.get('mostrod_intake_lane_wait_seconds_count', { lane: 'first-contact' }), 2);
      assert.equal(w.get('mostrod_intake_lane_wait_seconds_bucket', { lane: 'first-contact', le: '0.005' }), 1);
      assert.equal(w.get('mostrod_intake_lane_wait_seconds_bucket', { lane: 'first-contact', le: '0.25' }), 2);
      assert.ok(Math.abs((w.get('mostrod_intake_lane_wait_seconds_sum', { lane: 'first-contact' }) ?? 0) - 0.203) < 1e-9);
      // Replies' hand-off times are pushed by the outbox, per queue.
      assert.equal(m.types.get('mostrod_outbox_handoff_seconds'), 'histogram');
      obs.observeHandOff('order', 0.004);
      obs.observeHandOff('order', 0.03);
      const h = await scrape(base);
      assert.equal(h.get('mostrod_outbox_handoff_seconds_count', { queue: 'order' }), 2);
      assert.equal(h.get('mostrod_outbox_handoff_seconds_bucket', { queue: 'order', le: '0.005' }), 1);
      assert.equal(h.get('mostrod_outbox_handoff_seconds_bucket', { queue: 'order', le: '0.05' }), 2);
      // A database opened without the barrier: every commit is synced by SQLite, none by the barrier.
      assert.equal(m.get('mostrod_db_syncs_total'), 0);
      assert.equal(m.get('mostrod_db_sync_waiting'), 0);
      // No checkpointer (SQLite checkpoints inline; here an in-memory database): declared, no samples.
      assert.equal(m.types.get('mostrod_db_checkpoint_passes_total'), 'counter');
      assert.equal(m.get('mostrod_db_checkpoint_passes_total', { result: 'ok' }), undefined);
      assert.equal(m.types.get('mostrod_db_wal_frames'), 'gauge');
      assert.ok(!m.samples.some((x) => x.name === 'mostrod_db_wal_frames'), 'no WAL frames sample');
      // The statement cache's misses: as many as it prepared, and a scrape prepares nothing.
      const prepared = statementCacheOf(ctx.db)?.prepared ?? -1;
      assert.ok(prepared > 0);
      assert.equal(m.get('mostrod_db_statements_prepared_total'), prepared);
      assert.equal((await scrape(base)).get('mostrod_db_statements_prepared_total'), prepared);
      assert.equal(m.get('mostrod_price_age_seconds', { source: 'yadio' }), 42);
      assert.equal(m.get('mostrod_price_source_last_success_timestamp_seconds', { source: 'yadio' }), 1_700_000_000);
      assert.equal(m.get('mostrod_price_source_breaker_state', { source: 'yadio', state: 'closed' }), 1);
      assert.equal(m.get('mostrod_price_source_breaker_state', { source: 'coingecko', state: 'open' }), 1);
      assert.equal(m.get('mostrod_price_source_breaker_state', { source: 'coingecko', state: 'closed' }), 0);
      assert.equal(m.get('mostrod_price_currency_source', { currency: 'USD', source: 'yadio' }), 1);
      assert.equal(m.get('mostrod_price_currency_source', { currency: 'USD', source: 'coingecko' }), 1);
      assert.equal(m.get('mostrod_price_currency_age_seconds', { currency: 'USD' }), 12);
      assert.equal(m.get('mostrod_info', { version: '0.0.0-test' }), 1);
      assert.equal(m.get('mostrod_alert_incidents_open', { kind: 'lnd-down' }), 0);
      assert.ok((m.get('nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'event-loop lag is exported');
      assert.ok(Number.isNaN(m.get('mostrod_escrows_near_deadline')), 'unknown before the first monitor check');

      // Pushed figures: handler latency by action and job runs.
      await obs.timeHandler('new-order', () => Promise.resolve());
      await obs.timeHandler('new-order', () => Promise.reject(new Error('boom'))).catch(() => undefined);
      obs.observeJob({ job: 'prices', startedMs: 1_800_000_000_000, durationMs: 250, failed: false });
      obs.observeJob({ job: 'prices', startedMs: 1_800_000_060_000, durationMs: 500, failed: true });
      const m2 = await scrape(base);
      assert.equal(m2.get('mostrod_handler_duration_seconds_count', { action: 'new-order' }), 2);
      assert.equal(m2.types.get('mostrod_handler_duration_seconds'), 'histogram');
      assert.equal(m2.get('mostrod_job_runs_total', { job: 'prices' }), 2);
      assert.equal(m2.get('mostrod_job_errors_total', { job: 'prices' }), 1);
      assert.equal(m2.get('mostrod_job_last_duration_seconds', { job: 'prices' }), 0.5);
      assert.equal(m2.get('mostrod_job_last_run_timestamp_seconds', { job: 'prices' }), 1_800_000_060.5);

      // Values move with the database.
      await insertOrder(ctx.db, makeOrder({ status: 'pending' }));
      assert.equal((await scrape(base)).get('mostrod_orders', { status: 'pending' }), 2);
    } finally {
      await obs.close();
    }
  });

  void test('/healthz is 200; /readyz is 200 when ready and 503 naming what is down', async () => {
    const { ctx, obs, relays, base } = await setup();
    try {
      const h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(await h.text(), 'ok\n');

      let r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 200);
      let body = (await r.json()) as { ready: boolean; not_ready: string[]; checks: Record<string, { ok: boolean; detail: string }> };
      assert.deepEqual(body.not_ready, []);
      assert.equal(body.ready, true);
      assert.deepEqual(body.checks['database'], { ok: true, detail: 'writable' });

      ctx.lightning.setState('down');
      relays[0] = relay('ws://a.example', 'backoff', { lastError: 'connect ECONNREFUSED' });
      r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('content-type'), 'application/json');
      body = (await r.json()) as typeof body;
      assert.equal(body.ready, false);
      assert.deepEqual(body.not_ready, ['relays', 'lightning']);
      assert.equal(body.checks['relays']?.detail, '0 of 1 connected: ws://a.example: backoff (connect ECONNREFUSED)');
      assert.equal(body.checks['lightning']?.detail, 'down');

      ctx.lightning.setState('up');
      relays[0] = relay('ws://a.example', 'open');
      assert.equal((await fetch(`${base}/readyz`)).status, 200);

      assert.equal((await fetch(`${base}/readyz`, { method: 'HEAD' })).status, 200);
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
    } finally {
      await obs.close();
    }
  });

  void test('a read-only database makes /readyz name the database', async () => {
    const { ctx, obs, base } = await setup();
    try {
      await sql`PRAGMA query_only = ON`.execute(ctx.db);
      const r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 503);
      const body = (await r.json()) as { not_ready: string[]; checks: { database: { detail: string } } };
      assert.deepEqual(body.not_ready, ['database']);
      assert.match(body.checks.database.detail, /^write failed: /);
    } finally {
      await obs.close();
    }
  });

  void test('scheduled backups: runs, failures and the last success are exported', async () => {
    const { ctx, obs, base } = await setup();
    try {
      const status: BackupStatus = {
        schedule: '0 3 * * *',
        dir: '/tmp/b',
        keep: 7,
        runs: 3,
        failures: 1,
        consecutiveFailures: 1,
        lastRunAt: 1_800_000_000,
        lastSuccessAt: 1_799_913_600,
        lastError: 'disk full',
        lastBackup: null,
        pruned: 0,
        nextRunAt: null,
      };
      ctx.backups = { status: () => status };
      const m = await scrape(base);
      assert.equal(m.get('mostrod_backup_runs_total', { result: 'ok' }), 2);
      assert.equal(m.get('mostrod_backup_runs_total', { result: 'failed' }), 1);
      assert.equal(m.get('mostrod_backup_consecutive_failures'), 1);
      assert.equal(m.get('mostrod_backup_last_success_timestamp_seconds'), 1_799_913_600);
    } finally {
      await obs.close();
    }
  });

  void test('two registries in one process do not clash (no global registry)', () => {
    const mk = async () => {
      const ctx = await makeTestContext();
      return new DaemonMetrics({
        db: ctx.db,
        dbFile: null,
        clock: ctx.clock,
        payoutGraceSeconds: 150,
        lightning: ctx.lightning,
        relays: () => [],
        intake: () => ({}),
        outbox: () => null,
        prices: () => [],
        health: () => null,
        openIncidents: () => Promise.resolve(new Map()),
        version: 'x',
      });
    };
    return Promise.all([mk(), mk()]).then(async ([a, b]) => {
      a.observeHandler('orders', 0.01);
      assert.equal(parseExposition(await b.render()).get('mostrod_handler_duration_seconds_count', { action: 'orders' }), undefined);
      assert.equal(parseExposition(await a.render()).get('mostrod_handler_duration_seconds_count', { action: 'orders' }), 1);
    });
  });
});

void describe('monitor job: health snapshot and operator alerts', () => {
  void test('escrows near the deadline are counted; LND down alerts the operator once, then resolves', async () => {
    const admin = newKeys();
    const { ctx, obs, published, accept, base } = await setup({ admin: admin.pubkey });
    try {
      const h = hash();
      await ctx.lightning.addHoldInvoice({ hash: h, amountSats: 10_060, memo: 'escrow', cltvExpiry: 50, expirySeconds: 300 });
      ctx.lightning.pay(h);
      await insertOrder(ctx.db, makeOrder({ status: 'active', hash: h, invoice_held_at: ctx.clock.now() }));

      await obs.monitor.check();
      let m = await scrape(base);
      assert.equal(m.get('mostrod_escrows_near_deadline'), 1, 'expires 50 blocks from the tip, within 72');
      assert.equal(m.get('mostrod_alert_incidents_open', { kind: 'escrow-deadline' }), 1);
      assert.equal(published.length, 1);
      const first = unwrapGiftWrap(published[0]!, admin.secretKey);
      assert.ok(first.ok);
      assert.equal(first.gift.rumor.kind, 14);
      assert.match(first.gift.rumor.content, /ALERT: Escrow near its CLTV deadline\nOrder .*: the escrow HTLC expires at height 1050, 50 blocks from the tip \(1000\)/);

      // LND goes down; nothing is accepted by the relays at first: retried, then sent once.
      ctx.lightning.setState('down');
      accept.ok = false;
      ctx.clock.advance(60);
      const r1 = await obs.monitor.check();
      assert.equal(r1?.undelivered, 1);
      accept.ok = true;
      ctx.clock.advance(60);
      await obs.monitor.check();
      ctx.clock.advance(60);
      await obs.monitor.check();
      const texts = published.map((e) => {
        const u = unwrapGiftWrap(e, admin.secretKey);
        assert.ok(u.ok);
        return u.gift.rumor.content;
      });
      assert.equal(texts.filter((t) => t.includes('ALERT: LND unreachable')).length, 1);
      m = await scrape(base);
      assert.ok(Number.isNaN(m.get('mostrod_escrows_near_deadline')), 'unknown while LND is down');
      assert.equal(m.get('mostrod_alert_incidents_open', { kind: 'escrow-deadline' }), 1, 'not resolved while it cannot be judged');

      ctx.lightning.setState('up');
      ctx.clock.advance(60);
      await obs.monitor.check();
      const last = unwrapGiftWrap(published.at(-1)!, admin.secretKey);
      assert.ok(last.ok);
      assert.match(last.gift.rumor.content, /RESOLVED: LND unreachable/);
    } finally {
      await obs.close();
    }
  });
  void test('order events no relay accepts for order_events_unaccepted_minutes alert the operator once; their acceptance resolves it; counting stops while no relay is connected', async () => {
    const admin = newKeys();
    const { ctx, obs, published, relays, base } = await setup({ admin: admin.pubkey });
    const texts = (): string[] =>
      published.map((e) => {
        const u = unwrapGiftWrap(e, admin.secretKey);
        assert.ok(u.ok);
        return u.gift.rumor.content;
      });
    const oldest = async (): Promise<number | undefined> => (await scrape(base)).get('mostrod_order_events_unaccepted_oldest_seconds');
    try {
      await obs.monitor.check();
      assert.deepEqual(obs.monitor.latest()?.book, { unaccepted: 0, oldestSince: null });
      assert.equal(await oldest(), 0);
      // two new orders whose events no relay accepts (the triggers write the change log)
      const a = makeOrder({ status: 'pending' });
      const b = makeOrder({ status: 'pending' });
      await insertOrder(ctx.db, a);
      await insertOrder(ctx.db, b);
      const t0 = ctx.clock.now();
      for (let i = 0; i < 14; i++) {
        ctx.clock.advance(60);
        await obs.monitor.check();
      }
      assert.equal(obs.monitor.latest()?.book?.oldestSince, t0 + 60);
      assert.equal(texts().length, 0, '13 minutes since the first check that saw them');
      assert.equal(await oldest(), 13 * 60);
      ctx.clock.advance(120);
      await obs.monitor.check();
      assert.equal(texts().length, 1);
      assert.match(texts()[0]!, /ALERT: Order book events refused by the relays\n2 order\(s\) have a public event \(kind 38383\) that no relay accepted; the oldest has waited 15 min with 1 of 1 relays connected/);
      // a relay accepts both events (their rows go): resolved at the next check
      const rows = (await sql<{ seq: number; status: string }>`SELECT seq, status FROM mostrod_ts_order_changes ORDER BY seq`.execute(ctx.db)).rows;
      assert.equal(rows.length, 2);
      ctx.orderChangeAcks.publishing(a.id, rows[0]!.seq)(true);
      ctx.orderChangeAcks.publishing(b.id, rows[1]!.seq)(true);
      await ctx.orderChangeAcks.flush();
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().length, 2);
      assert.match(texts()[1]!, /RESOLVED: Order book events refused by the relays/);
      assert.equal(await oldest(), 0);
      // a new lagging order while every relay is down: not judged; counted from the reconnection
      await insertOrder(ctx.db, makeOrder({ status: 'pending' }));
      relays[0]!.state = 'closed';
      for (let i = 0; i < 30; i++) {
        ctx.clock.advance(60);
        await obs.monitor.check();
      }
      const alerts = texts().filter((t) => t.includes('Order book events'));
      assert.equal(alerts.length, 2, 'nothing while no relay is connected');
      relays[0]!.state = 'open';
      for (let i = 0; i < 15; i++) {
        ctx.clock.advance(60);
        await obs.monitor.check();
      }
      assert.equal(texts().filter((t) => t.includes('ALERT: Order book events')).length, 1, '14 minutes since the first check that saw a relay again');
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().filter((t) => t.includes('ALERT: Order book events')).length, 2);
    } finally {
      await obs.close();
    }
  });
  void test('a dispute event no relay accepts for dispute_events_unaccepted_minutes alerts the operator once; its acceptance resolves it', async () => {
    const admin = newKeys();
    const { ctx, obs, published, base } = await setup({ admin: admin.pubkey, alerts: { dispute_events_unaccepted_minutes: 10 } });
    const texts = (): string[] =>
      published.map((e) => {
        const u = unwrapGiftWrap(e, admin.secretKey);
        assert.ok(u.ok);
        return u.gift.rumor.content;
      });
    const oldest = async (): Promise<number | undefined> => (await scrape(base)).get('mostrod_dispute_events_unaccepted_oldest_seconds');
    try {
      await obs.monitor.check();
      assert.deepEqual(obs.monitor.latest()?.disputes, { unaccepted: 0, oldestSince: null });
      assert.equal(await oldest(), 0);
      // a dispute whose 38386 no relay accepts (the dispute log's trigger writes its row); its
      // order's own change is accepted, so only the dispute lags
      const order = makeOrder({ status: 'dispute' });
      await insertOrder(ctx.db, order);
      await sql`DELETE FROM mostrod_ts_order_changes`.execute(ctx.db);
      const disputeId = randomUUID();
      await insertDispute(ctx.db, { id: disputeId, order_id: order.id, status: 'initiated', order_previous_status: 'active', solver_pubkey: null, created_at: ctx.clock.now(), taken_at: 0 });
      const t0 = ctx.clock.now();
      for (let i = 0; i < 10; i++) {
        ctx.clock.advance(60);
        await obs.monitor.check();
      }
      assert.equal(obs.monitor.latest()?.disputes?.oldestSince, t0 + 60);
      assert.equal(obs.monitor.latest()?.book?.unaccepted, 0);
      assert.equal(texts().length, 0, '9 minutes since the first check that saw it');
      assert.equal(await oldest(), 9 * 60);
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().length, 1);
      assert.match(texts()[0]!, /ALERT: Dispute events refused by the relays\n1 dispute\(s\) have a public event \(kind 38386\) that no relay accepted; the oldest has waited 10 min with 1 of 1 relays connected/);
      // a solver takes it: the newer change replaces the row (the log keeps no time of its own),
      // so the count starts again from the check that sees it, as for an order's newer change
      assert.equal(await casUpdateDispute(ctx.db, disputeId, { status: 'initiated' }, { status: 'in-progress', solver_pubkey: admin.pubkey, taken_at: ctx.clock.now() }), true);
      const t1 = ctx.clock.now();
      for (let i = 0; i < 10; i++) {
        ctx.clock.advance(60);
        await obs.monitor.check();
      }
      assert.equal(obs.monitor.latest()?.disputes?.oldestSince, t1 + 60);
      assert.equal(texts().filter((t) => t.includes('ALERT: Dispute events')).length, 1);
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().filter((t) => t.includes('ALERT: Dispute events')).length, 2);
      // a relay accepts the event for its status: the row goes, resolved at the next check
      const rows = (await sql<{ seq: number; status: string }>`SELECT seq, status FROM mostrod_ts_dispute_changes`.execute(ctx.db)).rows;
      assert.deepEqual(rows.map((r) => r.status), ['in-progress']);
      assert.equal(await clearDisputeChange(ctx.db, rows[0]!.seq), true);
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.match(texts().at(-1)!, /RESOLVED: Dispute events refused by the relays/);
      assert.equal(texts().filter((t) => t.includes('RESOLVED: Dispute events')).length, 2);
      assert.equal(await oldest(), 0);
    } finally {
      await obs.close();
    }
  });
  void test('an inbound flood that makes the intake shed events unchecked alerts the operator once; quiet for overload_quiet_minutes resolves it', async () => {
    const admin = newKeys();
    const intake: Record<string, number> = { dispatched: 40, pow: 3 };
    const { ctx, obs, published } = await setup({ admin: admin.pubkey, intake });
    const texts = (): string[] =>
      published.map((e) => {
        const u = unwrapGiftWrap(e, admin.secretKey);
        assert.ok(u.ok);
        return u.gift.rumor.content;
      });
    try {
      await obs.monitor.check();
      assert.deepEqual(obs.monitor.latest()?.inbound, { shed: 0, since: null, lastShedAt: null, dropped: [] });
      // a first minute of flood: 60 shed (below the 100 of the default), 30,000 failing PoW
      Object.assign(intake, { dispatched: 100, pow: 30_003, overloaded: 60 });
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().length, 0, 'below overload_shed_events');
      Object.assign(intake, { dispatched: 160, pow: 60_003, overloaded: 160, signature: 5 });
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().length, 1);
      assert.match(texts()[0]!, /ALERT: Inbound flood: events shed unchecked\nThe intake shed 160 inbound events unchecked since .*Dropped at the gates in that time: pow 60,000, signature 5\./);
      // the flood goes on, then stops: no second alert; resolved 10 minutes after the last shedding
      Object.assign(intake, { overloaded: 400, pow: 90_003 });
      ctx.clock.advance(60);
      await obs.monitor.check();
      for (let i = 0; i < 9; i++) {
        ctx.clock.advance(60);
        await obs.monitor.check();
      }
      assert.equal(texts().length, 1, 'still open 9 minutes after the last shedding');
      ctx.clock.advance(60);
      await obs.monitor.check();
      assert.equal(texts().length, 2);
      assert.match(texts()[1]!, /RESOLVED: Inbound flood: events shed unchecked/);
      assert.deepEqual(obs.monitor.latest()?.inbound?.since, null);
    } finally {
      await obs.close();
    }
  });
});
