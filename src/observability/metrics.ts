/**
 * The daemon's Prometheus metrics (docs/OPERATIONS.md "Metrics, health and alerts" lists every name).
 * One prom-client Registry per daemon — never the global default registry — so several daemons
 * (tests) can run in one process.
 *
 * Most values are read at scrape time from the surfaces the daemon already keeps (intake verdict
 * counters, relay pool status, outbox stats, the LND link state, the price service, the monitor's
 * last health snapshot) and from a few indexed aggregate queries over the database (./db-stats.ts),
 * computed once per scrape. Three things are pushed as they happen: handler latency by action,
 * the intake's crypto-lane waits, and scheduler job runs.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import { checkpointerOf, durabilityOf, statementCacheOf } from '../db/database.js';
import type { LightningBackend, LinkState } from '../lightning/backend.js';
import type { CryptoPoolStats } from '../nostr/crypto-pool.js';
import type { CryptoLane, IntakeLoad } from '../nostr/intake.js';
import type { OutboxStats } from '../nostr/relay-outbox.js';
import type { RelayStatus } from '../nostr/relay-pool.js';
import { ALERT_KINDS, type AlertKind } from '../alerts/incidents.js';
import { databaseSizeBytes, readDbStats, type DbStats } from './db-stats.js';
import type { BackupStatus } from '../ops/backup-job.js';
import type { HealthSnapshot } from './health-snapshot.js';

export interface PriceSourceAge {
  source: string;
  /** seconds since the source's last successful fetch; null when it never succeeded */
  ageSeconds: number | null;
  /** the source's circuit breaker (absent: a source without one, e.g. the legacy single API) */
  breaker?: 'closed' | 'open' | 'half-open';
  /** unix s of the last successful fetch (null: never; absent: unknown) */
  lastSuccessAt?: number | null;
}

/** One currency's aggregated price: which sources made it (the price service's status). */
export interface PriceCurrencySources {
  currency: string;
  sources: readonly string[];
  ageSeconds: number;
  stale: boolean;
}

/** The outbox figures exported (RelayOutbox.stats()). */
export type OutboxCounters = Pick<OutboxStats, 'messagesSent' | 'messagesDropped' | 'eventsPublished' | 'eventsIncomplete'>;

export interface JobRun {
  job: string;
  /** ms epoch the run started */
  startedMs: number;
  durationMs: number;
  failed: boolean;
}

export interface MetricsSources {
  db: Db;
  /** SQLite file (null: in memory) for mostrod_db_size_bytes */
  dbFile: string | null;
  clock: Clock;
  /** payout grace (s): claims older than this count as stranded */
  payoutGraceSeconds: number;
  lightning: Pick<LightningBackend, 'state' | 'info' | 'lastError'>;
  relays: () => RelayStatus[];
  intake: () => Record<string, number>;
  /** The intake's queues and per-lane sheds (absent: no such series). */
  intakeLoad?: () => IntakeLoad;
  outbox: () => OutboxCounters | null;
  /** The crypto executor's counters (crypto-pool.ts); absent: no crypto series. */
  crypto?: () => CryptoPoolStats;
  prices: () => PriceSourceAge[];
  /** Per currency, the sources of its current price (absent: not exported). */
  priceCurrencies?: () => PriceCurrencySources[];
  health: () => HealthSnapshot | null;
  openIncidents: () => Promise<Map<AlertKind, number>>;
  /** Scheduled backups' status (null: not scheduled). */
  backups?: () => BackupStatus | null;
  /** The operator's bans (app/bans.ts): keys banned, requests refused since start. */
  bans?: () => { banned: number; refused: number };
  /** Requests refused by `[mostro] unrated_orders_per_minute` / `unrated_takes_per_minute` since start (app/unrated-budget.ts). */
  unratedRefused?: () => { orders: number; takes: number };
  version: string;
  /** Node.js process metrics and event-loop lag (prom-client's default collectors). Default true. */
  processMetrics?: boolean;
}

