import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { compiledOnce } from './compiled-once.js';
import type { Db, DbSchema, Executor } from './schema.js';
import { blobToUuid, tryUuidToBlob } from './uuid-blob.js';

/**
 * Order change log (table `mostrod_ts_order_changes`, migration 20261204000000). SQLite triggers
 * write one row per order when it is inserted or its status changes (a newer change replaces the
 * row with a higher `seq`); the row is deleted once a relay accepted the kind-38383 event for that
 * change (OrderChangeAcks, below). What is left is exactly the set of orders whose public event is
 * not on any relay yet — in flight, refused by every relay, or lost with a process that stopped
 * before it reached one — so republishing costs what changed, not the size of the book.
 */
export interface OrderChangesTable {
  seq: number | null;
  order_id: Uint8Array;
  status: string;
}

export interface OrderChange {
  seq: number;
  order_id: string;
  status: string;
}

type ChangesDb = Kysely<DbSchema & { mostrod_ts_order_changes: OrderChangesTable }>;

function q(ex: Executor): ChangesDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_order_changes: OrderChangesTable }>();
}

function fromDb(r: { seq: number | null; order_id: Uint8Array; status: string }): OrderChange[] {
  return r.seq === null ? [] : [{ seq: r.seq, order_id: blobToUuid(r.order_id), status: r.status }];
}

/** Changes with `seq <= upToSeq`, oldest first, at most `limit`. */
export async function listOrderChanges(ex: Executor, upToSeq: number, limit: number): Promise<OrderChange[]> {
  const rows = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .selectAll()
    .where('seq', '<=', upToSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.flatMap(fromDb);
}

/** The change row of one order, if its public event lags. */
export async function getOrderChange(ex: Executor, orderId: string): Promise<OrderChange | undefined> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return undefined;
  const r = await q(ex).selectFrom('mostrod_ts_order_changes').selectAll().where('order_id', '=', blob).executeTakeFirst();
  return r === undefined ? undefined : fromDb(r)[0];
}

/** Highest change number written so far (0 when none). */
export async function lastOrderChangeSeq(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .select((eb) => eb.fn.max('seq').as('top'))
    .executeTakeFirst();
  return Number(r?.top ?? 0);
}

// Run by every order publication (new-order's path): built and compiled by Kysely once (compiled-once.ts).
const CLEAR_ORDER_CHANGE = compiledOnce((db, blob: Uint8Array, status: string) =>
  q(db).deleteFrom('mostrod_ts_order_changes').where('order_id', '=', blob).where('status', '=', status),
);

// Run by every order publication: the change the event publishes (read in the transaction that made
// it, or before the publication).
const SELECT_ORDER_CHANGE = compiledOnce((db, blob: Uint8Array) =>
  q(db).selectFrom('mostrod_ts_order_changes').selectAll().where('order_id', '=', blob),
);

/** The hot statements of this module, for the SQL-equality test. */
export const ORDER_CHANGE_STATEMENTS = { CLEAR_ORDER_CHANGE, SELECT_ORDER_CHANGE };

/**
 * The change an order event for `status` publishes: its `seq` when the order's row in the log
 * records that status, else null (nothing lags for it: the row was cleared, or a newer change
 * replaced it).
 */
export async function pendingChangeSeq(ex: Executor, orderId: string, status: string): Promise<number | null> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return null;
  const r = (await SELECT_ORDER_CHANGE.run(ex, blob)).rows[0];
  return r !== undefined && r.status === status && r.seq !== null ? r.seq : null;
}

/**
 * Change-log rows finished by an accepted publication. The row of an order's change is deleted
 * only once a relay accepted the 38383 event that publishes it (`Outbox` `onOutcome(true)`), not
 * when the event is queued: a process that stops between the commit and the relay's OK, or relays
 * that refuse the event through every retry, leave the row, and the republish job
 * (scheduler/jobs/republish-changed-orders.ts) publishes the order again.
 *
 * Deletes are batched — one statement per `delayMs` (or per `maxBatch` accepted events) instead
 * of a commit per publication — by `seq`: the log's rowid (AUTOINCREMENT, never reused, and a newer
 * change of an order replaces its row with a new one), so a delete takes exactly the change that
 * was published and never a newer change of the same order. A batch lost with the process only
 * makes the job publish those orders once more. `pending` tells the job which changes have a
 * publication under way or accepted (its delete not written yet), so it does not stack a second one
 * on it.
 */
