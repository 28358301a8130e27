import type { AppContext } from '../../context.js';
import { deleteIdleKeys, findIdleKeys, refreshKeptKeys, type IdleKey } from '../../db/transports.js';

/** Keys examined per batch (one index range, then one DELETE re-checking each of them). */
export const PRUNE_BATCH = 200;

export interface PruneSummary {
  /** Keys idle past the retention that were looked at. */
  examined: number;
  /** Rows deleted. */
  pruned: number;
  /** Of those, keys dropped from the in-memory registry. */
  forgotten: number;
  /** Idle keys kept (live order, open dispute, solver…), looked at again after another retention. */
  kept: number;
}

/**
 * Job (hourly, port): bounded memory and table for the per-key transport registry (protocol v2).
 * Deletes the `mostrod_ts_transport` rows of trade keys the node will not message any more — last
 * active (a request from the key or a message to it) more than `[mostro] transport_retention_days`
 * ago, on no order in a non-terminal status (as buyer, seller or a range order's next trade key),
 * not the solver of an open dispute, not a solver or admin, not the node's own key — and drops
 * them from the registry's memory. A pruned key that speaks again is recorded again before its
 * reply; until then it gets the node's default transport, as a key never seen.
 *
 * Compare-and-set: candidates are read in batches of PRUNE_BATCH, oldest first, and the DELETE
 * re-checks every condition, so a key that spoke meanwhile (its `last_seen_at` is written on the
 * first activity of a day, and a deleted key is ≥ 1 day idle) or got an order meanwhile stays. A
 * key whose activity reached memory but not yet its row may lose its row: memory keeps it (its day
 * is newer than the deleted row's) and the pending write re-inserts it. The keys a batch keeps get
 * `last_seen_at` = now (refreshKeptKeys), so each pass costs what went idle since the previous
 * one. Idempotent: a second pass finds nothing more to do. Between batches the event loop is let go.
 */
export async function pruneTransports(ctx: AppContext): Promise<PruneSummary> {
  const now = ctx.clock.now();
  const cutoff = now - ctx.settings.mostro.transport_retention_days * 86_400;
  const summary: PruneSummary = { examined: 0, pruned: 0, forgotten: 0, kept: 0 };
  let after: IdleKey | null = null;
  for (;;) {
    const batch = await findIdleKeys(ctx.db, cutoff, after, PRUNE_BATCH);
    if (batch.length === 0) break;
    summary.examined += batch.length;
    const rowids = batch.map((k) => k.rowid);
    // One commit per batch: the delete and the refresh of the keys it kept.
    const { deleted, kept } = await ctx.db.transaction().execute(async (trx) => {
      const gone = await deleteIdleKeys(trx, rowids, cutoff, [ctx.keys.pubkey]);
      return { deleted: gone, kept: await refreshKeptKeys(trx, rowids, cutoff, now) };
    });
    summary.pruned += deleted.length;
    summary.kept += kept;
    summary.forgotten += ctx.transports?.forget(deleted) ?? 0;
    if (batch.length < PRUNE_BATCH) break;
    after = batch[batch.length - 1] ?? null;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (summary.examined > 0) {
    ctx.logger.info({ ...summary, retentionDays: ctx.settings.mostro.transport_retention_days }, 'idle trade-key transports pruned');
  }
  return summary;
}
