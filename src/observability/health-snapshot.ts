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
 * Orders whose current kind-38383 event no relay has accepted yet (the order change log,
 * db/order-changes.ts): normally only events on their way, gone within seconds; rows that stay
 * mean the relays refuse the node's events or the book-sync job cannot republish them.
 */
export interface BookLag {
  /** rows in the change log */
  unaccepted: number;
  /**
   * unix s by which the oldest of them had been written at the latest: the first check since the
   * start that saw a change number at least as high (so never more than its true age; a restart
   * starts counting again). null when the log is empty.
   */
  oldestSince: number | null;
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
    /**
     * unix s of the first check of the current stretch of checks that each saw a relay connected
     * (meaningful when connected > 0)
     */
    connectedSince: number;
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
  /** The order book's unaccepted events; null when the log could not be read this time. */
  book: BookLag | null;
  /**
   * The disputes whose kind-38386 event no relay accepted (the dispute change log, dated the same
   * way); null when the log could not be read this time.
   */
  disputes: BookLag | null;
}
