/**
 * The alert state machine ([alerts], docs/OPERATIONS.md "Metrics, health and alerts").
 *
 * Each check hands in one Observation per alert kind. For a kind that could be judged
 * (`known`), an active condition without an open incident opens one, and an open incident whose
 * condition is gone is resolved; a kind that could not be judged (e.g. escrow deadlines while LND
 * is down) changes nothing. Then every incident not yet announced is sent to the operator:
 *
 *   open, not notified           → "ALERT" DM;            notified_at := now   (once)
 *   resolved, notified           → "RESOLVED" DM;         resolved_notified_at := now (once)
 *   resolved, never notified     → one "RESOLVED" DM saying it was never announced (e.g. every
 *                                  relay was down, so the alert itself could not go out)
 *
 * A DM counts as sent when at least one relay accepted it; otherwise it is retried at the next
 * check (the round stops at the first refused DM — the relays are likely down). Incidents live in
 * the database, so after a restart a still-open incident is neither re-alerted nor forgotten.
 * Finished incidents are deleted 30 days after they resolved.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import {
  findLiveIncidents,
  markNotified,
  markResolved,
  markResolvedNotified,
  openIncident,
  pruneIncidents,
  type AlertKind,
  type Incident,
} from './incidents.js';

export interface ActiveCondition {
  /** Stable key of the condition ("lnd-down", "payout-stranded:<order id>"). */
  key: string;
  /** What the operator reads (kept with the incident; repeated in the RESOLVED message). */
  text: string;
}

export interface Observation {
  kind: AlertKind;
  /** false: the kind could not be judged this time — nothing is opened or resolved for it. */
  known: boolean;
  active: ActiveCondition[];
}

export interface AlerterDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Node name shown in every message (mostro.name, or "mostrod"). */
  nodeName: string;
  /** Deliver one plain-text DM to the operator; true when a relay accepted it. */
  send: (text: string) => Promise<boolean>;
}

export interface AlertRound {
  opened: string[];
  resolved: string[];
  /** Texts of the DMs delivered this round, in order. */
  sent: string[];
  /** DMs that no relay accepted (left for the next check). */
  undelivered: number;
}

export const ALERT_TITLES: Record<AlertKind, string> = {
  'payout-stranded': 'Payout stranded',
  'escrow-deadline': 'Escrow near its CLTV deadline',
  'lnd-down': 'LND unreachable',
  'relays-down': 'Every relay disconnected',
  'price-stale': 'Price feed stale',
  'backup-failed': 'Scheduled backup failing',
  'intake-overloaded': 'Inbound flood: events shed unchecked',
  'order-events-unaccepted': 'Order book events refused by the relays',
  'dispute-events-unaccepted': 'Dispute events refused by the relays',
};

const RETENTION_SECONDS = 30 * 24 * 3600;

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function alertText(nodeName: string, i: Pick<Incident, 'kind' | 'detail' | 'opened_at'>): string {
  return `[${nodeName}] ALERT: ${ALERT_TITLES[i.kind]}\n${i.detail}\nSince ${iso(i.opened_at)}.`;
}

export function resolvedText(nodeName: string, i: Pick<Incident, 'kind' | 'detail' | 'opened_at' | 'notified_at' | 'resolved_at'>): string {
  const end = i.resolved_at ?? i.opened_at;
  const base = `[${nodeName}] RESOLVED: ${ALERT_TITLES[i.kind]}\n${i.detail}\nOpen from ${iso(i.opened_at)} to ${iso(end)} (${duration(end - i.opened_at)}).`;
  return i.notified_at === null ? `${base}\nThis incident was not announced while open: no relay accepted the alert.` : base;
}

export class Alerter {
  constructor(private readonly deps: AlerterDeps) {}

  async evaluate(observations: readonly Observation[]): Promise<AlertRound> {
    const { db, clock, logger } = this.deps;
    const now = clock.now();
    const round: AlertRound = { opened: [], resolved: [], sent: [], undelivered: 0 };
    const open = new Map<string, Incident>();
    for (const i of await findLiveIncidents(db)) if (i.resolved_at === null) open.set(i.key, i);

    for (const o of observations) {
      if (!o.known) continue;
      const activeKeys = new Set(o.active.map((a) => a.key));
      for (const i of open.values()) {
        if (i.kind === o.kind && !activeKeys.has(i.key) && (await markResolved(db, i.id, now))) {
          round.resolved.push(i.key);
          logger.info({ incident: i.key }, 'alert condition cleared');
        }
      }
      for (const a of o.active) {
        if (open.has(a.key)) continue;
        if (await openIncident(db, { key: a.key, kind: o.kind, detail: a.text, now })) {
          round.opened.push(a.key);
          logger.warn({ incident: a.key, detail: a.text }, 'alert condition raised');
        }
      }
    }

    for (const i of await findLiveIncidents(db)) {
      let text: string;
      let mark: () => Promise<boolean>;
      if (i.resolved_at === null) {
        if (i.notified_at !== null) continue;
        text = alertText(this.deps.nodeName, i);
        mark = () => markNotified(db, i.id, clock.now());
      } else {
        text = resolvedText(this.deps.nodeName, i);
        mark = () => markResolvedNotified(db, i.id, clock.now());
      }
      let delivered = false;
      try {
        delivered = await this.deps.send(text);
      } catch (err) {
        logger.warn({ err, incident: i.key }, 'alert DM could not be sent');
      }
      if (!delivered) {
        round.undelivered += 1;
        logger.warn({ incident: i.key }, 'no relay accepted the alert DM; retrying at the next check');
        break;
      }
      await mark();
      round.sent.push(text);
    }
    await pruneIncidents(db, now - RETENTION_SECONDS);
    return round;
  }
}
