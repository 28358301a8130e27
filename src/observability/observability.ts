/**
 * Wires the operator's cockpit into a daemon: the metrics registry, the monitor job (health
 * snapshot + alerts), the alert DM transport and the HTTP listener. Built once by daemon.ts; holds
 * no module-level state, so several daemons can run in one process.
 */
import type { Logger } from 'pino';
import { parseAdminPubkey } from '../alerts/admin-key.js';
import { Alerter } from '../alerts/alerter.js';
import { countOpenIncidents, touchHealthRow, type AlertKind } from '../alerts/incidents.js';
import { buildOperatorDm } from '../alerts/operator-dm.js';
import type { AppContext } from '../context.js';
import type { NostrEvent } from '../crypto/event.js';
import type { PublishResult, RelayStatus } from '../nostr/relay-pool.js';
import { payoutGraceSeconds } from '../ops/stuck.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { startHttpServer, type HttpServerHandle } from './http-server.js';
import type { CryptoPoolStats } from '../nostr/crypto-pool.js';
import type { CryptoLane, IntakeLoad } from '../nostr/intake.js';
import { DaemonMetrics, type JobRun, type OutboxCounters, type PriceCurrencySources, type PriceSourceAge } from './metrics.js';
import { Monitor } from './monitor.js';
import { checkReadiness } from './readiness.js';

export const MONITOR_JOB = 'monitor';

export interface ObservabilityDeps {
  ctx: AppContext;
  /** SQLite file (null: in memory) */
  dbFile: string | null;
  relays: {
    status(): RelayStatus[];
    publish(event: NostrEvent): Promise<PublishResult[]>;
  };
  intakeCounters: () => Record<string, number>;
  /** The intake's queues and per-lane sheds (optional: no such series without it). */
  intakeLoad?: () => IntakeLoad;
  outboxStats: () => OutboxCounters | null;
  /** The crypto executor's counters (optional: no crypto series without it). */
  cryptoStats?: () => CryptoPoolStats;
  prices: () => PriceSourceAge[];
  /** Per currency, the sources of its price (optional). */
  priceCurrencies?: () => PriceCurrencySources[];
  version: string;
  logger: Logger;
}

export class Observability {
  readonly metrics: DaemonMetrics;
  readonly monitor: Monitor;
  readonly alerter: Alerter | null;
  private http: HttpServerHandle | null = null;

  constructor(private readonly deps: ObservabilityDeps) {
    const { ctx } = deps;
    const admin = ctx.settings.alerts.admin_npub === undefined ? null : parseAdminPubkey(ctx.settings.alerts.admin_npub);
    this.alerter =
      admin === null
        ? null
        : new Alerter({
            db: ctx.db,
            clock: ctx.clock,
            logger: deps.logger.child({ component: 'alerts' }),
            nodeName: ctx.settings.mostro.name ?? 'mostrod',
            send: async (text) => {
              const results = await deps.relays.publish(buildOperatorDm(text, admin, ctx.keys, ctx.clock.now()));
              return results.some((r) => r.ok);
            },
          });
    this.monitor = new Monitor({
      db: ctx.db,
      settings: ctx.settings,
      clock: ctx.clock,
      logger: deps.logger.child({ component: 'monitor' }),
      lightning: ctx.lightning,
      relays: () => deps.relays.status(),
      priceFetchedAt: () => {
        const now = ctx.clock.now();
        const ages = deps.prices().flatMap((p) => (p.ageSeconds === null ? [] : [p.ageSeconds]));
        return ages.length === 0 ? null : now - Math.min(...ages);
      },
      alerter: this.alerter,
      backups: () => ctx.backups?.status() ?? null,
      intakeCounters: deps.intakeCounters,
    });
    this.metrics = new DaemonMetrics({
      db: ctx.db,
      dbFile: deps.dbFile,
      clock: ctx.clock,
      payoutGraceSeconds: payoutGraceSeconds(ctx.settings),
      lightning: ctx.lightning,
      relays: () => deps.relays.status(),
      intake: deps.intakeCounters,
      ...(deps.intakeLoad !== undefined ? { intakeLoad: deps.intakeLoad } : {}),
      outbox: deps.outboxStats,
      ...(deps.cryptoStats !== undefined ? { crypto: deps.cryptoStats } : {}),
      prices: deps.prices,
      ...(deps.priceCurrencies !== undefined ? { priceCurrencies: deps.priceCurrencies } : {}),
      health: () => this.monitor.latest(),
      openIncidents: () => (this.alerter === null ? Promise.resolve(new Map<AlertKind, number>()) : countOpenIncidents(ctx.db)),
      version: deps.version,
      backups: () => ctx.backups?.status() ?? null,
      bans: () => ({ banned: ctx.bans.size, refused: ctx.bans.refused }),
      unratedRefused: () => ({ orders: ctx.unrated.orders.refused, takes: ctx.unrated.takes.refused }),
      // prom-client's process collectors (event-loop monitor, GC observer) only when someone scrapes
      processMetrics: ctx.settings.http.enabled,
    });
  }

  /** True when anything needs the monitor job (the HTTP listener or alerts). */
  get enabled(): boolean {
    return this.deps.ctx.settings.http.enabled || this.alerter !== null;
  }

  /** Register the monitor job (every [alerts] check_interval_seconds) when enabled. */
  registerJobs(scheduler: Scheduler): void {
    if (!this.enabled) return;
    scheduler.every(MONITOR_JOB, this.deps.ctx.settings.alerts.check_interval_seconds, async () => {
      await this.monitor.check();
    });
  }

  /** Time one handler run (the latency histogram by action). */
  async timeHandler(action: string, run: () => Promise<void>): Promise<void> {
    const { clock } = this.deps.ctx;
    const startedMs = clock.nowMs();
    try {
      await run();
    } finally {
      this.metrics.observeHandler(action, (clock.nowMs() - startedMs) / 1000);
    }
  }

  observeJob(run: JobRun): void {
    this.metrics.observeJob(run);
  }

  /** An inbound event's wait in a crypto lane (the intake's onLaneWait). */
  observeLaneWait(lane: CryptoLane, seconds: number): void {
    this.metrics.observeLaneWait(lane, seconds);
  }

  observeHandOff(queue: string, seconds: number): void {
    this.metrics.observeHandOff(queue, seconds);
  }

  /** Start the HTTP listener when `[http] enabled`. Throws when the address cannot be bound. */
  async startHttp(): Promise<void> {
    const { ctx } = this.deps;
    if (!ctx.settings.http.enabled) return;
    this.http = await startHttpServer(
      {
        logger: this.deps.logger.child({ component: 'http' }),
        metrics: async () => ({ contentType: this.metrics.contentType, body: await this.metrics.render() }),
        readiness: () =>
          checkReadiness({
            writeProbe: () => touchHealthRow(ctx.db, ctx.clock.now()),
            relays: () => this.deps.relays.status(),
            lightning: ctx.lightning,
          }),
      },
      { host: ctx.settings.http.listen_address, port: ctx.settings.http.port },
    );
  }

  /** The bound HTTP port (null when the listener is off). */
  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  async close(): Promise<void> {
    this.monitor.close();
    if (this.http !== null) await this.http.close();
  }
}
