import type { TradeIndexStore } from '../nostr/intake.js';
import type { Db } from './database.js';
import { getLastTradeIndex, insertUser } from './users.js';

/** The users table as intake's trade-index gate sees it (PROTOCOL.md §1.3). */
export function dbTradeIndexStore(db: Db): TradeIndexStore {
  return {
    async lastTradeIndex(identity) {
      // Only the column the gate needs (every request with a trade index reads it).
      return (await getLastTradeIndex(db, identity)) ?? null;
    },
    async createUser(identity, lastTradeIndex, now) {
      await insertUser(db, { pubkey: identity, last_trade_index: lastTradeIndex, created_at: now });
    },
  };
}
