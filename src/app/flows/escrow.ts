import type { AppContext } from '../../context.js';
import { bytesToHex, hexToBytes, sha256 } from '../../crypto/secp.js';
import type { OrderRow } from '../../db/types.js';
import { CantDoError, LightningError } from '../../errors.js';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Settle the seller's escrow (hold invoice) of `o` with its stored preimage.
 *
 * Callers must have CLAIMED the transition first (compare-and-set to settled-hold-invoice) so a
 * settle never happens without a recorded release / admin decision, and a racing cancel cannot
 * also act. This function only talks to LND:
 *  - no preimage → CantDoError('invalid_invoice') (HANDLERS.md §4.6 step 5);
 *  - a malformed preimage, or one that does not hash to the stored hash, is refused with
 *    CantDoError('invalid_invoice') instead of crashing the process (0.17.1 panicked, Q27/#821);
 *  - settling an invoice LND already settled is a success (idempotent): if SettleInvoice fails,
 *    the invoice is looked up and an already-settled invoice counts as settled;
 *  - any other failure propagates (the caller reverts its claim).
 */
export async function settleEscrow(ctx: AppContext, o: Pick<OrderRow, 'id' | 'hash' | 'preimage'>): Promise<void> {
  const preimage = o.preimage;
  if (preimage === null) throw new CantDoError('invalid_invoice', `order ${o.id} has no preimage`);
  const p = preimage.toLowerCase();
  if (!HEX64.test(p)) throw new CantDoError('invalid_invoice', `order ${o.id} has a malformed preimage`);
  const hash = bytesToHex(sha256(hexToBytes(p)));
  if (o.hash !== null && o.hash.toLowerCase() !== hash) {
    throw new CantDoError('invalid_invoice', `order ${o.id}: preimage does not match the stored hash`);
  }
  try {
    await ctx.lightning.settleHoldInvoice(p);
  } catch (err) {
    if ((await escrowState(ctx, hash)) === 'settled') {
      ctx.logger.warn({ err, orderId: o.id, hash }, 'settle reported an error but the hold invoice is settled');
      return;
    }
    throw err;
  }
  ctx.logger.info({ orderId: o.id, hash }, 'escrow settled');
}

/**
 * Cancel the seller's escrow of `o` (refund). No hash → nothing to do.
 *
 * Tolerates an invoice LND already canceled or never knew (upstream #941): when CancelInvoice
 * fails, the invoice is looked up; `canceled` or unknown counts as done. An invoice that is already
 * SETTLED cannot be refunded: that is a LightningError (the caller must not report a refund). A
 * malformed stored hash is a LightningError('invalid'), never a crash (Q27).
 */
export async function cancelEscrow(ctx: AppContext, o: Pick<OrderRow, 'id' | 'hash'>): Promise<void> {
  if (o.hash === null) return;
  const hash = o.hash.toLowerCase();
  if (!HEX64.test(hash)) throw new LightningError(`order ${o.id} has a malformed hold invoice hash`, 'invalid');
  try {
    await ctx.lightning.cancelHoldInvoice(hash);
  } catch (err) {
    let state: EscrowState;
    try {
      state = await escrowStateOrThrow(ctx, hash);
    } catch (lookupErr) {
      ctx.logger.error({ err: lookupErr, orderId: o.id, hash }, 'hold invoice lookup after a failed cancel failed');
      throw err;
    }
    if (state === 'canceled' || state === 'unknown') {
      ctx.logger.info({ orderId: o.id, hash, state }, 'hold invoice already canceled or unknown to LND');
      return;
    }
    if (state === 'settled') {
      throw new LightningError(`order ${o.id}: hold invoice already settled, cannot cancel`, 'rpc', { cause: err });
    }
    throw err;
  }
  ctx.logger.info({ orderId: o.id, hash }, 'escrow canceled');
}

type EscrowState = 'open' | 'accepted' | 'settled' | 'canceled' | 'unknown';

async function escrowStateOrThrow(ctx: AppContext, hash: string): Promise<EscrowState> {
  const lookup = await ctx.lightning.lookupInvoice(hash);
  return lookup === null ? 'unknown' : lookup.state;
}

/** Like escrowStateOrThrow, but a failed lookup is logged and reported as null. */
async function escrowState(ctx: AppContext, hash: string): Promise<EscrowState | null> {
  try {
    return await escrowStateOrThrow(ctx, hash);
  } catch (err) {
    ctx.logger.error({ err, hash }, 'hold invoice lookup failed');
    return null;
  }
}
