import type { Logger } from 'pino';
import type { AppContext } from '../context.js';
import { CantDoError, SilentError } from '../errors.js';
import { cantDoMessage } from '../protocol/build.js';
import type { Action, Message } from '../protocol/types.js';
import { BANNED_ACTIONS } from './bans.js';
import type { Handler } from './handler.js';
import type { Inbound } from './inbound.js';
import { addInvoice } from './handlers/add-invoice.js';
import { adminAddSolver } from './handlers/admin-add-solver.js';
import { adminCancel } from './handlers/admin-cancel.js';
import { adminSettle } from './handlers/admin-settle.js';
import { adminTakeDispute } from './handlers/admin-take-dispute.js';
import { cancel } from './handlers/cancel.js';
import { dispute } from './handlers/dispute.js';
import { fiatSent } from './handlers/fiat-sent.js';
import { lastTradeIndex } from './handlers/last-trade-index.js';
import { newOrder } from './handlers/new-order.js';
import { orders } from './handlers/orders.js';
import { rateUser } from './handlers/rate-user.js';
import { release } from './handlers/release.js';
import { restoreSession } from './handlers/restore-session.js';
import { takeBuy } from './handlers/take-buy.js';
import { takeSell } from './handlers/take-sell.js';
import { tradePubkey } from './handlers/trade-pubkey.js';

/**
 * What the node does with each inbound action (HANDLERS.md §2.5). `satisfies Record<Action, Route>`
 * makes the compiler reject a missing action.
 *  - a Handler: run it under the order's lock;
 *  - 'invalid-action': answer cant-do invalid_action (pay-invoice from a user);
 *  - 'ignore': notifications echoed back, send-dm, … are accepted and ignored, as in mostrod.
 */
type Route = Handler | 'invalid-action' | 'ignore';

export const ROUTES = {
  'new-order': newOrder,
  'take-sell': takeSell,
  'take-buy': takeBuy,
  'pay-invoice': 'invalid-action',
  'fiat-sent': fiatSent,
  'fiat-sent-ok': 'ignore',
  release: release,
  released: 'ignore',
  cancel: cancel,
  canceled: 'ignore',
  'cooperative-cancel-initiated-by-you': 'ignore',
  'cooperative-cancel-initiated-by-peer': 'ignore',
  'dispute-initiated-by-you': 'ignore',
  'dispute-initiated-by-peer': 'ignore',
  'cooperative-cancel-accepted': 'ignore',
  'buyer-invoice-accepted': 'ignore',
  'purchase-completed': 'ignore',
  'hold-invoice-payment-accepted': 'ignore',
  'hold-invoice-payment-settled': 'ignore',
  'hold-invoice-payment-canceled': 'ignore',
  'waiting-seller-to-pay': 'ignore',
  'waiting-buyer-invoice': 'ignore',
  'add-invoice': addInvoice,
  'buyer-took-order': 'ignore',
  rate: 'ignore',
  'rate-user': rateUser,
  'rate-received': 'ignore',
  'cant-do': 'ignore',
  dispute: dispute,
  'admin-cancel': adminCancel,
  'admin-canceled': 'ignore',
  'admin-settle': adminSettle,
  'admin-settled': 'ignore',
  'admin-add-solver': adminAddSolver,
  'admin-take-dispute': adminTakeDispute,
  'admin-took-dispute': 'ignore',
  'payment-failed': 'ignore',
  'invoice-updated': 'ignore',
  'send-dm': 'ignore',
  'trade-pubkey': tradePubkey,
  'restore-session': restoreSession,
  'last-trade-index': lastTradeIndex,
  orders: orders,
} as const satisfies Record<Action, Route>;

/** The lock a request runs under: its order (or, for admin-take-dispute, its dispute). */
export function lockKeyFor(msg: Message): string | null {
  const id = msg.kind.id;
  if (id === undefined) return null;
  return msg.kind.action === 'admin-take-dispute' ? `dispute:${id}` : `order:${id}`;
}

/**
 * Run the handler for `msg` under its lock and let errors propagate (the admin gRPC uses this to
 * turn refusals into `success=false`). Returns false when the action is not handled (ignored).
 */
export async function executeAction(ctx: AppContext, msg: Message, inbound: Inbound): Promise<boolean> {
  const route: Route = ROUTES[msg.kind.action];
  if (route === 'ignore') return false;
  if (route === 'invalid-action') throw new CantDoError('invalid_action');
  // An identity the operator banned starts no trade (app/bans.ts); its trades in progress go on.
  if (BANNED_ACTIONS.has(msg.kind.action) && ctx.bans.has(inbound.identity)) {
    ctx.bans.noteRefused();
    throw new CantDoError('not_authorized', 'the identity is banned');
  }
  const key = lockKeyFor(msg);
  if (key === null) await route(ctx, msg, inbound);
  else await ctx.locks.run(key, () => route(ctx, msg, inbound));
  return true;
}

/**
 * Dispatch an inbound Nostr request: refusals become a cant-do reply to the trade key (with the
 * request's id and request_id), everything else is logged with its cause. Never throws.
 */
export async function dispatch(ctx: AppContext, msg: Message, inbound: Inbound): Promise<void> {
  const requestId = msg.kind.request_id;
  // The child logger is made only when something is logged: a request answered normally logs
  // nothing, and a pino child per request was measurable on the hot path. The sender's identity
  // and trade key are in it only at debug level (an operator looking for a key that abuses the
  // book, docs/OPERATIONS.md): at info the logs carry no user's key (as upstream #835).
  const log = (): Logger =>
    ctx.logger.child({
      action: msg.kind.action,
      orderId: msg.kind.id,
      requestId: requestId === null ? null : requestId.toString(),
      ...(ctx.logger.isLevelEnabled('debug') ? { identity: inbound.identity, tradeKey: inbound.tradeKey } : {}),
    });
  try {
    const handled = await executeAction(ctx, msg, inbound);
    if (!handled) log().debug('action ignored');
  } catch (err) {
    if (err instanceof CantDoError) {
      log().info({ reason: err.reason, detail: err.message }, 'cant-do');
      ctx.outbox.sendMessage(
        inbound.tradeKey,
        cantDoMessage(err.reason, { id: msg.kind.id, requestId }),
        { queue: 'cant-do' },
      );
    } else if (err instanceof SilentError) {
      log().warn({ err: err.message }, 'request refused without reply');
    } else {
      log().error({ err }, 'handler failed');
    }
  }
}
