import { commitWithNotices, type Notice } from '../flows/notices.js';
import type { AppContext } from '../../context.js';
import { casUpdateDispute, getDispute } from '../../db/disputes.js';
import { getOrder } from '../../db/orders.js';
import type { DisputeRow, OrderRow } from '../../db/types.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage, cantDoMessage } from '../../protocol/build.js';
import type { SolverDisputeInfo, UserInfo } from '../../protocol/types.js';
import type { Handler } from '../handler.js';
import { publishDispute } from '../flows/publish.js';
import { initiatorOf, userInfo } from '../flows/reputation.js';
import { authorizeTake } from '../flows/solver-auth.js';

/**
 * `admin-take-dispute` — a solver (or the admin) takes a dispute; `id` is the DISPUTE id
 * (HANDLERS.md §4.9, PROTOCOL.md §5.14, §9.5 rows 4–6).
 *
 * Differences from 0.17.1:
 *  - unknown dispute id → cant-do not_found (upstream #752 spirit) instead of silence;
 *  - everything is validated (order present, dispute flags consistent) and the solver info built
 *    BEFORE the dispute row is written (HQ-15); inconsistent flags → cant-do invalid_dispute_status;
 *  - the write is a compare-and-set on (status, solver_pubkey) as read, so two solvers racing for
 *    one dispute get exactly one winner (the loser: not_allowed_by_status);
 *  - a party missing from `users` gets zeroed reputation instead of aborting the take;
 *  - on an admin takeover the previous solver is told (upstream #302): it receives a cant-do
 *    `dispute_taken_by_admin` with id = dispute id (to its identity key).
 * Kept (HQ-16): the solver's reply goes to its identity key.
 */
export const adminTakeDispute: Handler = async (ctx, msg, inbound) => {
  const disputeId = msg.kind.id;
  if (disputeId === undefined) throw new SilentError('admin-take-dispute without a dispute id');
  const requestId = msg.kind.request_id;
  const solver = inbound.identity;

  const d = await getDispute(ctx.db, disputeId);
  if (d === undefined) throw new CantDoError('not_found', `dispute ${disputeId} not found`);
  await authorizeTake(ctx, solver, d);

  const order = await getOrder(ctx.db, d.order_id);
  if (order === undefined) throw new SilentError(`order ${d.order_id} of dispute ${d.id} not found`);
  const initiator = initiatorOf(order);
  if (initiator === 'unknown') {
    throw new CantDoError('invalid_dispute_status', `order ${order.id} has inconsistent dispute flags`);
  }

  const now = ctx.clock.now();
  const taken: DisputeRow = { ...d, status: 'in-progress', solver_pubkey: solver, taken_at: now };
  const info = await solverDisputeInfo(ctx, order, taken, initiator);

  const toParties = buildMessage({
    action: 'admin-took-dispute',
    id: order.id,
    requestId,
    payload: { peer: { pubkey: solver, reputation: null } },
  });
  const notices: Notice[] = [
    [solver, buildMessage({ wrapper: 'dispute', action: 'admin-took-dispute', id: d.id, requestId, payload: { dispute: [d.id, info] } })],
  ];
  if (order.buyer_pubkey !== null) notices.push([order.buyer_pubkey, toParties]);
  if (order.seller_pubkey !== null) notices.push([order.seller_pubkey, toParties]);
  // Stored with the take (durable outbox, flows/notices.ts): the parties learn who solves it.
  const won = await commitWithNotices(
    ctx,
    (trx) => casUpdateDispute(trx, d.id, { status: d.status, solver_pubkey: d.solver_pubkey }, { status: 'in-progress', solver_pubkey: solver, taken_at: now }),
    notices,
  );
  if (!won) throw new CantDoError('not_allowed_by_status', `dispute ${d.id} changed while being taken`);
  ctx.logger.info({ disputeId: d.id, solver, previous: d.solver_pubkey }, 'dispute taken');

  const previous = d.solver_pubkey;
  if (previous !== null && previous !== solver) {
    // upstream #302: the solver whose dispute was taken over is told, with the reason it would get
    // on its next admin-cancel / admin-settle (a message every client already understands).
    ctx.outbox.sendMessage(previous, cantDoMessage('dispute_taken_by_admin', { id: d.id, requestId: null }), {
      queue: 'cant-do',
    });
  }

  await publishDispute(ctx, taken, initiator);
};

/** mostro-core SolverDisputeInfo::new (PROTOCOL.md §4.10). */
async function solverDisputeInfo(
  ctx: AppContext,
  o: OrderRow,
  d: DisputeRow,
  initiator: 'buyer' | 'seller',
): Promise<SolverDisputeInfo> {
  const buyerMaster = normalIdentity(o.buyer_pubkey, o.master_buyer_pubkey);
  const sellerMaster = normalIdentity(o.seller_pubkey, o.master_seller_pubkey);
  const [initiatorKey, initiatorMaster, counterpartMaster] =
    initiator === 'buyer'
      ? [o.buyer_pubkey, buyerMaster, sellerMaster]
      : [o.seller_pubkey, sellerMaster, buyerMaster];
  if (initiatorKey === null) throw new SilentError(`order ${o.id}: the dispute initiator has no trade key`);
  const initiatorInfo: UserInfo | null = initiatorMaster === null ? null : await userInfo(ctx, initiatorMaster);
  const counterpartInfo: UserInfo | null =
    counterpartMaster === null ? null : await userInfo(ctx, counterpartMaster);
  return {
    id: o.id,
    kind: o.kind,
    status: o.status,
    hash: o.hash,
    preimage: o.preimage,
    order_previous_status: d.order_previous_status,
    initiator_pubkey: initiatorKey,
    buyer_pubkey: o.buyer_pubkey,
    seller_pubkey: o.seller_pubkey,
    initiator_full_privacy: initiatorInfo === null,
    counterpart_full_privacy: counterpartInfo === null,
    initiator_info: initiatorInfo,
    counterpart_info: counterpartInfo,
    premium: BigInt(o.premium),
    payment_method: o.payment_method,
    amount: BigInt(o.amount),
    fiat_amount: BigInt(o.fiat_amount),
    fee: BigInt(o.fee),
    routing_fee: BigInt(o.routing_fee),
    buyer_invoice: o.buyer_invoice,
    invoice_held_at: BigInt(o.invoice_held_at),
    taken_at: BigInt(o.taken_at),
    created_at: BigInt(o.created_at),
  };
}

/**
 * The identity key whose reputation may be shown for one side (mostro-core is_full_privacy_order):
 * the master key when it exists and differs from the trade key; null in full-privacy mode.
 */
function normalIdentity(tradeKey: string | null, masterKey: string | null): string | null {
  return masterKey !== null && masterKey !== tradeKey ? masterKey : null;
}
