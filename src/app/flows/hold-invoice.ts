import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../context.js';
import { casUpdateOrder, findOpenEscrows, getOrder, getOrderByHash, type OrderPatch } from '../../db/orders.js';
import type { OrderRow } from '../../db/types.js';
import { bytesToHex, sha256 } from '../../crypto/secp.js';
import { CantDoError } from '../../errors.js';
import type { InvoiceUpdate } from '../../lightning/backend.js';
import { buildMessage } from '../../protocol/build.js';
import type { CantDoReason, Status } from '../../protocol/types.js';
import { closeDispute } from './dispute-close.js';
import { commitWithNotices, type Notice } from './notices.js';
import { CANCELED_STATUSES, finishCancelDecision, refundEscrowOfCanceledOrder } from './escrow-cancel.js';
import { buyerAmount, sellerAmount, toSmallOrder, wireIndex } from './order-view.js';
import { markReleased, startPayout } from './payout.js';
import { publishOrder } from './publish.js';
import { notifyTakerReputation } from './reputation.js';

export interface CreateEscrowOptions {
  /** The buyer's payout invoice/address to store with the escrow (null/undefined keeps o.buyer_invoice). */
  buyerInvoice?: string | null;
  /** request_id of the request that creates the escrow; echoed now and in the LND callbacks. */
  requestId: bigint | null;
  /** Status the order must still have in the DB (compare-and-set). */
  fromStatus: Status;
  /** Reason answered when the compare-and-set is lost (default not_allowed_by_status). */
  lostRace?: CantDoReason;
}

/** Statuses in which an accepted escrow HTLC is still needed by the trade. */
const LIVE_ESCROW: readonly Status[] = ['waiting-payment', 'waiting-buyer-invoice', 'active', 'fiat-sent', 'dispute'];

function escrowMemo(o: OrderRow): string {
  return (
    `Escrow amount Order #${o.id}: SELL BTC for ${o.fiat_code} ${o.fiat_amount} - It WILL FREEZE IN WALLET. ` +
    'It will release once you release. It will return if buyer does not confirm the payment'
  );
}

/**
 * Create the seller's escrow (`show_hold_invoice`, HANDLERS.md §3.6).
 *
 * `o` is the order as the caller wants it stored (taker keys, indexes, amounts, taken_at already
 * set). Steps: random preimage → AddHoldInvoice for amount + fee (CLTV hold_invoice_cltv_delta;
 * expiry max(hold_invoice_expiration_window, expiration_seconds) so the seller can always pay within
 * the waiting-state window — 0.17.1 left LND's 24 h default) → ONE compare-and-set from `fromStatus`
 * (and no escrow yet) to waiting-payment with every trade field → pay-invoice to the seller and
 * waiting-seller-to-pay to the buyer → publish → watch the invoice.
 *
 * The invoice is created before the compare-and-set so the order never sits in waiting-payment
 * without an escrow; a caller that loses the race gets `lostRace` and its unused invoice is canceled.
 */
