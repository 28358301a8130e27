import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';

/**
 * Takes their taker abandoned (table `mostrod_ts_abandoned_takes`, migration 20261212000000): the
 * taker's identity, the order, the time. Read by the take handlers while `[mostro]
 * max_abandoned_takes` is on (app/flows/abandoned-takes.ts).
 */
interface AbandonedTakesTable {
  identity: string;
  order_id: string;
  at: number;
}

type AbandonedTakesDb = Kysely<DbSchema & { mostrod_ts_abandoned_takes: AbandonedTakesTable }>;

function q(ex: Executor): AbandonedTakesDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_abandoned_takes: AbandonedTakesTable }>();
}

export async function insertAbandonedTake(ex: Executor, row: AbandonedTakesTable): Promise<void> {
  await q(ex).insertInto('mostrod_ts_abandoned_takes').values(row).execute();
}

/** How many takes `identity` abandoned at or after `since` (an index range). */
export async function countAbandonedTakes(ex: Executor, identity: string, since: number): Promise<number> {
  const r = await q(ex)
    .selectFrom('mostrod_ts_abandoned_takes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('identity', '=', identity)
    .where('at', '>=', since)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Delete the rows recorded before `before`. Returns how many. */
export async function pruneAbandonedTakes(ex: Executor, before: number): Promise<number> {
  const r = await q(ex).deleteFrom('mostrod_ts_abandoned_takes').where('at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
