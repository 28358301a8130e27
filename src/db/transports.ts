import type { Kysely } from 'kysely';
import type { DbSchema, Executor } from './schema.js';

/**
 * The transport each trade key speaks (table `mostrod_ts_transport`, migration 20261202000000).
 * One row per key; written only when a key is first seen or switches transport.
 */
export interface TransportTable {
  pubkey: string;
  transport: 'gift-wrap' | 'nip44';
  first_seen_at: number;
  updated_at: number;
}

export type KeyTransport = TransportTable['transport'];

type TransportDb = Kysely<DbSchema & { mostrod_ts_transport: TransportTable }>;

function q(ex: Executor): TransportDb {
  return (ex as Kysely<DbSchema>).withTables<{ mostrod_ts_transport: TransportTable }>();
}

/** Every remembered key with its transport. */
export async function loadKeyTransports(ex: Executor): Promise<Array<{ pubkey: string; transport: KeyTransport }>> {
  return q(ex).selectFrom('mostrod_ts_transport').select(['pubkey', 'transport']).execute();
}

export async function getKeyTransport(ex: Executor, pubkey: string): Promise<KeyTransport | null> {
  const row = await q(ex).selectFrom('mostrod_ts_transport').select('transport').where('pubkey', '=', pubkey).executeTakeFirst();
  return row?.transport ?? null;
}

/**
 * Remember `pubkey` on `transport`. Compare-and-set: inserts a new key, or updates one whose
 * stored transport differs; returns whether a row changed (false = it was already so).
 */
export async function setKeyTransport(ex: Executor, pubkey: string, transport: KeyTransport, now: number): Promise<boolean> {
  const r = await q(ex)
    .insertInto('mostrod_ts_transport')
    .values({ pubkey, transport, first_seen_at: now, updated_at: now })
    .onConflict((oc) =>
      oc
        .column('pubkey')
        .doUpdateSet({ transport, updated_at: now })
        .where('mostrod_ts_transport.transport', '!=', transport),
    )
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
}
