import type { AppContext } from '../../context.js';
import { buildMetadataEvent, normalizeUrl } from '../../nostr/events.js';

/**
 * Once at startup (DAEMON.md §8.7, PROTOCOL.md §8.8): the kind-0 profile from `[mostro]` name,
 * about, picture, website — only when at least one usable field is set. A website/picture that is
 * not a URL is left out with a warning. Resolves true when an event was published.
 */
export async function publishMetadata(ctx: AppContext): Promise<boolean> {
  const m = ctx.settings.mostro;
  for (const key of ['website', 'picture'] as const) {
    const v = m[key];
    if (v !== undefined && normalizeUrl(v) === null) ctx.logger.warn({ [key]: v }, `[mostro] ${key} is not a valid URL; left out of kind 0`);
  }
  const event = buildMetadataEvent(m, ctx.clock.now());
  if (event === null) return false;
  await ctx.outbox.publish(event);
  ctx.logger.info('Published NIP-01 kind 0 metadata event');
  return true;
}
