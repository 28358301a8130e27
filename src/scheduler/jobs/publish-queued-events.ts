import type { AppContext } from '../../context.js';
import {
  claimQueuedEvent,
  deleteQueuedEvent,
  getQueuedEvent,
  listClaimableEvents,
  releaseQueuedEvent,
  type QueuedEvent,
} from '../../db/event-queue.js';

/** A claim older than this (seconds) belongs to a publisher that died; the row is taken again. */
export const QUEUE_CLAIM_STALE_SECONDS = 300;

/**
 * Claim, publish and delete one queued row. Returns true when this call published it. A failure to
 * hand the event to the outbox gives the claim back (the job retries) and is logged.
 */
async function publishRow(ctx: AppContext, row: QueuedEvent): Promise<boolean> {
  const now = ctx.clock.now();
  if (!(await claimQueuedEvent(ctx.db, row.id, row.claimed_at, now))) return false;
  try {
    await ctx.outbox.publish({ kind: row.kind, tags: row.tags, content: row.content, created_at: row.created_at });
  } catch (err) {
    await releaseQueuedEvent(ctx.db, row.id, now);
    ctx.logger.error({ err, queuedEventId: row.id, kind: row.kind }, 'queued event could not be published; kept for retry');
    return false;
  }
  await deleteQueuedEvent(ctx.db, row.id);
  return true;
}

/**
 * Publish one queued event right away (e.g. rate-user just committed its rating). Never throws for
 * a publication problem: the row stays queued and the periodic job publishes it later.
 */
export async function publishQueuedEvent(ctx: AppContext, id: number): Promise<boolean> {
  try {
    const row = await getQueuedEvent(ctx.db, id);
    if (row === undefined || row.claimed_at !== null) return false;
    return await publishRow(ctx, row);
  } catch (err) {
    ctx.logger.error({ err, queuedEventId: id }, 'queued event not published now; the queue job will retry');
    return false;
  }
}

/**
 * Job (every `user_rates_sent_interval_seconds`, DAEMON.md §4.5): publish every queued event that
 * is free (or whose claim went stale), oldest first. Unlike 0.17.1 (Q26) the queue is in the DB, so
 * a restart loses nothing, and rows are deleted one by one after publication, so an event queued
 * during a pass is never cleared unpublished.
 */
export async function publishQueuedEvents(ctx: AppContext): Promise<void> {
  const rows = await listClaimableEvents(ctx.db, ctx.clock.now() - QUEUE_CLAIM_STALE_SECONDS);
  let published = 0;
  for (const row of rows) {
    try {
      if (await publishRow(ctx, row)) published += 1;
    } catch (err) {
      ctx.logger.error({ err, queuedEventId: row.id }, 'queued event publication failed');
    }
  }
  if (rows.length > 0) ctx.logger.info({ published, queued: rows.length }, 'published queued events');
}
