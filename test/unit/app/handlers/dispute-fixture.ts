/**
 * Shared setup for the dispute / admin handler tests (H8): an escrowed trade (hold invoice
 * accepted in FakeLightning, order row with both parties), opened disputes and solvers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Event } from 'nostr-tools/pure';
import { dispute } from '../../../../src/app/handlers/dispute.js';
import { adminTakeDispute } from '../../../../src/app/handlers/admin-take-dispute.js';
import { getDisputeByOrder } from '../../../../src/db/disputes.js';
import { insertOrder } from '../../../../src/db/orders.js';
import type { DisputeRow, OrderRow } from '../../../../src/db/types.js';
import { makeSolver } from '../../../../src/db/users.js';
import type { Status } from '../../../../src/protocol/types.js';
import { makeOrder } from '../../../support/db.js';
import { inboundFor, newKeys, signedInvoice, type TestContext, type TestKeys } from '../../../support/test-context.js';
import { party, req, tag, type Party } from '../../../support/trade-fixtures.js';

export interface Trade {
  order: OrderRow;
  buyer: Party;
  seller: Party;
  hash: string;
  preimage: string;
}

/**
 * A sell order between two reputation-mode parties with an accepted escrow, in `status`
 * (default active). Amount 10 000 sats, fee 30.
 */
export async function escrowedTrade(
  ctx: TestContext,
  opts: { status?: Status; buyerFullPrivacy?: boolean; order?: Partial<OrderRow> } = {},
): Promise<Trade> {
  const buyer = await party(ctx, { fullPrivacy: opts.buyerFullPrivacy === true });
  const seller = await party(ctx);
  const preimageBytes = randomBytes(32);
  const preimage = preimageBytes.toString('hex');
  const hash = createHash('sha256').update(preimageBytes).digest('hex');
  const amount = 10_000;
  const fee = 30;
  await ctx.lightning.addHoldInvoice({ hash, amountSats: amount + fee, memo: 'escrow', cltvExpiry: 144, expirySeconds: 3600 });
  ctx.lightning.pay(hash);
  const now = ctx.clock.now();
  const order = makeOrder({
    kind: 'sell',
    status: opts.status ?? 'active',
    amount,
    fee,
    fiat_amount: 10,
    premium: 1,
    hash,
    preimage,
    creator_pubkey: seller.trade.pubkey,
    seller_pubkey: seller.trade.pubkey,
    master_seller_pubkey: seller.identity.pubkey,
    buyer_pubkey: buyer.trade.pubkey,
    master_buyer_pubkey: buyer.identity.pubkey,
    buyer_invoice: signedInvoice({ sats: amount - fee, now }),
    trade_index_seller: 1,
    trade_index_buyer: 1,
    invoice_held_at: now - 100,
    taken_at: now - 200,
    created_at: now - 300,
    expires_at: now + 86_400,
    ...opts.order,
  });
  await insertOrder(ctx.db, order);
  return { order, buyer, seller, hash, preimage };
}

/** Open a dispute through the real handler; returns the dispute row. */
export async function openDispute(ctx: TestContext, t: Trade, by: 'buyer' | 'seller', requestId = 5n): Promise<DisputeRow> {
  const who = by === 'buyer' ? t.buyer : t.seller;
  await dispute(ctx, req('dispute', { id: t.order.id, requestId }), who.inbound);
  const d = await getDisputeByOrder(ctx.db, t.order.id);
  assert.ok(d !== undefined, 'dispute row created');
  return d;
}

export interface Solver {
  identity: TestKeys;
  trade: TestKeys;
  inbound: ReturnType<typeof inboundFor>;
}

/** A registered solver (users.is_solver = 1) with its own trade key. */
export async function solver(ctx: TestContext): Promise<Solver> {
  const identity = newKeys();
  const trade = newKeys();
  await makeSolver(ctx.db, identity.pubkey, ctx.clock.now());
  return { identity, trade, inbound: inboundFor(identity, trade, ctx.clock.now()) };
}

/** The admin: requests sealed with the node's own key (trade key distinct, as mostro-cli does). */
export function admin(ctx: TestContext): Solver {
  const identity = { secretKey: ctx.keys.secretKey, pubkey: ctx.keys.pubkey };
  const trade = newKeys();
  return { identity, trade, inbound: inboundFor(identity, trade, ctx.clock.now()) };
}

export async function take(ctx: TestContext, who: Solver, d: DisputeRow, requestId = 9n): Promise<void> {
  await adminTakeDispute(ctx, req('admin-take-dispute', { id: d.id, requestId }), who.inbound);
}

/** 38386 events published for a dispute, in order. */
export function disputeEvents(ctx: TestContext, disputeId: string): Event[] {
  return ctx.outbox.eventsOfKind(38386).filter((e) => tag(e, 'd')?.[0] === disputeId);
}
