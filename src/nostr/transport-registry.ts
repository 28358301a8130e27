/**
 * Which transport each trade key speaks, for the outbox to send every message to that key on it.
 *
 * Intake records the transport of every authenticated request before dispatching it; the choice
 * is kept in memory (the remembered keys are loaded at startup) and persisted in
 * `mostrod_ts_transport` when a key is new or switches, so it survives a restart. Lookups are
 * synchronous (the outbox picks the transport when it wraps).
 *
 * A key never heard from (an admin-added solver before its first request, a range order's next
 * trade key before it speaks) gets the node's default: gift wrap on "both" and "gift-wrap" nodes —
 * every client reads gift wraps, and a public kind 14 to a v1 client's key would leak who trades —
 * and kind 14 on "nip44" nodes.
 *
 * Bounded: every v2 request comes from a fresh trade key, so the transport-prune job
 * (scheduler/jobs/prune-transports.ts) deletes the rows of keys the node will not message any more
 * and `forget`s them here. A key's last activity (`last_seen_at`) is the last request from it or
 * message to it: a message counts because the node writes to a key without hearing from it —
 * the notices when a long-silent party's order ends (an admin decision after a long dispute, a
 * payout completing, an escrow cancel finished at boot) and the rate request after them. Orders
 * have no "finished at" column, so the orders' own timestamps could not tell that the trade just
 * ended. It is written at most once per day per key (the day is kept in memory with the transport),
 * so neither v1 traffic nor a busy v2 key costs more than one write a day. A pruned key that speaks
 * again is recorded again before its reply; until then it gets the default, as any unknown key.
 */
import type { Logger } from 'pino';
import type { Settings } from '../config/types.js';
import type { Db } from '../db/database.js';
import { loadKeyTransports, setKeyTransport } from '../db/transports.js';
import type { TransportRecorder } from './intake.js';
import { servesNip44, transportFor, type WireTransport } from './transport.js';

/** What the outbox asks. */
export interface TransportResolver {
  /** The transport a message to `recipient` goes on. */
  transportOf(recipient: string): WireTransport;
  /** A message to `recipient` is being sent at `now` (unix s): that is activity of the key. */
  touch?(recipient: string, now: number): void;
}

/** What handlers, flows and jobs may use (AppContext.transports). */
export interface KeyTransports {
  /** Protocol version of the client behind `recipient` (2 = mostro-core ≥ 0.13 vocabulary). */
  protocolOf(recipient: string): 1 | 2;
  /**
   * `newKey` belongs to the same client as `fromKey` (a range order's next trade key, named by the
   * maker): it gets `fromKey`'s transport unless it already has one of its own.
   */
  inherit(newKey: string, fromKey: string, now: number): Promise<void>;
  /**
   * The transport-prune job deleted these rows: drop the keys from memory, except a key active
   * since the row was read (its newer day in memory; its write re-creates the row). Returns how
   * many were dropped.
   */
  forget(deleted: ReadonlyArray<{ pubkey: string; last_seen_at: number }>): number;
}

const DAY_SECONDS = 86_400;

function dayOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / DAY_SECONDS);
}

/**
 * One small integer per key: (day of last activity) × 2 + (1 for kind 14, 0 for gift wrap) — as
 * cheap in the map as the transport string it replaces (a V8 small integer, no object per key).
 */
type Entry = number;

function entry(transport: WireTransport, day: number): Entry {
  return day * 2 + (transport === 'nip44' ? 1 : 0);
}

function entryTransport(e: Entry): WireTransport {
  return e % 2 === 1 ? 'nip44' : 'gift-wrap';
}

function entryDay(e: Entry): number {
  return Math.floor(e / 2);
}

export class TransportRegistry implements TransportRecorder, TransportResolver, KeyTransports {
  private readonly remembered = new Map<string, Entry>();
  /** Activity writes started by `touch` (not awaited by the sender). */
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {}

