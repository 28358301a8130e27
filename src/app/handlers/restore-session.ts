import { restoreSessionDisputes, restoreSessionOrders } from '../../db/orders.js';
import { CantDoError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { RestoreSessionInfo } from '../../protocol/types.js';
import type { Handler } from '../handler.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * `restore-session` (HANDLERS.md §4.16, PROTOCOL.md §5.12, §9.7): every live order and open
 * dispute of the sender's identity, for a client restoring from its mnemonic.
 *
 * Reply to the trade key on the restore queue: wrapper `restore`, no id, request_id null (as
 * 0.17.1; clients match on the action), payload `restore_data{orders, disputes}`.
 * Fixes (HQ-18): the excluded statuses are spelled with their real hyphens (canceled-by-admin,
 * cooperatively-canceled, settled-by-admin, completed-by-admin are no longer returned); a NULL
 * trade index reads as 0 instead of failing the whole restore; a query failure answers with a null
 * payload (what 0.17.1 sent on its 1-hour timeout) instead of nothing.
 */
export const restoreSession: Handler = async (ctx, _msg, inbound) => {
  if (!HEX64.test(inbound.identity) || !HEX64.test(inbound.tradeKey)) throw new CantDoError('invalid_pubkey');
  let data: RestoreSessionInfo | null;
  try {
    const [orders, disputes] = [
      await restoreSessionOrders(ctx.db, inbound.identity),
      await restoreSessionDisputes(ctx.db, inbound.identity),
    ];
    data = {
      orders: orders.map((o) => ({ order_id: o.order_id, trade_index: BigInt(o.trade_index), status: o.status })),
      disputes: disputes.map((d) => ({
        dispute_id: d.dispute_id,
        order_id: d.order_id,
        trade_index: BigInt(d.trade_index),
        status: d.status,
        initiator: d.initiator,
      })),
    };
  } catch (err) {
    ctx.logger.error({ err }, 'restore-session queries failed; answering without data');
    data = null;
  }
  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({
      wrapper: 'restore',
      action: 'restore-session',
      requestId: null,
      tradeIndex: null,
      payload: data === null ? null : { restore_data: data },
    }),
    { queue: 'restore' },
  );
};