export async function createEscrow(ctx: AppContext, o: OrderRow, opts: CreateEscrowOptions): Promise<OrderRow> {
  if (o.buyer_pubkey === null || o.seller_pubkey === null) {
    throw new Error(`createEscrow: order ${o.id} lacks a buyer or seller trade key`);
  }
  const preimage = randomBytes(32);
  const hash = bytesToHex(sha256(preimage));
  const buyerInvoice = opts.buyerInvoice ?? o.buyer_invoice;
  const amountSats = sellerAmount(o);
  const invoice = await ctx.lightning.addHoldInvoice({
    hash,
    amountSats,
    memo: escrowMemo(o),
    cltvExpiry: ctx.settings.lightning.hold_invoice_cltv_delta,
    expirySeconds: Math.max(ctx.settings.lightning.hold_invoice_expiration_window, ctx.settings.mostro.expiration_seconds),
  });

  const patch: OrderPatch = {
    status: 'waiting-payment',
    hash,
    preimage: bytesToHex(preimage),
    buyer_invoice: buyerInvoice,
    buyer_pubkey: o.buyer_pubkey,
    master_buyer_pubkey: o.master_buyer_pubkey,
    seller_pubkey: o.seller_pubkey,
    master_seller_pubkey: o.master_seller_pubkey,
    trade_index_buyer: o.trade_index_buyer,
    trade_index_seller: o.trade_index_seller,
    taken_at: o.taken_at,
    amount: o.amount,
    fee: o.fee,
    dev_fee: o.dev_fee,
    fiat_amount: o.fiat_amount,
  };
  const updated: OrderRow = { ...o, ...patch, status: 'waiting-payment', hash, preimage: bytesToHex(preimage) };
  const notices: Notice[] = [
    [
      updated.seller_pubkey ?? o.seller_pubkey,
      buildMessage({
        action: 'pay-invoice',
        id: o.id,
        requestId: opts.requestId,
        tradeIndex: wireIndex(updated.trade_index_seller),
        payload: {
          payment_request: [
            toSmallOrder(updated, { status: 'waiting-payment', amount: amountSats, tradeKeys: false, invoice: false }),
            invoice.paymentRequest,
            null,
          ],
        },
      }),
    ],
    [
      updated.buyer_pubkey ?? o.buyer_pubkey,
      buildMessage({
        action: 'waiting-seller-to-pay',
        id: o.id,
        requestId: opts.requestId,
        tradeIndex: wireIndex(updated.trade_index_buyer),
        payload: null,
      }),
    ],
  ];
  // Stored with the take (durable outbox, flows/notices.ts): the seller gets the invoice to pay
  // whatever crash follows.
  const won = await commitWithNotices(ctx, (trx) => casUpdateOrder(trx, o.id, { status: opts.fromStatus, hash: null }, patch), notices);
  if (!won) {
    try {
      await ctx.lightning.cancelHoldInvoice(hash);
    } catch (err) {
      ctx.logger.warn({ err, orderId: o.id, hash }, 'could not cancel the unused hold invoice of a lost take race');
    }
    throw new CantDoError(opts.lostRace ?? 'not_allowed_by_status', `order ${o.id} is no longer ${opts.fromStatus}`);
  }
  await publishOrder(ctx, updated);
  watchEscrow(ctx, updated, opts.requestId);
  return (await getOrder(ctx.db, o.id)) ?? updated;
}

/**
 * Follow the escrow invoice of `o`. ACCEPTED → onEscrowAccepted (as a tracked task under the order
 * lock); CANCELED → onEscrowCanceled; SETTLED → onEscrowSettled. Stops after a final state. Returns an
 * unsubscribe function. Safe to call twice for one invoice: every transition is compare-and-set.
 */
export function watchEscrow(ctx: AppContext, o: OrderRow, requestId: bigint | null): () => void {
  const hash = o.hash;
  if (hash === null) throw new Error(`watchEscrow: order ${o.id} has no hold invoice`);
  const log = ctx.logger.child({ orderId: o.id, hash });
  let unsubscribe: (() => void) | null = null;
  let finished = false;
  const stop = () => {
    finished = true;
    if (unsubscribe !== null) unsubscribe();
  };
  const run = (what: string, p: Promise<void>) => {
    void ctx.tasks.track(
      p.catch((err: unknown) => {
        log.error({ err }, `escrow ${what} handling failed`);
      }),
    );
  };
  const listener = (u: InvoiceUpdate) => {
    if (finished) return;
    switch (u.state) {
      case 'open':
        log.debug('hold invoice subscribed (open)');
        break;
      case 'accepted':
        log.info('hold invoice accepted');
        run('accepted', onEscrowAccepted(ctx, hash, requestId));
        break;
      case 'settled':
        log.info('hold invoice settled');
        stop();
        run('settled', onEscrowSettled(ctx, hash).then(() => undefined));
        break;
      case 'canceled':
        stop();
        run('canceled', onEscrowCanceled(ctx, hash));
        break;
    }
  };
  unsubscribe = ctx.lightning.watchInvoice(hash, listener);
  if (finished) unsubscribe();
  return stop;
}

/**
 * The seller paid the escrow (`hold_invoice_paid`, HANDLERS.md §3.9), under the order lock.
 * Only an order still in waiting-payment with this hash moves (fix of HQ-28: 0.17.1 moved any
 * order with the hash, whatever its status). With a buyer invoice → active (buyer-took-order to
 * the seller with amount + fee, hold-invoice-payment-accepted to the buyer with amount − fee);
 * without → waiting-buyer-invoice (add-invoice to the buyer, waiting-buyer-invoice to the seller,
 * and for buy orders the seller's reputation to the buyer). invoice_held_at is set in the same
 * compare-and-set. Messages carry `requestId` (of the request that created the escrow) and a null
 * trade index.
 */
