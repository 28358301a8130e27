import { RESTORE_EXCLUDED_STATUSES } from './orders.js';
import type { Executor } from './schema.js';

/**
 * Keys that may legitimately message the node now (upstream 0.18's active-trade-pubkey set, plus
 * every solver): buyer, seller and creator trade keys of every order not in a terminal status
 * (disputed orders count as live), solvers of open disputes, and every user flagged as solver.
 */
export async function findActiveKeys(ex: Executor): Promise<Set<string>> {
  const terminal = RESTORE_EXCLUDED_STATUSES.filter((s) => s !== 'dispute');
  const keys = new Set<string>();
  const orders = await ex
    .selectFrom('orders')
    .select(['buyer_pubkey', 'seller_pubkey', 'creator_pubkey'])
    .where('status', 'not in', terminal)
    .execute();
  for (const o of orders) {
    for (const k of [o.buyer_pubkey, o.seller_pubkey, o.creator_pubkey]) if (k !== null && k !== '') keys.add(k);
  }
  const disputes = await ex
    .selectFrom('disputes')
    .select('solver_pubkey')
    .where('status', 'in', ['initiated', 'in-progress'])
    .where('solver_pubkey', 'is not', null)
    .execute();
  for (const d of disputes) if (d.solver_pubkey !== null && d.solver_pubkey !== '') keys.add(d.solver_pubkey);
  const solvers = await ex.selectFrom('users').select('pubkey').where('is_solver', '=', 1).execute();
  for (const u of solvers) keys.add(u.pubkey);
  return keys;
}
