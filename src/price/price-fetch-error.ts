/** A price provider could not produce rates (transport failure, HTTP error, timeout, bad body). */
export class PriceFetchError extends Error {
  constructor(
    message: string,
    public readonly code: 'transport' | 'http' | 'timeout' | 'too-large' | 'malformed' | 'empty',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PriceFetchError';
  }
}
