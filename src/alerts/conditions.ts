/**
 * From one health snapshot (taken by the monitor job) to the alert observations the Alerter
 * consumes. Pure: thresholds come from `[alerts]`, time from the snapshot.
 */
import type { AlertsSettings } from '../config/types.js';
import type { BookLag, HealthSnapshot } from '../observability/health-snapshot.js';
import type { Observation } from './alerter.js';

/** How long a first connection attempt to LND may take before it counts as down. */
export const FIRST_CONNECT_SECONDS = 60;

/**
 * A count with thousands separators, 12345 → "12,345" (what toLocaleString('en-US') gives, without
 * the ICU data that call loads into memory: src/ops/cron.ts).
 */
export function groupDigits(n: number): string {
  const digits = String(Math.round(Math.abs(n)));
  return (n < 0 ? '-' : '') + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function observeConditions(s: HealthSnapshot, t: AlertsSettings): Observation[] {
  const out: Observation[] = [];

  // LND: clear once the link is up; alert when down (or never connected) for lnd_down_minutes.
  // The first connection attempt ('connecting', no failure yet) gets at least a minute.
  if (s.lightning.state === 'up') {
    out.push({ kind: 'lnd-down', known: true, active: [] });
  } else {
    const downFor = s.at - s.lightning.downSince;
    const err = s.lightning.lastError !== null ? `; last error: ${s.lightning.lastError}` : '';
    const due = downFor >= t.lnd_down_minutes * 60 && (s.lightning.state === 'down' || downFor >= FIRST_CONNECT_SECONDS);
    out.push(
      due
        ? {
            kind: 'lnd-down',
            known: true,
            active: [{ key: 'lnd-down', text: `The Lightning node is ${s.lightning.state} (since ${Math.floor(downFor / 60)} min)${err}. Trades that need Lightning are refused.` }],
          }
        : { kind: 'lnd-down', known: false, active: [] },
    );
  }

  // Relays: clear once one is connected; alert when none is for relays_down_minutes.
  if (s.relays.connected > 0) {
    out.push({ kind: 'relays-down', known: true, active: [] });
  } else {
    const downFor = s.at - s.relays.allDownSince;
    out.push(
      downFor >= t.relays_down_minutes * 60
        ? {
            kind: 'relays-down',
            known: true,
            active: [{ key: 'relays-down', text: `None of the ${s.relays.total} relays is connected (for ${Math.floor(downFor / 60)} min): ${s.relays.detail}` }],
          }
        : { kind: 'relays-down', known: false, active: [] },
    );
  }

  // Prices: the newest price of any source is older than price_stale_seconds (or none was ever
  // fetched in that long since start).
  const age = s.at - (s.price.newestFetchedAt ?? s.startedAt);
  if (age >= t.price_stale_seconds) {
    const what = s.price.newestFetchedAt === null ? 'No price has been fetched since the start' : `The newest price is ${Math.floor(age / 60)} min old`;
    out.push({ kind: 'price-stale', known: true, active: [{ key: 'price-stale', text: `${what} (limit ${t.price_stale_seconds} s). Market-price orders are refused.` }] });
  } else {
    out.push({ kind: 'price-stale', known: s.price.newestFetchedAt !== null, active: [] });
  }

  if (s.strandedPayouts === null) {
    out.push({ kind: 'payout-stranded', known: false, active: [] });
  } else {
    out.push({
      kind: 'payout-stranded',
      known: true,
      active: s.strandedPayouts.map((p) => ({
        key: `payout-stranded:${p.orderId}`,
        text: `Order ${p.orderId}: the buyer payout of ${p.amountSats} sats (payment hash ${p.hash}) was claimed ${Math.floor((s.at - p.claimedAt) / 60)} min ago and is still unresolved. Check the payment in LND (lncli trackpayment ${p.hash}).`,
      })),
    });
  }

  if (s.escrowsNearDeadline === null) {
    out.push({ kind: 'escrow-deadline', known: false, active: [] });
  } else {
    out.push({
      kind: 'escrow-deadline',
      known: true,
      active: s.escrowsNearDeadline.map((e) => ({
        key: `escrow-deadline:${e.orderId}`,
        text:
          e.blocksLeft === null
            ? `Order ${e.orderId} (${e.status}): LND already canceled the escrow HTLC while the trade is live.`
            : `Order ${e.orderId} (${e.status}): the escrow HTLC expires at height ${e.expiryHeight ?? '?'}, ${e.blocksLeft} blocks from the tip (${e.blockHeight}). Resolve the trade before LND cancels it.`,
      })),
    });
  }
  // Scheduled backups: failing since the last success (each run is integrity-checked).
  if (s.backup === null) {
    out.push({ kind: 'backup-failed', known: false, active: [] });
  } else {
    const b = s.backup;
    out.push({
      kind: 'backup-failed',
      known: true,
      active:
        b.consecutiveFailures > 0
          ? [
              {
                key: 'backup-failed',
                text: `The last ${b.consecutiveFailures} scheduled backup(s) failed${b.lastError !== null ? ` (last error: ${b.lastError})` : ''}; last good backup: ${b.lastSuccessAt === null ? 'none since the start' : new Date(b.lastSuccessAt * 1000).toISOString()}.`,
              },
            ]
          : [],
    });
  }
  // Inbound flood: the intake shed at least overload_shed_events events unchecked in the current
  // episode (resolved overload_quiet_minutes after the last shedding).
  const inbound = s.inbound;
  if (inbound === null || t.overload_shed_events === 0) {
    out.push({ kind: 'intake-overloaded', known: false, active: [] });
  } else {
    const active = inbound.since !== null && inbound.shed >= t.overload_shed_events;
    const others = inbound.dropped.length === 0 ? '' : ` Dropped at the gates in that time: ${inbound.dropped.map(([v, n]) => `${v} ${groupDigits(n)}`).join(', ')}.`;
    out.push({
      kind: 'intake-overloaded',
      known: true,
      active: active
        ? [
            {
              key: 'intake-overloaded',
              text: `The intake shed ${groupDigits(inbound.shed)} inbound events unchecked since ${new Date((inbound.since ?? s.at) * 1000).toISOString().replace('.000Z', 'Z')} (its crypto backlog was full): requests of real traders may have been among them.${others} A higher [mostro] pow (and pow_first_contact for protocol v2) makes a flood costlier to send.`,
            },
          ]
        : [],
    });
  }
  // Order book: the oldest order event no relay accepted has waited order_events_unaccepted_minutes
  // while a relay was connected (the outbox retries for about 2 minutes, the book-sync job
  // republishes every minute): connected relays refuse the node's events. With none connected
  // relays-down speaks, and nothing is opened or resolved here.
  out.push(
    unacceptedEvents('order-events-unaccepted', s, s.book, t.order_events_unaccepted_minutes, (n, waited) =>
      `${n} order(s) have a public event (kind 38383) that no relay accepted; the oldest has waited ${waited}. Traders see those orders as they were before.`,
    ),
  );
  // Disputes: the same for the dispute events (kind 38386, how solvers learn of a dispute): a
  // dispute nobody can see keeps a seller's escrow waiting for a decision.
  out.push(
    unacceptedEvents('dispute-events-unaccepted', s, s.disputes, t.dispute_events_unaccepted_minutes, (n, waited) =>
      `${n} dispute(s) have a public event (kind 38386) that no relay accepted; the oldest has waited ${waited}. Solvers watching the relays do not see those disputes as they are while their escrow waits (mostrod-admin disputes lists them).`,
    ),
  );
  return out;
}

/**
 * A change log's oldest row (`lag`) has waited `minutes` while a relay was connected — counted from
 * the later of the first check that saw it and the first check of the current connected stretch.
 * Not judged with no relay connected, the log unread, or `minutes` 0.
 */
function unacceptedEvents(
  kind: 'order-events-unaccepted' | 'dispute-events-unaccepted',
  s: HealthSnapshot,
  lag: BookLag | null,
  minutes: number,
  what: (count: string, waited: string) => string,
): Observation {
  if (lag === null || minutes === 0 || s.relays.connected === 0) return { kind, known: false, active: [] };
  const waited = lag.oldestSince === null ? 0 : s.at - Math.max(lag.oldestSince, s.relays.connectedSince);
  if (lag.oldestSince === null || waited < minutes * 60) return { kind, known: true, active: [] };
  const text = `${what(groupDigits(lag.unaccepted), `${Math.floor(waited / 60)} min with ${s.relays.connected} of ${s.relays.total} relays connected`)} The relays may refuse the node's events (a paid or whitelisting relay, a rate limit, a blocked key: the log's "event not accepted by every relay after retries" lines give each relay's answer), or the book-sync job fails (its errors are in the log).`;
  return { kind, known: true, active: [{ key: kind, text }] };
}
