import type { AppContext } from '../../context.js';
import { CantDoError } from '../../errors.js';

/**
 * Refuse Lightning work while the LND link is not up. Handlers call this BEFORE touching any state,
 * so a refused request leaves the order exactly as it was.
 *
 * Deliberate deviation from 0.17.1 (which failed silently or panicked mid-handler when LND was
 * unreachable): the user gets `cant-do not_allowed_by_status`.
 */
export function requireLightning(ctx: AppContext): void {
  if (ctx.lightning.state !== 'up') {
    throw new CantDoError('not_allowed_by_status', 'lightning node unavailable');
  }
}
