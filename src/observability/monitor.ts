/**
 * The monitor job body (scheduler job `monitor`, every `[alerts] check_interval_seconds`): takes a
 * health snapshot — LND link and since when it is down, relays and since when none is connected,
 * price age, stranded payouts (src/ops/stuck.ts), escrows near their CLTV deadline (asks LND, only
 * while it is up; the GetInfo doubles as a liveness probe of the link), the intake's shedding since
 * the last check (episodes: see InboundShedding), the order book's events no relay accepted (see
 * BookLagTracker) — keeps it for the metrics, and hands it to the
 * Alerter when alerts are on.
 */
import type { Logger } from 'pino';
import type { Alerter, AlertRound } from '../alerts/alerter.js';
import { observeConditions } from '../alerts/conditions.js';
import { buyerAmount } from '../app/flows/order-view.js';
import type { Clock } from '../clock.js';
import type { AlertsSettings, Settings } from '../config/types.js';
import type { Db } from '../db/schema.js';
import type { LightningBackend } from '../lightning/backend.js';
import type { RelayStatus } from '../nostr/relay-pool.js';
import { findEscrowsNearDeadline, findStrandedPayouts, payoutGraceSeconds } from '../ops/stuck.js';
import type { BackupStatus } from '../ops/backup-job.js';
import { orderChangeSpan } from '../db/order-changes.js';
import { disputeChangeSpan } from '../db/dispute-changes.js';
import type { BookLag, EscrowDeadline, HealthSnapshot, InboundShedding, StrandedPayout } from './health-snapshot.js';

function backupSummary(b: BackupStatus | null): HealthSnapshot['backup'] {
  if (b === null || b.schedule === null) return null;
  return { consecutiveFailures: b.consecutiveFailures, lastError: b.lastError, lastSuccessAt: b.lastSuccessAt };
}

export interface MonitorDeps {
  db: Db;
  settings: Pick<Settings, 'lightning'> & { alerts: AlertsSettings };
  clock: Clock;
  logger: Logger;
  lightning: Pick<LightningBackend, 'state' | 'lastError' | 'onStateChange' | 'getInfo' | 'lookupInvoice'>;
  relays: () => RelayStatus[];
  /** unix s of the newest successful price fetch of any source (null: none yet) */
  priceFetchedAt: () => number | null;
  /** null when `[alerts] admin_npub` is not set */
  alerter: Alerter | null;
  /** Scheduled backups' status (null/absent: not scheduled). */
  backups?: () => BackupStatus | null;
  /** The intake's verdict counters since start (absent: no shedding figures). */
  intakeCounters?: () => Record<string, number>;
}

/** The intake verdict of an event shed unchecked (src/nostr/intake.ts). */
const SHED = 'overloaded';
/** Verdicts that are not drops. */
const NOT_DROPS = new Set(['dispatched', 'dispatch-error', SHED]);

/** Episodes of intake shedding across checks (see InboundShedding). */
export class SheddingTracker {
  private last: Record<string, number> = {};
  private shed = 0;
  private since: number | null = null;
  private lastShedAt: number | null = null;
  private dropped = new Map<string, number>();

  constructor(private readonly quietSeconds: number) {}

  /** Feed the counters read at `at`; returns the state after this check. */
  observe(counters: Record<string, number>, at: number): InboundShedding {
    const delta = (k: string): number => Math.max(0, (counters[k] ?? 0) - (this.last[k] ?? 0));
    const shedNow = delta(SHED);
    if (shedNow > 0) {
      if (this.since === null) {
        this.since = at;
        this.shed = 0;
        this.dropped = new Map();
      }
      this.shed += shedNow;
      this.lastShedAt = at;
    } else if (this.since !== null && this.lastShedAt !== null && at - this.lastShedAt >= this.quietSeconds) {
      this.since = null;
      this.shed = 0;
      this.dropped = new Map();
    }
    if (this.since !== null) {
      for (const k of Object.keys(counters)) {
        if (NOT_DROPS.has(k)) continue;
        const d = delta(k);
        if (d > 0) this.dropped.set(k, (this.dropped.get(k) ?? 0) + d);
      }
    }
    this.last = { ...counters };
    return {
      shed: this.shed,
      since: this.since,
      lastShedAt: this.lastShedAt,
      dropped: [...this.dropped].sort((a, b) => b[1] - a[1]),
    };
  }
}

/**
 * How long the oldest row of the order change log has been there, from the log's change numbers
 * alone (the table has no timestamps, and the Rust daemon writes it too through the triggers).
 * Change numbers only grow (AUTOINCREMENT), and so does the log's lowest one (a newer change of an
 * order replaces its row with a higher number). Each check that sees a higher top number than
 * before records (check time, top); the oldest row was written no later than the first recorded
 * check whose top reaches its number. Records below the log's lowest number are dropped, so what
 * is kept spans one lag episode; past MAX_MARKS the oldest record goes, which only makes the
 * reported age smaller.
 */
export class BookLagTracker {
  static readonly MAX_MARKS = 10_000;
  private marks: Array<{ at: number; seq: number }> = [];
  private top = 0;

