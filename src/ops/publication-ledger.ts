/**
 * Records the last kind-38383 event the node queued for each order (`d` tag) with its `s` status in
 * mostrod_ts_order_publications, so the operator can find orders whose public event lags the
 * database (stuck.ts findLaggingPublications). An Outbox decorator: everything else passes through.
 * Every other Outbox call (and the optional protocolOf) is forwarded unchanged.
 * A later event (by created_at) replaces an earlier one; a recording failure is logged, never
 * thrown (the publication itself already succeeded).
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { compiledOnce } from '../db/compiled-once.js';
import type { Db, Executor } from '../db/schema.js';
import { isReplaceable } from '../nostr/created-at.js';
import { ORDER_EVENT_KIND } from '../nostr/events.js';
import type { EventTemplate, Outbox, PreparedEvent, PublishOptions, SendOptions } from '../nostr/outbox.js';
import type { Message } from '../protocol/types.js';
import { opsDb } from './tables.js';


function tagValue(tags: string[][], name: string): string | undefined {
  return tags.find((t) => t[0] === name)?.[1];
}

// Run by every order publication (new-order's path): built and compiled by Kysely once
// (db/compiled-once.ts).
const UPSERT_ORDER_PUBLICATION = compiledOnce(
  (db: Db, orderId: string, status: string, eventId: string, createdAt: number, recordedAt: number) =>
    opsDb(db)
      .insertInto('mostrod_ts_order_publications')
      .values({
        order_id: orderId,
        status,
        event_id: eventId,
        created_at: createdAt,
        recorded_at: recordedAt,
      })
      .onConflict((oc) =>
        oc.column('order_id').doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          event_id: eb.ref('excluded.event_id'),
          created_at: eb.ref('excluded.created_at'),
          recorded_at: eb.ref('excluded.recorded_at'),
        })).where('mostrod_ts_order_publications.created_at', '<=', eb => eb.ref('excluded.created_at')),
      ),
);

/** The hot statement of this module, for the SQL-equality test. */
export const PUBLICATION_LEDGER_STATEMENTS = { UPSERT_ORDER_PUBLICATION };

/** Record (or replace, if newer) the publication of an order's 38383. */
export async function recordOrderPublication(
  db: Executor,
  entry: { orderId: string; status: string; eventId: string; createdAt: number; recordedAt: number },
): Promise<void> {
  await UPSERT_ORDER_PUBLICATION.run(db, entry.orderId, entry.status, entry.eventId, entry.createdAt, entry.recordedAt);
}

/**
 * At start, before anything is published: tell the outbox the created_at of every order event the
 * ledger holds from the last minute on (or later: the previous process's same-second updates run
 * ahead of the clock), and of every other replaceable or addressable event (mostrod_ts_event_times:
 * disputes, the node info, ratings, …), so this process's next event of such a coordinate gets a
 * later one (nostr/created-at.ts). Without it, an order
 * changed again right after a restart could get an event that ties with, or is older than, its
 * previous one on the relays, which keep that one: the public book would show the order's previous
 * status (simulation finding F16). Returns how many were remembered.
 */
export async function restoreOrderEventTimes(db: Executor, outbox: Outbox, now: number): Promise<number> {
  if (outbox.rememberCreatedAt === undefined) return 0;
  const since = now - RESTORE_SECONDS;
  const orders = await opsDb(db)
    .selectFrom('mostrod_ts_order_publications')
    .select(['order_id', 'created_at'])
    .where('created_at', '>=', since)
    .orderBy('created_at')
    .execute();
  const others = await opsDb(db).selectFrom('mostrod_ts_event_times').select(['kind', 'd', 'created_at']).where('created_at', '>=', since).orderBy('created_at').execute();
  for (const r of orders) outbox.rememberCreatedAt(ORDER_EVENT_KIND, r.order_id, r.created_at);
  for (const r of others) outbox.rememberCreatedAt(r.kind, r.d, r.created_at);
  return orders.length + others.length;
}

/** How far back restoreOrderEventTimes looks (created-at.ts keeps a minute). */
const RESTORE_SECONDS = 60;

/**
 * Replaceable and addressable kinds other than orders (those are in the order ledger) whose
 * created_at is kept across restarts (mostrod_ts_event_times): the disputes' 38386, the node's info
 * (38385: a restart in the second of its predecessor's would otherwise tie, and the relays could keep
 * the old settings' event until the next republication), ratings (38384), exchange rates, metadata
 * and the relay list. All rare next to the orders' events.
 */
function isTimedKind(kind: number): boolean {
  return kind !== ORDER_EVENT_KIND && isReplaceable(kind);
}

export class PublicationLedgerOutbox implements Outbox {
  /** Present when the inner outbox prepares events: the ledger row joins the caller's transaction. */
  readonly prepare?: (event: EventTemplate, opts?: PublishOptions) => PreparedEvent;
  readonly publishPrepared?: (event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>) => void;
  private readonly innerPrepare?: (event: EventTemplate, opts?: PublishOptions) => PreparedEvent;
  private readonly innerPublishPrepared?: (event: PreparedEvent, opts?: Pick<PublishOptions, 'onOutcome'>) => void;

