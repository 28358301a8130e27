/**
 * Operator repair actions (OperatorService RetryPayout / RepublishOrder). Each checks its
 * precondition on a fresh read under the order's lock (`order:<id>`, the lock handlers take) and
 * is idempotent: repeating it never pays or changes anything twice — a repeated RetryPayout finds
 * the order paid or its claim in flight and is refused; a repeated RepublishOrder publishes the
 * same state again (an addressable event replacing itself).
 */
import { attemptPayout } from '../app/flows/payout.js';
import { orderPublicStatus, publishOrder } from '../app/flows/publish.js';
import type { AppContext } from '../context.js';
import { casUpdateOrder, getOrder } from '../db/orders.js';
import { buildOrderEvent, networkTagValue } from '../nostr/events.js';
import { expectedPublicStatus } from './stuck.js';

export type ActionOutcome = 'succeeded' | 'failed' | 'pending' | 'published' | 'refused';

export interface ActionResult {
  outcome: ActionOutcome;
  detail: string;
  /** The order's status after the action ('' when the order does not exist). */
  orderStatus: string;
}

const lockKey = (id: string) => `order:${id}`;

/**
 * Pay the buyer of a `settled-hold-invoice` order that has no payout claim in flight, now, through
 * the payout flow (attemptPayout: LND must report the escrow settled, the invoice is re-checked,
 * the claim is recorded before sending). Waits for the attempt (bounded by
 * lightning.payment_timeout_seconds); a payment still in flight after that is left to the payout
 * reconciliation.
 */
export async function retryPayout(ctx: AppContext, orderId: string): Promise<ActionResult> {
  const refusal = await ctx.locks.run(lockKey(orderId), async (): Promise<ActionResult | null> => {
    const o = await getOrder(ctx.db, orderId);
    if (o === undefined) return { outcome: 'refused', detail: 'order not found', orderStatus: '' };
    if (o.status !== 'settled-hold-invoice') {
      return { outcome: 'refused', detail: `order is ${o.status}; only settled-hold-invoice orders are paid`, orderStatus: o.status };
    }
    if (o.payout_payment_hash !== null) {
      return {
        outcome: 'refused',
        detail: `a payout (hash ${o.payout_payment_hash}, claimed at ${o.payout_claimed_at ?? 'unknown'}) is in flight; ReconcileNow resolves it with LND`,
        orderStatus: o.status,
      };
    }
    if (ctx.lightning.state !== 'up') {
      return { outcome: 'refused', detail: `Lightning node is ${ctx.lightning.state}`, orderStatus: o.status };
    }
    return null;
  });
  if (refusal !== null) return refusal;
  const outcome = await attemptPayout(ctx, orderId, null);
  const after = await getOrder(ctx.db, orderId);
  const orderStatus = after?.status ?? '';
  if (outcome === 'succeeded') return { outcome, detail: 'buyer paid; order completed', orderStatus };
  if (outcome === 'failed') {
    return {
      outcome,
      detail: `payment failed (attempt ${after?.payment_attempts ?? '?'} of ${ctx.settings.lightning.payment_attempts}); the buyer was told`,
      orderStatus,
    };
  }
  if (outcome === 'pending') {
    return { outcome, detail: 'payment in flight; the payout reconciliation will record its result', orderStatus };
  }
  if (outcome === 'skipped') {
    return {
      outcome: 'refused',
      detail: 'nothing paid: the order changed meanwhile or LND does not report its escrow settled (see the logs)',
      orderStatus,
    };
  }
  // Any other outcome of the payout flow needs a human: report it as it is.
  return { outcome: 'refused', detail: `payout flow returned ${String(outcome)}; see the logs`, orderStatus };
}

/**
 * Publish the order's kind-38383 event again from its database row. Statuses with an event of their
 * own go through publishOrder; mid-trade statuses (active, fiat-sent, dispute, …) publish no event
 * of their own, so their `in-progress` event is rebuilt from the row the same way (this is how an
 * order whose public event still says `pending` is fixed). Statuses that are never public are refused.
 */
export async function republishOrder(ctx: AppContext, orderId: string): Promise<ActionResult> {
  return ctx.locks.run(lockKey(orderId), async (): Promise<ActionResult> => {
    const o = await getOrder(ctx.db, orderId);
    if (o === undefined) return { outcome: 'refused', detail: 'order not found', orderStatus: '' };
    const expected = expectedPublicStatus(o);
    if (expected === null) {
      return { outcome: 'refused', detail: `status ${o.status} has no public event`, orderStatus: o.status };
    }
    if (orderPublicStatus(o) !== null) {
      await publishOrder(ctx, o);
      const after = await getOrder(ctx.db, orderId);
      return {
        outcome: 'published',
        detail: `38383 s=${expected} event ${after?.event_id ?? '?'}`,
        orderStatus: after?.status ?? o.status,
      };
    }
    const template = buildOrderEvent({
      order: o,
      status: expected,
      rating: null,
      settings: ctx.settings,
      nodePubkey: ctx.keys.pubkey,
      network: networkTagValue(ctx.lightning.info?.networks ?? null),
      now: ctx.clock.now(),
    });
    const eventId = await ctx.outbox.publish(template);
    await casUpdateOrder(ctx.db, o.id, { status: o.status }, { event_id: eventId });
    return { outcome: 'published', detail: `38383 s=${expected} event ${eventId}`, orderStatus: o.status };
  });
}
