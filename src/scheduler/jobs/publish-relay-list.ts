import type { AppContext } from '../../context.js';
import { buildRelayListEvent } from '../../nostr/events.js';

export interface RelayListDeps {
  /** URLs of the relays currently connected. */
  connectedRelays: () => string[];
}

/**
 * Job (every `publish_relays_interval` s, DAEMON.md §4.8, PROTOCOL.md §8.8): the kind-10002 relay
 * list, one `r` tag per currently connected relay. With none connected nothing is published
 * (0.17.1 published an empty list, which replaced the last good one; it could not reach a relay
 * anyway).
 */
export async function publishRelayList(ctx: AppContext, deps: RelayListDeps): Promise<void> {
  const relays = deps.connectedRelays();
  if (relays.length === 0) {
    ctx.logger.debug('no relay connected; relay list not published');
    return;
  }
  ctx.logger.debug({ relays }, 'Sending Mostro relay list');
  await ctx.outbox.publish(buildRelayListEvent(relays, ctx.clock.now()));
}
