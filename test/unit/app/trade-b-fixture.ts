/**
 * Shared setup for the H7 handler/flow tests: an escrowed trade between two parties (hold invoice
 * created in FakeLightning and, unless told otherwise, paid/accepted), with a decodable buyer
 * invoice registered in FakeLightning.
 */
import { createHash, randomBytes } from 'node:crypto';
import { insertOrder } from '../../../src/db/orders.js';
import type { OrderRow } from '../../../src/db/types.js';
import type { Status } from '../../../src/protocol/types.js';
import { makeOrder } from '../../support/db.js';
import { signedInvoice, type TestContext } from '../../support/test-context.js';
import { party, type Party } from '../../support/trade-fixtures.js';

export interface Trade {
  order: OrderRow;
  buyer: Party;
  seller: Party;
  maker: Party;
  taker: Party;
  hash: string;
  preimage: string;
  /** The buyer's payout invoice (registered as decodable). */
  invoice: string;
}

export const AMOUNT = 10_000;
export const FEE = 30;

export interface TradeOptions {
  status?: Status;
  kind?: 'sell' | 'buy';
  /** 'accepted' (seller paid, default), 'open' (not paid), 'settled', or 'none' (no hold invoice). */
  escrow?: 'accepted' | 'open' | 'settled' | 'none';
  buyerFullPrivacy?: boolean;
  sellerFullPrivacy?: boolean;
  order?: Partial<OrderRow>;
}

export async function escrowedTrade(ctx: TestContext, opts: TradeOptions = {}): Promise<Trade> {
  const kind = opts.kind ?? 'sell';
  const buyer = await party(ctx, { fullPrivacy: opts.buyerFullPrivacy === true });
  const seller = await party(ctx, { fullPrivacy: opts.sellerFullPrivacy === true });
  const maker = kind === 'sell' ? seller : buyer;
  const taker = kind === 'sell' ? buyer : seller;
  const preimageBytes = randomBytes(32);
  const preimage = preimageBytes.toString('hex');
  const hash = createHash('sha256').update(preimageBytes).digest('hex');
  const escrow = opts.escrow ?? 'accepted';
  if (escrow !== 'none') {
    await ctx.lightning.addHoldInvoice({ hash, amountSats: AMOUNT + FEE, memo: 'escrow', cltvExpiry: 144, expirySeconds: 3600 });
    if (escrow === 'accepted' || escrow === 'settled') ctx.lightning.pay(hash);
    if (escrow === 'settled') await ctx.lightning.settleHoldInvoice(preimage);
  }
  const now = ctx.clock.now();
  const invoice = signedInvoice({ sats: AMOUNT - FEE, now });
  ctx.lightning.registerPaymentRequest(invoice, { amountMsat: BigInt(AMOUNT - FEE) * 1000n });
  const order = makeOrder({
    kind,
    status: opts.status ?? 'active',
    amount: AMOUNT,
    fee: FEE,
    fiat_amount: 10,
    premium: 1,
    hash: escrow === 'none' ? null : hash,
    preimage: escrow === 'none' ? null : preimage,
    creator_pubkey: maker.trade.pubkey,
    seller_pubkey: seller.trade.pubkey,
    master_seller_pubkey: seller.identity.pubkey,
    buyer_pubkey: buyer.trade.pubkey,
    master_buyer_pubkey: buyer.identity.pubkey,
    buyer_invoice: invoice,
    trade_index_seller: 1,
    trade_index_buyer: 1,
    invoice_held_at: now - 100,
    taken_at: now - 200,
    created_at: now - 300,
    expires_at: now + 86_400,
    ...opts.order,
  });
  await insertOrder(ctx.db, order);
  if (escrow === 'settled') ctx.lightning.settles.length = 0;
  return { order, buyer, seller, maker, taker, hash, preimage, invoice };
}
