import { openDatabase, type Db } from '../../src/db/database.js';
import { newOrderRow } from '../../src/db/orders.js';
import type { OrderRow } from '../../src/db/types.js';
import { randomUUID } from 'node:crypto';

/** A fresh in-memory SQLite database migrated from migrations/ (close with closeDatabase/destroy). */
export async function testDb(): Promise<Db> {
  return openDatabase(':memory:');
}

/** A complete pending sell order with plausible values; override anything with `partial`. */
export function makeOrder(partial: Partial<OrderRow> = {}): OrderRow {
  return newOrderRow({
    id: randomUUID(),
    kind: 'sell',
    event_id: 'e'.repeat(64),
    status: 'pending',
    premium: 0,
    payment_method: 'cash',
    amount: 10_000,
    fiat_code: 'USD',
    fiat_amount: 10,
    created_at: 1_700_000_000,
    expires_at: 1_700_086_400,
    creator_pubkey: 'a'.repeat(64),
    ...partial,
  });
}