const LINK_STATES: readonly LinkState[] = ['connecting', 'up', 'down'];

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly handlerLatency: Histogram<'action'>;
  private readonly laneWait: Record<CryptoLane, { observe(seconds: number): void }>;
  private readonly replyHandOff: Histogram<'queue'>;
  private readonly jobLastRun: Gauge<'job'>;
  private readonly jobDuration: Gauge<'job'>;
  private readonly jobRuns: Counter<'job'>;
  private readonly jobErrors: Counter<'job'>;
  private readonly applyDbStats: (s: DbStats) => void;
  private readonly applyIncidents: (open: Map<AlertKind, number>) => void;

  constructor(private readonly src: MetricsSources) {
    const registers = [this.registry];
    if (src.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });

    new Gauge({
      name: 'mostrod_info',
      help: 'Always 1; the version label names the running daemon',
      labelNames: ['version'],
      registers,
    }).set({ version: src.version }, 1);

    // ---- database ----
    const orders = new Gauge({ name: 'mostrod_orders', help: 'Orders in the database by status', labelNames: ['status'], registers });
    const completed = new Gauge({ name: 'mostrod_trades_completed', help: 'Trades that ended in success (orders in success or completed-by-admin)', registers });
    const canceled = new Gauge({ name: 'mostrod_trades_canceled', help: 'Taken orders that ended canceled (cooperatively, by an admin or a timeout)', registers });
    const heldSats = new Gauge({ name: 'mostrod_escrow_held_sats', help: 'Sats locked in accepted hold invoices (amount + fee of live escrows)', registers });
    const held = new Gauge({ name: 'mostrod_escrow_held', help: 'Number of escrows currently held', registers });
    const payouts = new Gauge({
      name: 'mostrod_payouts',
      help: 'Buyer payouts: in_flight = claimed and being paid; stranded = claimed longer than the grace (2 x payment_timeout_seconds); failed = last attempt failed, waiting for a retry or a new invoice',
      labelNames: ['state'],
      registers,
    });
    const devFee = new Gauge({ name: 'mostrod_dev_fee_sats', help: 'Development fee: owed (settled trades not yet paid) and paid', labelNames: ['state'], registers });
    const dbSize = new Gauge({ name: 'mostrod_db_size_bytes', help: 'Size of the SQLite database file plus its WAL', registers });
    const unaccepted = new Gauge({
      name: 'mostrod_order_events_unaccepted',
      help: 'Orders whose current kind-38383 event no relay has accepted yet (in flight, refused by every relay, or lost with a stop); the book-sync job republishes them',
      registers,
    });
    const disputeEvents = new Gauge({
      name: 'mostrod_dispute_events_unaccepted',
      help: 'Disputes whose current kind-38386 event (how solvers learn of them) no relay has accepted yet; the book-sync job republishes them',
      registers,
    });
    const notices = new Gauge({
      name: 'mostrod_notices_unaccepted',
      help: 'Stored trade notices (the messages of every trade step) no relay has accepted yet; the notice-redelivery job sends them again every minute',
      registers,
    });
    this.applyDbStats = (s: DbStats): void => {
      for (const [status, n] of s.ordersByStatus) orders.set({ status }, n);
      completed.set(s.tradesCompleted);
      canceled.set(s.tradesCanceled);
      heldSats.set(s.heldEscrowSats);
      held.set(s.heldEscrows);
      payouts.set({ state: 'in_flight' }, s.payoutsInFlight);
      payouts.set({ state: 'stranded' }, s.payoutsStranded);
      payouts.set({ state: 'failed' }, s.payoutsFailed);
      devFee.set({ state: 'owed' }, s.devFeeOwedSats);
      devFee.set({ state: 'paid' }, s.devFeePaidSats);
      dbSize.set(databaseSizeBytes(src.dbFile));
      unaccepted.set(s.orderEventsUnaccepted);
      disputeEvents.set(s.disputeEventsUnaccepted);
      notices.set(s.noticesUnaccepted);
    };

    // ---- escrows near their CLTV deadline (monitor job: needs the chain tip and LND lookups) ----
    new Gauge({
      name: 'mostrod_escrows_near_deadline',
      help: 'Held escrows whose HTLC expires within [alerts] escrow_deadline_blocks blocks (or was already canceled by LND), as of the last monitor check; NaN while unknown (no check yet, LND down)',
      registers,
      collect() {
        const list = src.health()?.escrowsNearDeadline;
        this.set(list === null || list === undefined ? Number.NaN : list.length);
      },
    });
    new Gauge({
      name: 'mostrod_order_events_unaccepted_oldest_seconds',
      help: 'How long the oldest order event no relay accepted has been waiting, as of the last monitor check (counted from the first check that saw it: never more than its true age); 0 when none; NaN while unknown',
      registers,
      collect() {
        const s = src.health();
        const book = s?.book;
        this.set(s === null || s === undefined || book === null || book === undefined ? Number.NaN : book.oldestSince === null ? 0 : s.at - book.oldestSince);
      },
    });
    new Gauge({
      name: 'mostrod_dispute_events_unaccepted_oldest_seconds',
      help: 'How long the oldest dispute event (kind 38386) no relay accepted has been waiting, as of the last monitor check (counted from the first check that saw it: never more than its true age); 0 when none; NaN while unknown',
      registers,
      collect() {
        const s = src.health();
        const lag = s?.disputes;
        this.set(s === null || s === undefined || lag === null || lag === undefined ? Number.NaN : lag.oldestSince === null ? 0 : s.at - lag.oldestSince);
      },
    });
    new Gauge({
      name: 'mostrod_monitor_last_check_timestamp_seconds',
      help: 'Unix time of the last monitor check (health snapshot)',
      registers,
      collect() {
        const at = src.health()?.at;
        if (at !== undefined) this.set(at);
      },
    });

    // ---- Lightning ----
    new Gauge({
      name: 'mostrod_lightning_up',
      help: '1 when the LND link is up',
      registers,
      collect() {
        this.set(src.lightning.state === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mostrod_lightning_state',
      help: 'LND link state (1 for the current state)',
      labelNames: ['state'],
      registers,
      collect() {
        for (const s of LINK_STATES) this.set({ state: s }, src.lightning.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mostrod_lightning_last_error_info',
      help: 'Last error of the LND link (1, error label); absent when there was none',
      labelNames: ['error'],
      registers,
      collect() {
        this.reset();
        const e = src.lightning.lastError;
        if (e !== null && e !== undefined) this.set({ error: e.slice(0, 200) }, 1);
      },
    });
    new Gauge({
      name: 'mostrod_lightning_block_height',
      help: 'Chain height LND reported at its last GetInfo',
      registers,
      collect() {
        const h = src.lightning.info?.blockHeight;
        if (h !== undefined) this.set(h);
      },
    });

    // ---- relays ----
    new Gauge({
      name: 'mostrod_relay_connected',
      help: '1 when the relay connection is open and subscribed',
      labelNames: ['relay'],
      registers,
      collect() {
        for (const r of src.relays()) this.set({ relay: r.url }, r.state === 'open' ? 1 : 0);
      },
    });
    const relayCounter = (name: string, help: string, pick: (r: RelayStatus) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['relay'],
        registers,
        collect() {
          this.reset();
          for (const r of src.relays()) this.inc({ relay: r.url }, pick(r));
        },
      });
    };
    relayCounter('mostrod_relay_connects_total', 'Connections opened to the relay', (r) => r.connects);
    relayCounter('mostrod_relay_publish_failures_total', 'Events not delivered to the relay (not connected, timeout, connection closed before OK)', (r) => r.publishFailures);
    relayCounter('mostrod_relay_rejected_events_total', 'Events the relay answered with OK false', (r) => r.rejected);
    relayCounter('mostrod_relay_events_received_total', 'Events received from the relay (accepted for intake)', (r) => r.events);

    // ---- outbox ----
    new Counter({
      name: 'mostrod_outbox_messages_total',
      help: 'Gift-wrapped messages: sent (a relay accepted) or dropped after retries',
      labelNames: ['result'],
      registers,
      collect() {
        const s = src.outbox();
        this.reset();
        if (s === null) return;
        this.inc({ result: 'sent' }, s.messagesSent);
        this.inc({ result: 'dropped' }, s.messagesDropped);
      },
    });
    new Counter({
      name: 'mostrod_outbox_events_total',
      help: 'Public events: published to every relay, or incomplete after retries',
      labelNames: ['result'],
      registers,
      collect() {
        const s = src.outbox();
        this.reset();
        if (s === null) return;
        this.inc({ result: 'published' }, s.eventsPublished);
        this.inc({ result: 'incomplete' }, s.eventsIncomplete);
      },
    });

    // ---- crypto ----
    const crypto = src.crypto;
    if (crypto !== undefined) {
      new Counter({
        name: 'mostrod_crypto_tasks_total',
        help:
          'Crypto tasks (unwraps, wraps, signatures) finished, by where they ran: inline (the event-loop thread, an idle loop), helped (the event-loop thread, for threads that were behind) or threads (the worker pool)',
        labelNames: ['where'],
        registers,
        collect() {
          const s = crypto();
          this.reset();
          const inline = s.threads === 0 ? s.completed : (s.inline ?? 0);
          const helped = s.threads === 0 ? 0 : (s.helped ?? 0);
          this.inc({ where: 'inline' }, inline);
          this.inc({ where: 'helped' }, helped);
          this.inc({ where: 'threads' }, Math.max(0, s.completed - inline - helped));
        },
      });
      new Counter({
        name: 'mostrod_crypto_thread_failures_total',
        help: 'Crypto worker threads that died (each replaced; the tasks it held were run again)',
        registers,
        collect() {
          this.reset();
          this.inc(crypto().workerFailures);
        },
      });
      new Gauge({
        name: 'mostrod_crypto_queued',
        help: 'Crypto tasks waiting for a worker thread',
        registers,
        collect() {
          this.set(crypto().queued);
        },
      });
      new Gauge({
        name: 'mostrod_crypto_on_threads',
        help: 'Where new crypto tasks go now: 1 = the worker threads (the event loop is busy with crypto), 0 = the event-loop thread (idle enough, or no threads)',
        registers,
        collect() {
          this.set(crypto().mode === 'pool' ? 1 : 0);
        },
      });
      new Counter({
        name: 'mostrod_crypto_mode_switches_total',
        help: 'Times new crypto tasks moved between the event-loop thread and the worker threads',
        registers,
        collect() {
          this.reset();
          this.inc(crypto().modeSwitches ?? 0);
        },
      });
      new Gauge({
        name: 'mostrod_crypto_loop_share',
        help: 'The crypto tasks\' smoothed share of the event loop\'s time (pool tasks at their estimated inline cost); the threads are taken only while it is at least 0.25',
        registers,
        collect() {
          this.set(crypto().loopShare ?? 0);
        },
      });
    }

    // ---- database durability (db/durability.ts) ----
    const durability = durabilityOf(src.db);
    new Counter({
      name: 'mostrod_db_syncs_total',
      help: 'fdatasync calls of the WAL by the durability barrier (one covers every commit made before it began; 0 with MOSTROD_DB_SYNC=commit)',
      registers,
      collect() {
        this.reset();
        this.inc(durability.stats().syncs);
      },
    });
    new Counter({
      name: 'mostrod_db_sync_waits_total',
      help: 'Effects (relay hand-offs, LND calls, admin answers) that waited for a sync of the commits before them',
      registers,
      collect() {
        this.reset();
        this.inc(durability.stats().waits);
      },
    });
    new Gauge({
      name: 'mostrod_db_sync_waiting',
      help: 'Effects waiting for a sync now',
      registers,
      collect() {
        this.set(durability.stats().waiting);
      },
    });

    // Flat after warm-up: a statement prepared again and again (cache evictions) is a prepare per
    // use, and on better-sqlite3 13 (Node 22 and 24) its memory comes back only after a collection
    // and a later event-loop turn (docs/PERFORMANCE.md, session 19).
    new Counter({
      name: 'mostrod_db_statements_prepared_total',
      help: 'SQL statements the daemon connection prepared (statement cache misses); should stop rising once the daemon is warm',
      registers,
      collect() {
        this.reset();
        const cache = statementCacheOf(src.db);
        if (cache !== undefined) this.inc(cache.prepared);
      },
    });

    // ---- WAL checkpoints off the event loop (db/wal-checkpointer.ts; absent when SQLite checkpoints inline) ----
    const checkpoints = () => checkpointerOf(src.db)?.stats() ?? null;
    new Counter({
      name: 'mostrod_db_checkpoint_passes_total',
      help: 'WAL checkpoint passes run off the event loop, by result (none when SQLite checkpoints on the event loop: crypto_threads = 0 or MOSTROD_DB_CHECKPOINT=inline)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        const c = checkpoints();
        if (c === null) return;
        this.inc({ result: 'ok' }, c.passes);
        this.inc({ result: 'failed' }, c.failures);
      },
    });
    new Gauge({
      name: 'mostrod_db_wal_frames',
      help: 'Pages in the WAL at the last checkpoint pass, labelled with where the passes run (the daemon checkpoints on the event loop itself past 10,000)',
      labelNames: ['where'],
      registers,
      collect() {
        this.reset();
        const c = checkpoints();
        if (c !== null && c.passes > 0) this.set({ where: c.where }, c.lastFrames);
      },
    });

    // ---- prices ----
    new Gauge({
      name: 'mostrod_price_age_seconds',
      help: 'Seconds since each price source last fetched successfully (absent: never)',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const p of src.prices()) if (p.ageSeconds !== null) this.set({ source: p.source }, p.ageSeconds);
      },
    });
    new Gauge({
      name: 'mostrod_price_source_last_success_timestamp_seconds',
      help: 'Unix time of each price source’s last successful fetch (absent: never)',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const p of src.prices()) if (p.lastSuccessAt !== undefined && p.lastSuccessAt !== null) this.set({ source: p.source }, p.lastSuccessAt);
      },
    });
    new Gauge({
      name: 'mostrod_price_source_breaker_state',
      help: 'Circuit breaker of each price source: 1 for its current state (closed = polled, open = skipped until its cooldown ends, half-open = one trial poll)',
      labelNames: ['source', 'state'],
      registers,
      collect() {
        this.reset();
        for (const p of src.prices()) {
          if (p.breaker === undefined) continue;
          for (const state of ['closed', 'open', 'half-open'] as const) this.set({ source: p.source, state }, p.breaker === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'mostrod_price_currency_source',
      help: 'Which sources made each currency’s current price (1 per currency and source; stale prices are not served)',
      labelNames: ['currency', 'source'],
      registers,
      collect() {
        this.reset();
        for (const c of src.priceCurrencies?.() ?? []) for (const s of c.sources) this.set({ currency: c.currency, source: s }, 1);
      },
    });
    new Gauge({
      name: 'mostrod_price_currency_age_seconds',
      help: 'Age of each currency’s aggregated price (served only while younger than max_price_staleness_seconds)',
      labelNames: ['currency'],
      registers,
      collect() {
        this.reset();
        for (const c of src.priceCurrencies?.() ?? []) this.set({ currency: c.currency }, c.ageSeconds);
      },
    });

    // ---- scheduled backups ([backup]; absent when not scheduled) ----
    const backup = (): BackupStatus | null => {
      const b = src.backups?.() ?? null;
      return b !== null && b.schedule !== null ? b : null;
    };
    new Counter({
      name: 'mostrod_backup_runs_total',
      help: 'Scheduled backup runs since the start',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        const b = backup();
        if (b === null) return;
        this.inc({ result: 'ok' }, b.runs - b.failures);
        this.inc({ result: 'failed' }, b.failures);
      },
    });
    new Gauge({
      name: 'mostrod_backup_consecutive_failures',
      help: 'Scheduled backups failed since the last success',
      registers,
      collect() {
        this.set(backup()?.consecutiveFailures ?? 0);
      },
    });
    new Gauge({
      name: 'mostrod_backup_last_success_timestamp_seconds',
      help: 'Unix time of the last good (integrity-checked) scheduled backup; NaN before the first',
      registers,
      collect() {
        const at = backup()?.lastSuccessAt ?? null;
        this.set(at === null ? Number.NaN : at);
      },
    });

    // ---- operator bans ----
    const bans = src.bans;
    if (bans !== undefined) {
      new Gauge({
        name: 'mostrod_banned_keys',
        help: 'Identity keys banned from new orders and takes (users.is_banned, as the daemon loaded them)',
        registers,
        collect() {
          this.set(bans().banned);
        },
      });
      new Counter({
        name: 'mostrod_banned_requests_total',
        help: 'new-order / take-sell / take-buy requests refused because their identity is banned',
        registers,
        collect() {
          this.reset();
          this.inc(bans().refused);
        },
      });
    }
    const unrated = src.unratedRefused;
    if (unrated !== undefined) {
      new Counter({
        name: 'mostrod_unrated_refused_total',
        help: 'new orders / takes from users nobody has rated refused over [mostro] unrated_orders_per_minute / unrated_takes_per_minute',
        labelNames: ['request'],
        registers,
        collect() {
          const r = unrated();
          this.reset();
          this.inc({ request: 'new-order' }, r.orders);
          this.inc({ request: 'take' }, r.takes);
        },
      });
    }

    // ---- intake ----
    new Counter({
      name: 'mostrod_intake_events_total',
      help: 'Inbound events by intake verdict: dispatched, dispatch-error, or the gate that dropped them',
      labelNames: ['verdict'],
      registers,
      collect() {
        this.reset();
        for (const [verdict, n] of Object.entries(src.intake())) this.inc({ verdict }, n);
      },
    });

    const intakeLoad = src.intakeLoad;
    if (intakeLoad !== undefined) {
      new Gauge({
        name: 'mostrod_intake_queued',
        help: 'Inbound events waiting inside the daemon: for a crypto slot in the priority or first-contact lane, or (authenticated) for a handler slot',
        labelNames: ['stage'],
        registers,
        collect() {
          const l = intakeLoad();
          this.set({ stage: 'priority' }, l.priorityQueued);
          this.set({ stage: 'first-contact' }, l.firstContactQueued);
          this.set({ stage: 'handler' }, l.queued);
        },
      });
      new Gauge({
        name: 'mostrod_intake_crypto_in_flight',
        help: 'Inbound events whose crypto checks are running (on the event loop or the worker threads)',
        registers,
        collect() {
          this.set(intakeLoad().inCrypto);
        },
      });
      new Counter({
        name: 'mostrod_intake_lane_shed_total',
        help: 'Inbound events refused before any crypto because their crypto lane was full, by lane (part of verdict="overloaded")',
        labelNames: ['lane'],
        registers,
        collect() {
          const l = intakeLoad();
          this.reset();
          this.inc({ lane: 'priority' }, l.shedPriority);
          this.inc({ lane: 'first-contact' }, l.shedFirstContact);
        },
      });
    }
    const laneWait = new Histogram({
      name: 'mostrod_intake_lane_wait_seconds',
      help: 'Time an inbound event waited in its crypto lane for a slot (0 when it started at once), by lane',
      labelNames: ['lane'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.laneWait = { priority: laneWait.labels({ lane: 'priority' }), 'first-contact': laneWait.labels({ lane: 'first-contact' }) };
    this.replyHandOff = new Histogram({
      name: 'mostrod_outbox_handoff_seconds',
      help: 'Time from a message to a user being queued (by its handler) to its frame being handed to the relays: the outbox window, the wrap, the messages before it and the durability sync, by queue',
      labelNames: ['queue'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });

    // ---- handlers and jobs (pushed) ----
    this.handlerLatency = new Histogram({
      name: 'mostrod_handler_duration_seconds',
      help: 'Time from dispatch to the end of the handler, by action (including waiting for the order lock)',
      labelNames: ['action'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.jobLastRun = new Gauge({ name: 'mostrod_job_last_run_timestamp_seconds', help: 'Unix time the job last finished', labelNames: ['job'], registers });
    this.jobDuration = new Gauge({ name: 'mostrod_job_last_duration_seconds', help: 'Duration of the job\'s last run', labelNames: ['job'], registers });
    this.jobRuns = new Counter({ name: 'mostrod_job_runs_total', help: 'Runs of the job', labelNames: ['job'], registers });
    this.jobErrors = new Counter({ name: 'mostrod_job_errors_total', help: 'Runs of the job that failed', labelNames: ['job'], registers });

    // ---- alerts ----
    const incidents = new Gauge({
      name: 'mostrod_alert_incidents_open',
      help: 'Open operator alert incidents by kind ([alerts]; 0 when alerts are off)',
      labelNames: ['kind'],
      registers,
    });
    this.applyIncidents = (open: Map<AlertKind, number>): void => {
      for (const k of ALERT_KINDS) incidents.set({ kind: k }, open.get(k) ?? 0);
    };
  }

  observeHandler(action: string, seconds: number): void {
    this.handlerLatency.observe({ action }, seconds);
  }

  /** A message's time from queued to handed to the relays (RelayOutbox's onHandOff). */
  observeHandOff(queue: string, seconds: number): void {
    this.replyHandOff.observe({ queue }, seconds);
  }

  /** An inbound event's wait in a crypto lane (Intake's onLaneWait). */
  observeLaneWait(lane: CryptoLane, seconds: number): void {
    this.laneWait[lane].observe(seconds);
  }

  observeJob(run: JobRun): void {
    this.jobRuns.inc({ job: run.job });
    if (run.failed) this.jobErrors.inc({ job: run.job });
    else this.jobErrors.inc({ job: run.job }, 0);
    this.jobLastRun.set({ job: run.job }, (run.startedMs + run.durationMs) / 1000);
    this.jobDuration.set({ job: run.job }, run.durationMs / 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: reads the database once (a few indexed aggregates), then every collector. */
  async render(): Promise<string> {
    this.applyDbStats(await readDbStats(this.src.db, this.src.clock.now(), this.src.payoutGraceSeconds));
    this.applyIncidents(await this.src.openIncidents());
    return this.registry.metrics();
  }
}
