/**
 * Which transport each trade key speaks, for the outbox to send every message to that key on it.
 *
 * Intake records the transport of every authenticated request before dispatching it; the choice
 * is kept in memory (all remembered keys are loaded at startup) and persisted in
 * `mostrod_ts_transport` when a key is new or switches, so it survives a restart. Lookups are
 * synchronous (the outbox picks the transport when it wraps).
 *
 * A key never heard from (an admin-added solver before its first request, a range order's next
 * trade key before it speaks) gets the node's default: gift wrap on "both" and "gift-wrap" nodes —
 * every client reads gift wraps, and a public kind 14 to a v1 client's key would leak who trades —
 * and kind 14 on "nip44" nodes.
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
}

/** What handlers and flows may use (AppContext.transports). */
export interface KeyTransports {
  /** Protocol version of the client behind `recipient` (2 = mostro-core ≥ 0.13 vocabulary). */
  protocolOf(recipient: string): 1 | 2;
  /**
   * `newKey` belongs to the same client as `fromKey` (a range order's next trade key, named by the
   * maker): it gets `fromKey`'s transport unless it already has one of its own.
   */
  inherit(newKey: string, fromKey: string, now: number): Promise<void>;
}

export class TransportRegistry implements TransportRecorder, TransportResolver, KeyTransports {
  private readonly remembered = new Map<string, WireTransport>();

  constructor(
    private readonly db: Db,
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {}

  /** Load every remembered key (startup). Returns how many. */
  async load(): Promise<number> {
    for (const r of await loadKeyTransports(this.db)) this.remembered.set(r.pubkey, r.transport);
    return this.remembered.size;
  }

  transportOf(recipient: string): WireTransport {
    return transportFor(this.settings, this.remembered.get(recipient));
  }

  /** Protocol version of the client behind `recipient` (2 = mostro-core ≥ 0.13 vocabulary). */
  protocolOf(recipient: string): 1 | 2 {
    return this.transportOf(recipient) === 'nip44' ? 2 : 1;
  }

  /**
   * `tradeKey` just sent an authenticated request on `transport`. Only nodes that serve protocol
   * v2 record (on a gift-wrap-only node every key is on gift wrap), and a "both" node writes nothing
   * for a gift-wrap key it has no row for (that is already what it gets), so v1 traffic costs no
   * extra write; a key switching back from kind 14 to gift wrap is written. The memory is updated first —
   * the reply to this very request must take the new transport — then the row. A failed write is
   * logged; this process keeps using the new transport, a restart would fall back to the old row.
   */
  async record(tradeKey: string, transport: WireTransport, now: number): Promise<void> {
    if (!servesNip44(this.settings)) return;
    const known = this.remembered.get(tradeKey);
    if (known === transport) return;
    if (known === undefined && transport === 'gift-wrap' && this.settings.mostro.transport === 'both') return;
    this.remembered.set(tradeKey, transport);
    try {
      await setKeyTransport(this.db, tradeKey, transport, now);
    } catch (err) {
      this.logger.error({ err, tradeKey, transport }, 'transport of a trade key not persisted');
    }
  }

  async inherit(newKey: string, fromKey: string, now: number): Promise<void> {
    if (this.remembered.has(newKey)) return;
    const from = this.remembered.get(fromKey);
    if (from !== undefined) await this.record(newKey, from, now);
  }

  get size(): number {
    return this.remembered.size;
  }
}
