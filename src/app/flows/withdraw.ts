/**
 * Withdrawing a banned maker's pending order from the book (app/bans.ts, ops/ban-user.ts): under
 * the order's lock, compare-and-set `pending → canceled-by-admin`, the maker's `admin-canceled`
 * stored in the same transaction (durable outbox), the order's event republished (`s=canceled`).
 * A pending order holds no escrow, so nothing is refunded; an order in any other status is never
 * touched.
 */
import type { AppContext } from '../../context.js';
import { casUpdateOrder, getOrder } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { buildMessage } from '../../protocol/build.js';
import { commitWithNotices } from './notices.js';
import { publishOrder } from './publish.js';

/** 'canceled' when the order was withdrawn; 'changed' when it was no longer pending. */
export type Withdrawal = 'canceled' | 'changed';

/** The maker's identity key of `o` (the side of its kind: a sell order's seller). */
export function makerIdentity(o: Pick<OrderRow, 'kind' | 'master_buyer_pubkey' | 'master_seller_pubkey'>): string | null {
  return o.kind === 'sell' ? o.master_seller_pubkey : o.master_buyer_pubkey;
}

/** Withdraw order `id` if it is pending. The caller holds the order's lock. */
export async function withdrawLocked(ctx: AppContext, id: string): Promise<Withdrawal> {
  const o = await getOrder(ctx.db, id);
  if (o === undefined || o.status !== 'pending') return 'changed';
  const notice = buildMessage({ action: 'admin-canceled', id: o.id });
  const won = await commitWithNotices(
    ctx,
    (trx) => casUpdateOrder(trx, o.id, { status: 'pending', creator_pubkey: o.creator_pubkey }, { status: 'canceled-by-admin' }),
    o.creator_pubkey === null ? [] : [[o.creator_pubkey, notice]],
  );
  if (!won) return 'changed';
  await publishOrder(ctx, { ...o, status: 'canceled-by-admin' });
  return 'canceled';
}

/** Withdraw order `id` if it is pending, under its lock. */
export function withdraw(ctx: AppContext, id: string): Promise<Withdrawal> {
  return ctx.locks.run(`order:${id}`, () => withdrawLocked(ctx, id));
}

/**
 * An order that just went back to `pending` (its taker canceled or ran out of time; the caller
 * holds its lock): if its maker is banned, withdraw it now instead of at the next
 * `expire-pending-orders` run, so it is never takeable again. A failure is logged: the job's sweep
 * withdraws it within a minute. Returns whether it was withdrawn.
 */
export async function withdrawIfMakerBanned(ctx: AppContext, o: OrderRow): Promise<boolean> {
  const maker = makerIdentity(o);
  if (maker === null || !ctx.bans.has(maker)) return false;
  try {
    const w = await withdrawLocked(ctx, o.id);
    if (w === 'canceled') ctx.logger.info({ orderId: o.id, pubkey: maker }, 'order of a banned maker back to pending: withdrawn');
    return w === 'canceled';
  } catch (err) {
    ctx.logger.error({ err, orderId: o.id, pubkey: maker }, 'withdrawing a banned maker\'s order failed; the expire job retries');
    return false;
  }
}