export async function onEscrowAccepted(ctx: AppContext, hash: string, requestId: bigint | null): Promise<void> {
  const found = await getOrderByHash(ctx.db, hash);
  if (found === undefined) {
    // A taker reset erases the hash from the order: the cancel decision still knows it.
    const decided = await finishCancelDecision(ctx, hash);
    if (decided === 'none') ctx.logger.warn({ hash }, 'accepted hold invoice belongs to no order');
    return;
  }
  await ctx.locks.run(`order:${found.id}`, async () => {
    const o = await getOrder(ctx.db, found.id);
    const log = ctx.logger.child({ orderId: found.id, hash });
    if (o === undefined || o.hash !== hash) return;
    if (CANCELED_STATUSES.includes(o.status)) {
      // Issue 12 defect 2: the order was canceled (decision recorded, CancelInvoice lost or the
      // seller paid after the cancel): refund the seller now.
      await refundEscrowOfCanceledOrder(ctx, o);
      return;
    }
    if (o.status !== 'waiting-payment') {
      log.info({ status: o.status }, 'hold invoice accepted; order not waiting for payment, nothing to do');
      return;
    }
    if (o.buyer_pubkey === null || o.seller_pubkey === null) {
      log.error('hold invoice accepted but the order lacks a trade key');
      return;
    }
    const now = ctx.clock.now();
    const next: Status = o.buyer_invoice !== null ? 'active' : 'waiting-buyer-invoice';
    const updated: OrderRow = { ...o, status: next, invoice_held_at: now };
    const notices: Notice[] = [];
    const send = (to: string, action: 'buyer-took-order' | 'hold-invoice-payment-accepted' | 'add-invoice' | 'waiting-buyer-invoice', payload: Parameters<typeof buildMessage>[0]['payload']) =>
      notices.push([to, buildMessage({ action, id: o.id, requestId, tradeIndex: null, payload })]);
    if (next === 'active') {
      send(o.seller_pubkey, 'buyer-took-order', {
        order: toSmallOrder(updated, { amount: sellerAmount(o), invoice: false }),
      });
      send(o.buyer_pubkey, 'hold-invoice-payment-accepted', {
        order: toSmallOrder(updated, { amount: buyerAmount(o), invoice: false }),
      });
    } else {
      send(o.buyer_pubkey, 'add-invoice', {
        order: toSmallOrder(updated, { amount: buyerAmount(o), tradeKeys: false, invoice: false }),
      });
      send(o.seller_pubkey, 'waiting-buyer-invoice', null);
    }
    // The notices are stored with the status change (durable outbox, flows/notices.ts): the parties
    // learn that the escrow is held whatever crash follows (a lost notice left the trade waiting).
    const won = await commitWithNotices(
      ctx,
      (trx) => casUpdateOrder(trx, o.id, { status: 'waiting-payment', hash }, { status: next, invoice_held_at: now }),
      notices,
    );
    if (!won) {
      log.info('hold invoice accepted but the order changed meanwhile');
      return;
    }
    if (next !== 'active') {
      // Decided on the status the order had (waiting-payment), as mostrod: buy → seller's reputation
      // to the buyer. A sell order cannot normally get here (it always carries an invoice).
      if (o.kind === 'buy') await notifyTakerReputation(ctx, updated, 'waiting-payment');
    }
    await publishOrder(ctx, updated);
  });
}

/**
 * LND reports the escrow invoice CANCELED. If we canceled it (order canceled/refunded) this is the
 * echo. If the order still needs it, the invoice expired unpaid (waiting-payment: the waiting-state
 * timeout job republishes/cancels the order) or — after acceptance — LND dropped the HTLC near its
 * CLTV deadline (the escrow deadline guard must act). Never ignored silently.
 */
export async function onEscrowCanceled(ctx: AppContext, hash: string): Promise<void> {
  const o = await getOrderByHash(ctx.db, hash);
  if (o === undefined) {
    ctx.logger.info({ hash }, 'canceled hold invoice belongs to no order');
    return;
  }
  const log = ctx.logger.child({ orderId: o.id, hash, status: o.status });
  if (o.status === 'waiting-payment') {
    log.warn('escrow invoice canceled/expired before the seller paid; the waiting-state timeout will resolve the order');
  } else if (LIVE_ESCROW.includes(o.status)) {
    log.error('escrow HTLC canceled by the Lightning node while the trade is live; the escrow deadline guard must resolve this order');
  } else {
    log.info('escrow invoice canceled');
  }
}

/**
 * At boot (fix of HQ-19, upstream #853/#869): every order with a live escrow (waiting-payment,
 * waiting-buyer-invoice, active, fiat-sent, dispute, settled-hold-invoice) is looked up by hash
 * first — an invoice accepted while we were down is processed now — and watched again unless final.
 * Returns the number of invoices watched.
 */
