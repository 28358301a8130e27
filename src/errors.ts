import type { CantDoReason } from './protocol/types.js';

/** A refusal that goes back to the user as a `cant-do` message with exactly this reason. */
export class CantDoError extends Error {
  constructor(
    public readonly reason: CantDoReason,
    message?: string,
  ) {
    super(message ?? `cant-do: ${reason}`);
    this.name = 'CantDoError';
  }
}

/**
 * A failure that is logged but not answered on the wire (mostrod's "internal error": the user gets
 * silence). Use it for "order not found" style cases the spec keeps silent.
 */
export class SilentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SilentError';
  }
}

/** Lightning backend failure (LND unreachable, RPC error, ...). */
export class LightningError extends Error {
  constructor(
    message: string,
    public readonly code: 'unavailable' | 'rpc' | 'invalid' | 'timeout' = 'rpc',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LightningError';
  }
}

/** Invalid or missing configuration; the message names the section and key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
