/** Why an LNURL / Lightning-address operation failed. */
export type LnurlErrorCode =
  /** the target is neither `user@domain` nor a bech32 `lnurl1…` URL */
  | 'parse'
  /** refused by the SSRF policy (scheme, private address, redirect) */
  | 'policy'
  /** DNS, connection or TLS failure */
  | 'network'
  | 'timeout'
  /** non-2xx status, oversized or non-JSON body */
  | 'http'
  /** the service answered, but not with a usable LNURL-pay response */
  | 'protocol'
  /** the amount is outside min/maxSendable, or the returned invoice is not for that amount */
  | 'amount'
  /** the returned invoice is not acceptable (undecodable, wrong network, CLTV too large, expired) */
  | 'invoice';

export class LnurlError extends Error {
  constructor(
    public readonly code: LnurlErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LnurlError';
  }
}
