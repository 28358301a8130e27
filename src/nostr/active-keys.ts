/**
 * The known-sender set of the first-contact lane (protocol v2): a kind-14 author in it needs only
 * `pow`; any other author must clear `pow_first_contact` before the node decrypts anything.
 *
 * Kept current without a DB query per event: a full reload at startup and every
 * `active_pubkeys_refresh_interval` seconds (findActiveKeys), and a key is added the moment one of
 * its kind-14 requests is accepted — so a client's follow-ups (the take right after a new-order,
 * the invoice after a take) are recognised at once, not at the next reload as upstream. Keys of
 * finished trades leave at the next reload. The node's own key (the admin) is always known.
 */
import type { Db } from '../db/database.js';
import { findActiveKeys } from '../db/active-keys.js';
import type { KnownSenders } from './intake.js';

export class ActiveKeys implements KnownSenders {
  private keys = new Set<string>();
  /** Added since the reload in progress started (kept by that reload). */
  private added = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly always: readonly string[] = [],
  ) {}

  has(pubkey: string): boolean {
    return this.keys.has(pubkey) || this.always.includes(pubkey);
  }

  add(pubkey: string): void {
    this.keys.add(pubkey);
    this.added.add(pubkey);
  }

  /** Replace the set by the DB's view, keeping keys added while the query ran. Returns the size. */
  async reload(): Promise<number> {
    this.added = new Set();
    const fresh = await findActiveKeys(this.db);
    for (const k of this.added) fresh.add(k);
    this.keys = fresh;
    return fresh.size;
  }

  get size(): number {
    return this.keys.size;
  }
}
