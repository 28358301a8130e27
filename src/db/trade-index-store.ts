import type { TradeIndexStore } from '../nostr/intake.js';
import type { Db } from './database.js';
import { insertUser } from './users.js';

/** The users table as intake's trade-index gate sees it (PROTOCOL.md §1.3). */
export function dbTradeIndexStore(db: Db): TradeIndexStore {
  return {
    async lastTradeIndex(identity) {
      // Only the column the gate needs (every request with a trade index reads it).
      const row = await db.selectFrom('users').select('last_trade_index').where('pubkey', '=', identity).limit(1).executeTakeFirst();
      return row === undefined ? null : row.last_trade_index;
    },
    async createUser(identity, lastTradeIndex, now) {
      await insertUser(db, { pubkey: identity, last_trade_index: lastTradeIndex, created_at: now });
    },
  };
}
