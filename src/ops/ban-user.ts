/**
 * The operator's bans (OperatorService BanUser / UnbanUser / ListBanned, `mostrod-admin ban`):
 * an identity key that floods the book with orders it never trades, or takes orders and walks
 * away, is kept from starting trades (app/bans.ts says what a ban refuses and what it lets finish).
 *
 * A ban also withdraws the key's `pending` orders from the book (app/flows/withdraw.ts: under the
 * order lock, compare-and-set `pending → canceled-by-admin`, the maker's `admin-canceled` stored in
 * the same transaction, the event republished) — at once, and again by the handler or job that
 * puts one of its taken orders back to `pending` (withdrawIfMakerBanned); the
 * `expire-pending-orders` job sweeps every minute for any left (withdrawBannedPending), after
 * reading the banned keys from the database again. A pending order holds no escrow, so nothing is
 * refunded; an order that was taken meanwhile is left to its trade. Orders in any other status are
 * never touched.
 */
import { sql } from 'kysely';
import { BanList } from '../app/bans.js';
import { withdraw } from '../app/flows/withdraw.js';
import type { AppContext } from '../context.js';
import { findPendingOrderIdsOf } from '../db/orders.js';
import { FINISHED_STATUSES_SQL } from '../db/transports.js';
import { opsDb } from './tables.js';

export interface BanResult {
  /** 'banned' when this call banned the key, 'already-banned' when it was. */
  outcome: 'banned' | 'already-banned';
  /** Pending orders withdrawn from the book (canceled-by-admin). */
  canceled: string[];
  /** Pending orders taken (or otherwise changed) before the ban reached them: left to their trade. */
  kept: string[];
  /** Orders whose withdrawal failed (logged); the ban itself holds. */
  failed: string[];
}

/** The audit detail of a BanUser call (listBanned finds the call that banned a key by its `banned;`). */
export function banAuditDetail(r: BanResult): string {
  return `${r.outcome}; pending orders canceled ${r.canceled.length}, kept ${r.kept.length}, failed ${r.failed.length}`;
}

/** How many times the pending orders are looked up again for ones a racing new-order added. */
const SWEEPS = 3;

/** Ban `pubkey` (lowercase hex) and withdraw its pending orders. */
export async function banUser(ctx: AppContext, pubkey: string): Promise<BanResult> {
  const fresh = await ctx.db.transaction().execute((trx) => BanList.markBanned(trx, pubkey, ctx.clock.now()));
  // From here on the router refuses the key's new orders and takes.
  await ctx.bans.load(ctx.db);
  const result: BanResult = { outcome: fresh ? 'banned' : 'already-banned', canceled: [], kept: [], failed: [] };
  const seen = new Set<string>();
  // A new-order that passed the router before the load may commit after the first lookup: look
  // again until a sweep finds nothing new.
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    const ids = (await findPendingOrderIdsOf(ctx.db, pubkey)).filter((id) => !seen.has(id));
    if (ids.length === 0) break;
    for (const id of ids) {
      seen.add(id);
      try {
        const w = await withdraw(ctx, id);
        (w === 'canceled' ? result.canceled : result.kept).push(id);
      } catch (err) {
        ctx.logger.error({ err, orderId: id, pubkey }, 'ban: withdrawing a pending order failed');
        result.failed.push(id);
      }
    }
  }
  ctx.logger.info({ pubkey, outcome: result.outcome, canceled: result.canceled.length, kept: result.kept.length, failed: result.failed.length }, 'identity banned');
  return result;
}

/**
 * Withdraw every pending order of a banned key (the expire-pending-orders job, every minute): the
 * orders of a key banned in the database behind the daemon's back, and any that came back to
 * `pending` and was not withdrawn at once (withdrawIfMakerBanned failed, or the ban came in while
 * its take was being undone). Two index lookups per banned key. Returns how many were withdrawn.
 */
export async function withdrawBannedPending(ctx: AppContext): Promise<number> {
  let withdrawn = 0;
  for (const pubkey of ctx.bans.list()) {
    for (const id of await findPendingOrderIdsOf(ctx.db, pubkey)) {
      try {
        if ((await withdraw(ctx, id)) === 'canceled') {
          withdrawn++;
          ctx.logger.info({ orderId: id, pubkey }, 'pending order of a banned key withdrawn');
        }
      } catch (err) {
        ctx.logger.error({ err, orderId: id, pubkey }, 'withdrawing a pending order of a banned key failed');
      }
    }
  }
  return withdrawn;
}

/** Lift `pubkey`'s ban. Returns false when it was not banned. */
export async function unbanUser(ctx: AppContext, pubkey: string): Promise<boolean> {
  const lifted = await BanList.markUnbanned(ctx.db, pubkey);
  await ctx.bans.load(ctx.db);
  if (lifted) ctx.logger.info({ pubkey }, 'identity unbanned');
  return lifted;
}

export interface BannedUser {
  pubkey: string;
  /** The last BanUser that banned the key (audit trail); 0 / '' when it was banned some other way. */
  bannedAt: number;
  bannedBy: string;
  reason: string;
  /** Orders of the key (as maker or taker, by identity) that are not finished. */
  openOrders: number;
}

/** Every banned key (from the database), with who banned it, when and why, and its open orders. */
export async function listBanned(ctx: AppContext): Promise<BannedUser[]> {
  const keys = await ctx.db.selectFrom('users').select('pubkey').where('is_banned', '!=', 0).orderBy('pubkey').execute();
  const out: BannedUser[] = [];
  for (const { pubkey } of keys) {
    const audit = await opsDb(ctx.db)
      .selectFrom('mostrod_ts_operator_audit')
      .select(['at', 'who', 'request'])
      .where('target', '=', pubkey)
      .where('action', '=', 'BanUser')
      .where('outcome', '=', 'ok')
      // the call that banned it, not a later one that found it banned
      .where('detail', 'like', 'banned;%')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const open = await ctx.db
      .selectFrom('orders')
      .select(sql<number>`count(*)`.as('n'))
      .where((eb) => eb.or([eb('master_buyer_pubkey', '=', pubkey), eb('master_seller_pubkey', '=', pubkey)]))
      .where(sql<boolean>`status NOT IN ${sql.raw(FINISHED_STATUSES_SQL)}`)
      .executeTakeFirst();
    out.push({
      pubkey,
      bannedAt: audit?.at ?? 0,
      bannedBy: audit?.who ?? '',
      reason: audit === undefined ? '' : reasonOf(audit.request),
      openOrders: Number(open?.n ?? 0),
    });
  }
  return out;
}

function reasonOf(request: string): string {
  try {
    const r = JSON.parse(request) as { reason?: unknown };
    return typeof r.reason === 'string' ? r.reason : '';
  } catch {
    return '';
  }
}
