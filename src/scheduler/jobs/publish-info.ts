import type { AppContext } from '../../context.js';
import type { NodeInfo } from '../../lightning/backend.js';
import { buildInfoEvent } from '../../nostr/events.js';
import { MOSTRO_COMMIT_HASH, MOSTRO_VERSION } from '../../version.js';

export interface PublishInfoOptions {
  /** `mostro_version` tag (default: the package version). */
  version?: string;
  /** `mostro_commit_hash` tag (default: the build's commit). */
  commitHash?: string;
}

/**
 * Job (every `publish_mostro_info_interval` s, DAEMON.md §4.7, PROTOCOL.md §8.4): the kind-38385
 * info event, with the `lnd_*` tags from a fresh GetInfo (0.17.1 used a snapshot taken once at
 * startup, Q19). While the Lightning node is down the run is skipped with a log and the next run
 * publishes again (0.17.1 stopped the job for good on a build error, Q25).
 */
export async function publishInfo(ctx: AppContext, opts: PublishInfoOptions = {}): Promise<void> {
  if (ctx.lightning.state !== 'up') {
    ctx.logger.info({ lightning: ctx.lightning.state }, 'info event not published: Lightning node not up');
    return;
  }
  let lnd: NodeInfo;
  try {
    lnd = await ctx.lightning.getInfo();
  } catch (err) {
    const cached = ctx.lightning.info;
    if (cached === null) {
      ctx.logger.warn({ err }, 'info event not published: Lightning node info unavailable');
      return;
    }
    ctx.logger.warn({ err }, 'GetInfo failed; info event published with the cached node info');
    lnd = cached;
  }
  const event = buildInfoEvent({
    settings: ctx.settings,
    nodePubkey: ctx.keys.pubkey,
    lnd,
    mostroVersion: opts.version ?? MOSTRO_VERSION,
    commitHash: opts.commitHash ?? MOSTRO_COMMIT_HASH,
    now: ctx.clock.now(),
  });
  await ctx.outbox.publish(event);
}
