import type { TradeIndexStore } from '../nostr/intake.js';
import type { Db } from './database.js';
import { getUser, insertUser } from './users.js';

/** The users table as intake's trade-index gate sees it (PROTOCOL.md §1.3). */
export function dbTradeIndexStore(db: Db): TradeIndexStore {
  return {
    async lastTradeIndex(identity) {
      const user = await getUser(db, identity);
      return user === undefined ? null : user.last_trade_index;
    },
    async createUser(identity, lastTradeIndex, now) {
      await insertUser(db, { pubkey: identity, last_trade_index: lastTradeIndex, created_at: now });
    },
  };
}
