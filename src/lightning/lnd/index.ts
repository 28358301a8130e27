/** Entry point of the LND implementation of LightningBackend. */
import type { LightningBackend } from '../backend.js';
import { LndBackend, type LndBackendOptions } from './lnd-backend.js';

export { LndBackend, grpcTarget, type LndBackendOptions } from './lnd-backend.js';

/**
 * Creates the LND backend and starts connecting in the background. It never throws for an
 * unreachable node: `state` is `connecting`, then `up` or `down` (retrying with backoff).
 */
export function createLndBackend(opts: LndBackendOptions): LightningBackend {
  const backend = new LndBackend(opts);
  void backend.start();
  return backend;
}
