/**
 * The durable outbox: the notices of a trade step, stored with the step (simulation findings F9, F11).
 *
 * Some notices follow a mark that keeps a restarted daemon from sending them again: a release's
 * payout-started mark (`released`, `hold-invoice-payment-settled`, `rate`, `admin-settled`), a
 * payout's end (`purchase-completed`, `payment-failed`, `add-invoice`), a finished escrow cancel;
 * the others follow a status change nobody would announce again (the take's `pay-invoice`, the
 * escrow accepted, `fiat-sent-ok`, a dispute): lost, they leave the trade waiting. Messages wait in memory until the durability barrier's sync (db/durability.ts): written "mark,
 * then send", a process that died in between lost them for good; written "send, then mark", a
 * restart sent them twice. Here the notices are rows of `mostrod_ts_notices` written in the mark's
 * own transaction (commitWithNotices), so both happen or neither:
 *
 *  - after the commit each row goes to the outbox; the wrapped event is recorded in the row before
 *    its first hand-off (outbox.ts DurableNotice), and the row is deleted once a relay accepted it;
 *  - at boot and every minute (redeliverNotices) every row not in flight in this process goes to
 *    the outbox again — with its recorded event when it has one, so an event that did leave before
 *    a crash leaves again with the same id, which relays and clients drop as a repeat; a row
 *    without one was never handed to a relay (the hand-off waits for the record's sync).
 *
 * So each notice reaches the recipient at least once as an event, and at most once as a distinct
 * one. Rows older than NOTICE_MAX_AGE_SECONDS (no relay accepted them for a week) are dropped
 * with an error.
 */
import type { AppContext } from '../../context.js';
import type { NostrEvent } from '../../crypto/event.js';
import { deleteNotice, insertNotices, listNotices, recordNoticeEvent, type NoticeRow } from '../../db/notices.js';
import type { Executor } from '../../db/schema.js';
import type { DurableNotice, Outbox } from '../../nostr/outbox.js';
import { parseMessageText } from '../../protocol/parse.js';
import { serializeMessage } from '../../protocol/serialize.js';
import type { Message } from '../../protocol/types.js';

/** A message to one party. */
export type Notice = readonly [recipient: string, message: Message];

/** A stored notice no relay accepted for this long is dropped (logged at error). */
export const NOTICE_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;

/** Notice ids handed to each outbox (one per process) and not finished or released yet. */
const inFlight = new WeakMap<Outbox, Set<number>>();

function flying(outbox: Outbox): Set<number> {
  let s = inFlight.get(outbox);
  if (s === undefined) {
    s = new Set();
    inFlight.set(outbox, s);
  }
  return s;
}

/**
 * Run `write` (a compare-and-set that records the mark) and, when it returns true, store the
 * notices in the same transaction; after the commit hand them to the outbox. `notices` may be a
 * function, called inside the transaction once `write` won. Returns what `write` returned.
 */
export async function commitWithNotices(
  ctx: AppContext,
  write: (trx: Executor) => Promise<boolean>,
  notices: readonly Notice[] | (() => readonly Notice[]),
): Promise<boolean> {
  const now = ctx.clock.now();
  const rows = await ctx.db.transaction().execute(async (trx) => {
    if (!(await write(trx))) return null;
    const list = typeof notices === 'function' ? notices() : notices;
    return insertNotices(
      trx,
      list.map(([recipient, m]) => ({ orderId: m.kind.id ?? null, recipient, message: serializeMessage(m) })),
      now,
    );
  });
  if (rows === null) return false;
  for (const row of rows) sendStoredNotice(ctx, row);
  return true;
}

/** Store and send notices without a mark (a path whose mark is written in another transaction). */
export async function sendNotices(ctx: AppContext, notices: readonly Notice[]): Promise<void> {
  if (notices.length === 0) return;
  await commitWithNotices(ctx, () => Promise.resolve(true), notices);
}

function parseStoredEvent(text: string | null): NostrEvent | null {
  if (text === null) return null;
  const e = JSON.parse(text) as NostrEvent;
  if (typeof e !== 'object' || e === null || typeof e.id !== 'string' || typeof e.sig !== 'string') {
    throw new TypeError('stored notice event is malformed');
  }
  return e;
}

/** Hand one stored notice to the outbox unless it is already in flight in this process. */
export function sendStoredNotice(ctx: AppContext, row: NoticeRow): 'sent' | 'in-flight' | 'unreadable' {
  const set = flying(ctx.outbox);
  if (set.has(row.id)) return 'in-flight';
  let message: Message;
  let event: NostrEvent | null;
  try {
    message = parseMessageText(row.message);
    event = parseStoredEvent(row.event);
  } catch (err) {
    // Written by this daemon: unreadable means a bug or a damaged row. Kept for the operator.
    ctx.logger.error({ err, notice: row.id, orderId: row.order_id }, 'stored notice unreadable; not sent (row kept)');
    return 'unreadable';
  }
  set.add(row.id);
  let finished = false;
  const finish = (): void => {
    finished = true;
    set.delete(row.id);
  };
  const notice: DurableNotice = {
    id: row.id,
    event,
    wrapped: async (e) => {
      if (!(await recordNoticeEvent(ctx.db, row.id, JSON.stringify(e)))) {
        throw new Error(`stored notice ${row.id} is gone or already has an event`);
      }
    },
    done: () => {
      if (finished) return;
      finish();
      void ctx.tasks.track(
        deleteNotice(ctx.db, row.id).catch((err: unknown) => {
          ctx.logger.warn({ err, notice: row.id }, 'sent notice not deleted; it will be sent again (same event)');
        }),
      );
    },
    released: () => {
      if (!finished) finish();
    },
  };
  ctx.outbox.sendMessage(row.recipient, message, { notice });
  return 'sent';
}

export interface RedeliverySummary {
  /** Rows handed to the outbox now. */
  sent: number;
  /** Rows already in flight in this process. */
  inFlight: number;
  /** Rows dropped for their age. */
  expired: number;
  /** Rows that cannot be read (logged at error, kept for the operator). */
  unreadable: number;
}

/** Hand every stored notice not in flight to the outbox (oldest first); drop those past their age. */
export async function redeliverNotices(ctx: AppContext): Promise<RedeliverySummary> {
  const summary: RedeliverySummary = { sent: 0, inFlight: 0, expired: 0, unreadable: 0 };
  const now = ctx.clock.now();
  for (const row of await listNotices(ctx.db)) {
    if (now - row.queued_at > NOTICE_MAX_AGE_SECONDS) {
      if (flying(ctx.outbox).has(row.id)) continue;
      await deleteNotice(ctx.db, row.id);
      summary.expired++;
      ctx.logger.error(
        { notice: row.id, orderId: row.order_id, recipient: row.recipient, queuedAt: row.queued_at },
        'stored notice not accepted by any relay for a week; dropped',
      );
      continue;
    }
    const r = sendStoredNotice(ctx, row);
    if (r === 'sent') summary.sent++;
    else if (r === 'in-flight') summary.inFlight++;
    else summary.unreadable++;
  }
  if (summary.sent > 0 || summary.expired > 0) ctx.logger.info(summary, 'stored notices redelivered');
  return summary;
}