  /**
   * Load the remembered keys (startup). Returns how many. A gift-wrap-only node loads none: it
   * sends everything as gift wraps and never consults them (the rows stay for a later switch).
   */
  async load(): Promise<number> {
    if (!servesNip44(this.settings)) return 0;
    for (const r of await loadKeyTransports(this.db)) this.remembered.set(r.pubkey, entry(r.transport, dayOf(r.last_seen_at)));
    return this.remembered.size;
  }

  transportOf(recipient: string): WireTransport {
    const e = this.remembered.get(recipient);
    return transportFor(this.settings, e === undefined ? undefined : entryTransport(e));
  }

  /** Protocol version of the client behind `recipient` (2 = mostro-core ≥ 0.13 vocabulary). */
  protocolOf(recipient: string): 1 | 2 {
    return this.transportOf(recipient) === 'nip44' ? 2 : 1;
  }

  /**
   * `tradeKey` just sent an authenticated request on `transport`. Only nodes that serve protocol
   * v2 record (on a gift-wrap-only node every key is on gift wrap), and a "both" node writes nothing
   * for a gift-wrap key it has no row for (that is already what it gets), so v1 traffic costs no
   * extra write; a key switching back from kind 14 to gift wrap is written, and a remembered key is
   * written again on the first request of a later day (its last activity, for the prune job). The
   * memory is updated first — the reply to this very request must take the new transport — then
   * the row. A failed write is logged; this process keeps using the new transport, a restart would
   * fall back to the old row.
   */
  async record(tradeKey: string, transport: WireTransport, now: number): Promise<void> {
    if (!servesNip44(this.settings)) return;
    const known = this.remembered.get(tradeKey);
    const day = dayOf(now);
    if (known === undefined) {
      if (transport === 'gift-wrap' && this.settings.mostro.transport === 'both') return;
    } else if (entryTransport(known) === transport && entryDay(known) >= day) {
      return;
    }
    this.remembered.set(tradeKey, entry(transport, known === undefined ? day : Math.max(day, entryDay(known))));
    await this.persist(tradeKey, transport, now);
  }

  /**
   * The outbox is sending a message to `recipient`: a remembered key's last activity moves to
   * today (memory at once, the row in the background — the sender does not wait). Unknown keys
   * are left alone (nothing to keep).
   */
  touch(recipient: string, now: number): void {
    const known = this.remembered.get(recipient);
    if (known === undefined) return;
    const day = dayOf(now);
    if (entryDay(known) >= day) return;
    const transport = entryTransport(known);
    this.remembered.set(recipient, entry(transport, day));
    const write = this.persist(recipient, transport, now);
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  async inherit(newKey: string, fromKey: string, now: number): Promise<void> {
    if (this.remembered.has(newKey)) return;
    const from = this.remembered.get(fromKey);
    if (from !== undefined) await this.record(newKey, entryTransport(from), now);
  }

  forget(deleted: ReadonlyArray<{ pubkey: string; last_seen_at: number }>): number {
    let dropped = 0;
    for (const row of deleted) {
      const known = this.remembered.get(row.pubkey);
      // A newer day means the key was active after the job read its row: keep it (that activity's
      // write — an upsert — puts the row back).
      if (known !== undefined && entryDay(known) <= dayOf(row.last_seen_at)) {
        this.remembered.delete(row.pubkey);
        dropped++;
      }
    }
    return dropped;
  }

  /** Resolves when the activity writes started so far are done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  get size(): number {
    return this.remembered.size;
  }

  /** Upsert the row (never throws: a failed write is logged, memory stays as it is). */
  private async persist(tradeKey: string, transport: WireTransport, now: number): Promise<void> {
    try {
      await setKeyTransport(this.db, tradeKey, transport, now);
    } catch (err) {
      this.logger.error({ err, tradeKey, transport }, 'transport of a trade key not persisted');
    }
  }
}