  constructor(
    private readonly inner: Outbox,
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    const prepare = inner.prepare?.bind(inner);
    const publishPrepared = inner.publishPrepared?.bind(inner);
    if (prepare !== undefined && publishPrepared !== undefined) {
      this.innerPrepare = prepare;
      this.innerPublishPrepared = publishPrepared;
      this.prepare = (event, opts) => {
        const prepared = prepare(event, opts);
        void this.record(event, prepared.id, prepared.created_at, opts);
        return prepared;
      };
      this.publishPrepared = publishPrepared;
    }
  }

  sendMessage(recipient: string, message: Message, opts?: SendOptions): void {
    this.inner.sendMessage(recipient, message, opts);
  }

  /** The inner outbox's protocol version of `recipient` (1 when it cannot tell). */
  protocolOf(recipient: string): 1 | 2 {
    const inner = this.inner as Outbox & { protocolOf?: (recipient: string) => 1 | 2 };
    return inner.protocolOf?.(recipient) ?? 1;
  }

  /**
   * With `opts.writes` the ledger row is appended there and committed in the caller's transaction;
   * otherwise it is written here on its own — before the event can reach a relay when the inner
   * outbox prepares events (write-ahead): a process that dies between the two then never leaves
   * the relays an event whose created_at its successor does not learn (its next event of that
   * order or coordinate could tie with it or be older, and the relays would keep the old state;
   * found by the simulation's crash points at commits, session 35).
   */
  async publish(event: EventTemplate, opts?: PublishOptions): Promise<string> {
    const prepare = this.innerPrepare;
    const publishPrepared = this.innerPublishPrepared;
    if (prepare !== undefined && publishPrepared !== undefined && opts?.writes === undefined && (event.kind === ORDER_EVENT_KIND || isTimedKind(event.kind))) {
      const prepared = prepare(event, opts);
      opts?.onCreatedAt?.(prepared.created_at);
      await this.record(event, prepared.id, prepared.created_at, opts);
      publishPrepared(prepared, opts?.onOutcome === undefined ? undefined : { onOutcome: opts.onOutcome });
      return prepared.id;
    }
    // The created_at the outbox gave the event (moved past the order's last one if need be), not
    // the template's: a restarted process goes on after it (restoreOrderEventTimes).
    let createdAt = event.created_at;
    const id = await this.inner.publish(event, {
      ...opts,
      onCreatedAt: (c) => {
        createdAt = c;
        opts?.onCreatedAt?.(c);
      },
    });
    await this.record(event, id, createdAt, opts);
    return id;
  }

  rememberCreatedAt(kind: number, d: string, createdAt: number): void {
    this.inner.rememberCreatedAt?.(kind, d, createdAt);
  }

  /**
   * The ledger row of an order event: appended to `opts.writes` when the caller commits them,
   * written here otherwise.
   */
  private async record(event: EventTemplate, id: string, createdAt: number | undefined, opts?: PublishOptions): Promise<void> {
    if (isTimedKind(event.kind)) {
      await this.recordTime(event, createdAt ?? this.clock.now());
      return;
    }
    if (event.kind !== ORDER_EVENT_KIND) return;
    const orderId = tagValue(event.tags, 'd');
    const status = tagValue(event.tags, 's');
    if (orderId === undefined || status === undefined) return;
    const now = this.clock.now();
    const entry = { orderId, status, eventId: id, createdAt: createdAt ?? now, recordedAt: now };
    const write = async (ex: Executor): Promise<void> => {
      try {
        await recordOrderPublication(ex, entry);
      } catch (err) {
        this.logger.error({ err, orderId, status }, 'order publication not recorded in the ledger');
      }
    };
    if (opts?.writes !== undefined) opts.writes.push(write);
    else await write(this.db);
  }

  /**
   * A replaceable or addressable event's created_at (mostrod_ts_event_times, by its coordinate: the
   * `d` tag, '' for a replaceable kind; never moves back). Logged, never thrown.
   */
  private async recordTime(event: EventTemplate, createdAt: number): Promise<void> {
    const d = event.kind >= 30000 ? (tagValue(event.tags, 'd') ?? '') : '';
    try {
      await opsDb(this.db)
        .insertInto('mostrod_ts_event_times')
        .values({ kind: event.kind, d, created_at: createdAt })
        .onConflict((oc) =>
          oc.columns(['kind', 'd']).doUpdateSet((eb) => ({ created_at: eb.ref('excluded.created_at') })).where('mostrod_ts_event_times.created_at', '<', (eb) => eb.ref('excluded.created_at')),
        )
        .execute();
    } catch (err) {
      this.logger.error({ err, kind: event.kind, d }, 'event time not recorded');
    }
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }
}