export async function rewatchOpenEscrows(ctx: AppContext): Promise<number> {
  const orders = await findOpenEscrows(ctx.db);
  let watched = 0;
  for (const o of orders) {
    const hash = o.hash;
    if (hash === null) continue;
    const log = ctx.logger.child({ orderId: o.id, hash, status: o.status });
    let state: InvoiceUpdate['state'] | null = null;
    try {
      const lookup = await ctx.lightning.lookupInvoice(hash);
      if (lookup === null) log.error('escrow invoice unknown to the Lightning node');
      else state = lookup.state;
    } catch (err) {
      log.error({ err }, 'escrow invoice lookup failed; watching anyway');
    }
    if (state === 'accepted' && o.status === 'waiting-payment') await onEscrowAccepted(ctx, hash, null);
    if (state === 'canceled') await onEscrowCanceled(ctx, hash);
    if (state === 'settled' && o.status !== 'settled-hold-invoice') await onEscrowSettled(ctx, hash);
    if (state === 'settled' || state === 'canceled') continue;
    watchEscrow(ctx, o, null);
    watched += 1;
  }
  return watched;
}

/** Statuses in which a SETTLED escrow means a release whose bookkeeping was lost: finished. */
const RELEASE_PENDING: readonly Status[] = ['fiat-sent', 'dispute'];
/** Statuses in which a SETTLED escrow has no release behind it: reported, never auto-finished. */
const NO_RELEASE: readonly Status[] = ['waiting-payment', 'waiting-buyer-invoice', 'active'];

export type SettledEscrowOutcome = 'released' | 'reported' | 'nothing';

/**
 * LND reports the escrow SETTLED (issue 12 defect 5). Normally the order already records the
 * settle decision (settled-hold-invoice or later) and there is nothing to do. Otherwise the money
 * has left the seller and the order does not say so — a settle that timed out and was reverted,
 * or a 0.17.1 row (HQ-6) — see finishSettledEscrow.
 */
export async function onEscrowSettled(ctx: AppContext, hash: string): Promise<SettledEscrowOutcome> {
  const found = await getOrderByHash(ctx.db, hash);
  if (found === undefined) return 'nothing';
  return ctx.locks.run(`order:${found.id}`, async () => {
    const o = await getOrder(ctx.db, found.id);
    if (o === undefined || o.hash !== hash) return 'nothing';
    return finishSettledEscrow(ctx, o);
  });
}

/**
 * The caller holds the lock of `o`, whose escrow LND reports SETTLED.
 *  - fiat-sent / dispute: the seller released (or a solver settled) and the settle's bookkeeping
 *    was lost. The release path is finished: compare-and-set → settled-hold-invoice, an open
 *    dispute closed as settled (38386), `released` to the buyer, `hold-invoice-payment-settled` and
 *    `rate` to the seller (as release does), then the buyer payout starts (startPayout, at most once).
 *    Logged at ERROR with the order id.
 *  - waiting-payment / waiting-buyer-invoice / active: no release, no fiat claimed — paying the
 *    buyer could pay for fiat never sent, refunding is impossible (the HTLC is settled). Not
 *    auto-finished: an ERROR naming the order is logged on every check until an operator acts.
 *  - canceled statuses: the seller was to be refunded but the escrow was settled: same ERROR.
 */
export async function finishSettledEscrow(ctx: AppContext, o: OrderRow): Promise<SettledEscrowOutcome> {
  const log = ctx.logger.child({ orderId: o.id, hash: o.hash, status: o.status, flow: 'settled-escrow' });
  if (RELEASE_PENDING.includes(o.status)) {
    const won = await casUpdateOrder(ctx.db, o.id, { status: o.status, hash: o.hash }, { status: 'settled-hold-invoice' });
    if (!won) return 'nothing';
    log.error(
      `SETTLED ESCROW BEHIND A LIVE ORDER: order ${o.id} was ${o.status} while LND reports its escrow settled; release finished, paying the buyer`,
    );
    const settled: OrderRow = { ...o, status: 'settled-hold-invoice' };
    await closeDispute(ctx, settled, 'settled');
    // As in release: the notices are stored with the durable payout-started mark (flows/notices.ts).
    // A power cut before its sync loses both (the payout reconciliation, seeing a payout that never
    // started, sends them once: simulation finding F8); a crash after the commit leaves them to the
    // durable outbox (F9).
    // A range order the seller released gets its child here (markReleased), as in release.
    await markReleased(ctx, settled, null);
    startPayout(ctx, o.id, null);
    return 'released';
  }
  if (NO_RELEASE.includes(o.status) || CANCELED_STATUSES.includes(o.status)) {
    log.error(
      `SETTLED ESCROW WITHOUT A RELEASE: order ${o.id} is ${o.status} but LND reports its escrow settled; ` +
        'not paid out automatically (no release or admin decision recorded) — an operator must decide',
    );
    return 'reported';
  }
  return 'nothing';
}
