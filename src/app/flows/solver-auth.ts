import type { AppContext } from '../../context.js';
import { isSolver } from '../../db/users.js';
import { getDisputeByOrder } from '../../db/disputes.js';
import type { DisputeRow } from '../../db/types.js';
import { CantDoError } from '../../errors.js';

/**
 * Who may act on which dispute — the ONE place these rules live (HANDLERS.md §2.5, §4.9–§4.11).
 *
 *  - The admin is whoever speaks with the node's own key (a Nostr request sealed with the node key,
 *    or the admin gRPC, which acts as that key). The admin needs no `users` row.
 *  - A solver is a `users` row with `is_solver = 1` (added with admin-add-solver).
 *  - Taking a dispute: the admin may take one that is `initiated` or `in-progress` (taking over a
 *    solver's dispute); a solver only one that is `initiated`.
 *  - Settling / canceling: only the dispute's assigned solver (`disputes.solver_pubkey`), which is
 *    the admin only after the admin took the dispute.
 *
 * Authentication is always by the identity (seal) key, never by the trade key.
 */

export function isAdminKey(ctx: AppContext, identity: string): boolean {
  return identity === ctx.keys.pubkey;
}

export type TakeAuthority = 'admin' | 'solver';

/**
 * May `identity` take dispute `d`? Returns the capacity it acts in, or throws
 * CantDoError('invalid_pubkey') (mostrod's reason for every refusal here).
 */
export async function authorizeTake(ctx: AppContext, identity: string, d: DisputeRow): Promise<TakeAuthority> {
  if (isAdminKey(ctx, identity) && (d.status === 'initiated' || d.status === 'in-progress')) return 'admin';
  if (d.status === 'initiated' && (await isSolver(ctx.db, identity))) return 'solver';
  throw new CantDoError('invalid_pubkey', `${identity} may not take dispute ${d.id} (status ${d.status})`);
}

/**
 * The dispute of `orderId` if `identity` is its assigned solver; otherwise throws
 * `dispute_taken_by_admin` (an in-progress dispute the admin took over) or `is_not_your_dispute`.
 */
export async function requireAssignedSolver(ctx: AppContext, identity: string, orderId: string): Promise<DisputeRow> {
  const d = await getDisputeByOrder(ctx.db, orderId);
  if (d !== undefined && d.solver_pubkey === identity) return d;
  if (d !== undefined && d.status === 'in-progress' && d.solver_pubkey === ctx.keys.pubkey) {
    throw new CantDoError('dispute_taken_by_admin', `dispute of order ${orderId} was taken over by the admin`);
  }
  throw new CantDoError('is_not_your_dispute', `${identity} is not the solver of order ${orderId}'s dispute`);
}
