import type { Insertable, Selectable, Updateable } from 'kysely';
import type { DisputeStatus } from '../protocol/types.js';
import { andAll, expectConditions } from './row-codec.js';
import type { DisputesTable, Executor } from './schema.js';
import type { DisputeRow } from './types.js';
import { blobToUuid, tryUuidToBlob, uuidToBlob } from './uuid-blob.js';

export type DisputeExpect = { [K in keyof DisputeRow]?: DisputeRow[K] | readonly DisputeRow[K][] };
export type DisputePatch = Partial<Omit<DisputeRow, 'id'>>;

/** The order already has a dispute (disputes.order_id is UNIQUE). */
export class DuplicateDisputeError extends Error {
  constructor(readonly orderId: string) {
    super(`order ${orderId} already has a dispute`);
    this.name = 'DuplicateDisputeError';
  }
}

const UUID_COLUMNS = new Set(['id', 'order_id']);

function encode(column: string, value: unknown): unknown {
  if (UUID_COLUMNS.has(column) && typeof value === 'string') return tryUuidToBlob(value) ?? Buffer.alloc(0);
  return value;
}

export function disputeFromDb(r: Selectable<DisputesTable>): DisputeRow {
  return {
    id: blobToUuid(r.id),
    order_id: blobToUuid(r.order_id),
    status: r.status as DisputeStatus,
    order_previous_status: r.order_previous_status,
    solver_pubkey: r.solver_pubkey,
    created_at: r.created_at,
    taken_at: r.taken_at ?? 0,
  };
}

function disputeToDb(row: DisputeRow): Insertable<DisputesTable> {
  return { ...row, id: uuidToBlob(row.id), order_id: uuidToBlob(row.order_id) };
}

function patchToDb(patch: DisputePatch): Updateable<DisputesTable> {
  if ('id' in patch) throw new TypeError('a dispute patch cannot change id');
  const { order_id, ...rest } = patch;
  const out: Updateable<DisputesTable> = { ...rest };
  if (order_id !== undefined) out.order_id = uuidToBlob(order_id);
  return out;
}

function isUniqueOrderIdViolation(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as Error & { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && e.message.includes('disputes.order_id');
}

/** Insert a dispute; throws DuplicateDisputeError if the order already has one. */
export async function insertDispute(ex: Executor, row: DisputeRow): Promise<void> {
  try {
    await ex.insertInto('disputes').values(disputeToDb(row)).execute();
  } catch (e) {
    if (isUniqueOrderIdViolation(e)) throw new DuplicateDisputeError(row.order_id);
    throw e;
  }
}

export async function getDispute(ex: Executor, id: string): Promise<DisputeRow | undefined> {
  const blob = tryUuidToBlob(id);
  if (!blob) return undefined;
  const r = await ex.selectFrom('disputes').selectAll().where('id', '=', blob).executeTakeFirst();
  return r && disputeFromDb(r);
}

export async function getDisputeByOrder(ex: Executor, orderId: string): Promise<DisputeRow | undefined> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return undefined;
  const r = await ex.selectFrom('disputes').selectAll().where('order_id', '=', blob).executeTakeFirst();
  return r && disputeFromDb(r);
}

export async function findDisputes(ex: Executor, where: DisputeExpect): Promise<DisputeRow[]> {
  const rows = await ex
    .selectFrom('disputes')
    .selectAll()
    .where(andAll(expectConditions(where, encode)))
    .execute();
  return rows.map(disputeFromDb);
}

/** Compare-and-set on one dispute; true iff exactly one row changed. */
export async function casUpdateDispute(
  ex: Executor,
  id: string,
  expect: DisputeExpect,
  patch: DisputePatch,
): Promise<boolean> {
  const blob = tryUuidToBlob(id);
  if (!blob) return false;
  const cond = andAll(expectConditions(expect, encode));
  const set = patchToDb(patch);
  if (Object.values(set).every((v) => v === undefined)) {
    const r = await ex.selectFrom('disputes').select('id').where('id', '=', blob).where(cond).executeTakeFirst();
    return r !== undefined;
  }
  const res = await ex.updateTable('disputes').set(set).where('id', '=', blob).where(cond).executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** mostrod's `is_assigned_solver`: a dispute on `orderId` has `solverPubkey` as its solver. */
export async function isAssignedSolver(ex: Executor, solverPubkey: string, orderId: string): Promise<boolean> {
  const blob = tryUuidToBlob(orderId);
  if (!blob) return false;
  const r = await ex
    .selectFrom('disputes')
    .select('id')
    .where('solver_pubkey', '=', solverPubkey)
    .where('order_id', '=', blob)
    .executeTakeFirst();
  return r !== undefined;
}