  observe(span: { count: number; oldest: number | null; newest: number | null }, at: number): BookLag {
    if (span.newest !== null && span.newest > this.top) {
      this.top = span.newest;
      this.marks.push({ at, seq: span.newest });
      if (this.marks.length > BookLagTracker.MAX_MARKS) this.marks.shift();
    }
    if (span.oldest === null) {
      this.marks = this.marks.slice(-1);
      return { unaccepted: 0, oldestSince: null };
    }
    let drop = 0;
    while (drop < this.marks.length - 1 && this.marks[drop]!.seq < span.oldest) drop++;
    if (drop > 0) this.marks.splice(0, drop);
    return { unaccepted: span.count, oldestSince: this.marks[0]?.at ?? at };
  }
}

export class Monitor {
  private snapshot: HealthSnapshot | null = null;
  private readonly startedAt: number;
  private lndDownSince: number;
  private relaysDownSince: number;
  private relaysUpSince = Number.POSITIVE_INFINITY;
  private readonly offLink: () => void;
  private readonly shedding: SheddingTracker;
  private readonly bookLag = new BookLagTracker();
  private readonly disputeLag = new BookLagTracker();

  constructor(private readonly deps: MonitorDeps) {
    this.shedding = new SheddingTracker(deps.settings.alerts.overload_quiet_minutes * 60);
    this.startedAt = deps.clock.now();
    this.lndDownSince = this.startedAt;
    this.relaysDownSince = this.startedAt;
    this.offLink = deps.lightning.onStateChange((state) => {
      if (state === 'up') this.lndDownSince = Number.POSITIVE_INFINITY;
      else if (!Number.isFinite(this.lndDownSince)) this.lndDownSince = deps.clock.now();
    });
    if (deps.lightning.state === 'up') this.lndDownSince = Number.POSITIVE_INFINITY;
  }

  /** The last snapshot (null before the first check). */
  latest(): HealthSnapshot | null {
    return this.snapshot;
  }

  /** Take a snapshot and evaluate the alerts (when on). Resolves with the alert round, if any. */
  async check(): Promise<AlertRound | null> {
    const s = await this.take();
    this.snapshot = s;
    if (this.deps.alerter === null) return null;
    return this.deps.alerter.evaluate(observeConditions(s, this.deps.settings.alerts));
  }

  close(): void {
    this.offLink();
  }

  private async take(): Promise<HealthSnapshot> {
    const { db, clock, lightning, logger, settings } = this.deps;
    const at = clock.now();
    if (lightning.state !== 'up' && !Number.isFinite(this.lndDownSince)) this.lndDownSince = at;
    const relays = this.deps.relays();
    const connected = relays.filter((r) => r.state === 'open').length;
    if (connected > 0) {
      this.relaysDownSince = Number.POSITIVE_INFINITY;
      if (!Number.isFinite(this.relaysUpSince)) this.relaysUpSince = at;
    } else {
      this.relaysUpSince = Number.POSITIVE_INFINITY;
      if (!Number.isFinite(this.relaysDownSince)) this.relaysDownSince = at;
    }

    let book: BookLag | null = null;
    try {
      book = this.bookLag.observe(await orderChangeSpan(db), at);
    } catch (err) {
      logger.error({ err }, 'monitor: order change log query failed');
    }
    let disputes: BookLag | null = null;
    try {
      disputes = this.disputeLag.observe(await disputeChangeSpan(db), at);
    } catch (err) {
      logger.error({ err }, 'monitor: dispute change log query failed');
    }

    let strandedPayouts: StrandedPayout[] | null = null;
    try {
      strandedPayouts = (await findStrandedPayouts(db, at, payoutGraceSeconds(settings))).map((o) => ({
        orderId: o.id,
        amountSats: buyerAmount(o),
        hash: o.payout_payment_hash ?? '',
        claimedAt: o.payout_claimed_at ?? 0,
      }));
    } catch (err) {
      logger.error({ err }, 'monitor: stranded payout query failed');
    }

    let escrowsNearDeadline: EscrowDeadline[] | null = null;
    if (lightning.state === 'up') {
      try {
        // Also a liveness probe: a failing call makes the backend re-check the link now, so an
        // unreachable LND shows in /readyz and the alerts within one check, not at its next
        // 30 s health tick.
        await lightning.getInfo();
        escrowsNearDeadline = (await findEscrowsNearDeadline({ db, lightning }, settings.alerts.escrow_deadline_blocks)).map((e) => ({
          orderId: e.order.id,
          status: e.order.status,
          expiryHeight: e.expiryHeight,
          blockHeight: e.blockHeight,
          blocksLeft: e.blocksLeft,
        }));
      } catch (err) {
        logger.warn({ err }, 'monitor: escrow deadlines unknown this time (LND)');
      }
    }

    return {
      at,
      startedAt: this.startedAt,
      lightning: {
        state: lightning.state,
        downSince: Number.isFinite(this.lndDownSince) ? this.lndDownSince : at,
        lastError: lightning.lastError ?? null,
      },
      relays: {
        connected,
        total: relays.length,
        allDownSince: Number.isFinite(this.relaysDownSince) ? this.relaysDownSince : at,
        connectedSince: Number.isFinite(this.relaysUpSince) ? this.relaysUpSince : at,
        detail: relays.map((r) => `${r.url}: ${r.state}${r.lastError !== null ? ` (${r.lastError})` : ''}`).join('; '),
      },
      price: { newestFetchedAt: this.deps.priceFetchedAt() },
      backup: backupSummary(this.deps.backups?.() ?? null),
      strandedPayouts,
      escrowsNearDeadline,
      inbound: this.deps.intakeCounters === undefined ? null : this.shedding.observe(this.deps.intakeCounters(), at),
      book,
      disputes,
    };
  }
}
