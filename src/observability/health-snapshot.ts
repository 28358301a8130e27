import type { LinkState } from '../lightning/backend.js';
import type { Status } from '../protocol/types.js';

export interface StrandedPayout {
  orderId: string;
  amountSats: number;
  hash: string;
  claimedAt: number;
}

export interface EscrowDeadline {
  orderId: string;
  status: Status;
  /** null when LND already canceled the HTLC */
  expiryHeight: number | null;
  blockHeight: number;
  blocksLeft: number | null;
}

/**
 * The intake's shedding: events dropped unchecked because its crypto backlog (or handler queue)
 * was full (verdict `overloaded`) — unlike every other drop, these may include real requests. An
 * episode starts at the first check that sees shedding and ends `[alerts] overload_quiet_minutes`
 * after the last check that saw any.
 */
export interface InboundShedding {
  /** events shed in the current episode (0: no episode) */
  shed: number;
  /** unix s of the check that started the episode (null: no episode) */
  since: number | null;
  /** unix s of the last check that saw shedding (null: none yet) */
  lastShedAt: number | null;
  /** the episode's other intake drops by verdict, most first (what the flood was made of) */
  dropped: Array<[verdict: string, count: number]>;
}

/**
 * What the monitor job saw at one check (the input of the alert conditions, and of the metrics
 * that need the Lightning node: escrows near their deadline). A `null` list could not be
 * determined this time (database error, LND down).
 */
export interface HealthSnapshot {
  /** unix s of the check */
  at: number;
  /** unix s the monitor started (the reference for "never since the start") */
  startedAt: number;
  lightning: {
    state: LinkState;
    /** unix s since which the link is not up (meaningful when state !== 'up') */
    downSince: number;
    lastError: string | null;
  };
  relays: {
    connected: number;
    total: number;
    /** unix s since which no relay is connected (meaningful when connected === 0) */
    allDownSince: number;
    /** per relay: "url: state (last error)" */
    detail: string;
  };
  price: { newestFetchedAt: number | null };
  /** Scheduled backups ([backup]); null when none are scheduled. */
  backup: { consecutiveFailures: number; lastError: string | null; lastSuccessAt: number | null } | null;
  strandedPayouts: StrandedPayout[] | null;
  escrowsNearDeadline: EscrowDeadline[] | null;
  /** Inbound shedding; null when the monitor has no intake counters. */
  inbound: InboundShedding | null;
}
