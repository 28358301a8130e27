import { getUser } from '../../db/users.js';
import { CantDoError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';

/**
 * `last-trade-index` (HANDLERS.md §4.17, PROTOCOL.md §5.13, §9.8): the last trade index stored for
 * the sender's identity. Unknown identity → not_found; stored 0 → invalid_trade_index. Reply to the
 * trade key: wrapper `restore`, no id, request_id echoed, trade_index = the stored index, no payload.
 */
export const lastTradeIndex: Handler = async (ctx, msg, inbound) => {
  const user = await getUser(ctx.db, inbound.identity);
  if (user === undefined) throw new CantDoError('not_found', 'unknown identity');
  if (user.last_trade_index === 0) throw new CantDoError('invalid_trade_index', 'no trade index stored yet');
  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({
      wrapper: 'restore',
      action: 'last-trade-index',
      requestId: msg.kind.request_id,
      tradeIndex: BigInt(user.last_trade_index),
    }),
  );
};
