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
}