export class OrderChangeAcks {
  /** `${orderId}:${seq}` → publications of that change not settled yet. */
  private readonly inflight = new Map<string, number>();
  private batch: Array<{ key: string; seq: number }> = [];
  /** Keys of the accepted publications whose delete is not written yet. */
  private readonly accepted = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private cleared = 0;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly delayMs = 100,
    private readonly maxBatch = 256,
  ) {}

  /**
   * A publication of the event for change `seq` of the order starts. Returns its outcome callback
   * (pass it as the outbox's `onOutcome`; only its first call counts): accepted → the row is
   * deleted with the next batch; refused or failed → the row stays for the republish job.
   */
  publishing(orderId: string, seq: number): (accepted: boolean) => void {
    const key = `${orderId}:${seq}`;
    this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
    let settled = false;
    return (accepted) => {
      if (settled) return;
      settled = true;
      const n = (this.inflight.get(key) ?? 1) - 1;
      if (n > 0) this.inflight.set(key, n);
      else this.inflight.delete(key);
      if (accepted) this.enqueue(key, seq);
    };
  }

  /**
   * True while a publication of change `seq` of the order is under way (neither accepted nor given
   * up), or accepted with its row's delete not written yet.
   */
  pending(orderId: string, seq: number): boolean {
    const key = `${orderId}:${seq}`;
    return this.inflight.has(key) || this.accepted.has(key);
  }

  /** Publications under way, and rows deleted so far (metrics, tests). */
  stats(): { inFlight: number; queued: number; cleared: number } {
    let inFlight = 0;
    for (const n of this.inflight.values()) inFlight += n;
    return { inFlight, queued: this.batch.length, cleared: this.cleared };
  }

  /** Delete the rows of every publication accepted so far (tests; shutdown, before the DB closes). */
  async flush(): Promise<void> {
    this.write();
    await this.writing;
  }

  private enqueue(key: string, seq: number): void {
    this.accepted.add(key);
    this.batch.push({ key, seq });
    if (this.batch.length >= this.maxBatch) this.write();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.write(), this.delayMs);
      this.timer.unref();
    }
  }

  private write(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.batch.length === 0) return;
    const rows = this.batch;
    this.batch = [];
    this.writing = this.writing.then(async () => {
      try {
        const r = await q(this.db)
          .deleteFrom('mostrod_ts_order_changes')
          .where('seq', 'in', rows.map((x) => x.seq))
          .executeTakeFirst();
        this.cleared += Number(r.numDeletedRows);
      } catch (err) {
        // The rows stay: the republish job publishes those orders once more.
        this.logger.error({ err, rows: rows.length }, 'order change log: accepted publications not cleared');
      }
      for (const r of rows) this.accepted.delete(r.key);
    });
  }
}

/**
 * The order's event for `status` is published (or `status` is not a public one): delete its change
 * row iff it still records that status. True iff a row was deleted.
 */
export async function clearOrderChange(ex: Executor, orderId: string, status: string): Promise<boolean> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return false;
  return (await CLEAR_ORDER_CHANGE.run(ex, blob, status)).numAffectedRows === 1n;
}

/**
 * The log's size and its lowest and highest change numbers (null when empty): the monitor's
 * book-lag check (observability/monitor.ts BookLagTracker). min and max of the rowid are two index
 * probes; the count walks the log, which holds only the orders whose event lags.
 */
export async function orderChangeSpan(ex: Executor): Promise<{ count: number; oldest: number | null; newest: number | null }> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('seq').as('lo'), eb.fn.max('seq').as('hi')])
    .executeTakeFirstOrThrow();
  return { count: Number(r.n), oldest: r.lo === null ? null : Number(r.lo), newest: r.hi === null ? null : Number(r.hi) };
}

/** Number of orders whose public event lags (metrics, tests). */
export async function countOrderChanges(ex: Executor): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_order_changes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
