/**
 * The Lightning backend in domain terms. Everything outside src/lightning/lnd/ uses only this.
 * Hashes and preimages are lowercase hex; sats are `number`; msat are `bigint`.
 */

export type HoldInvoiceState = 'open' | 'accepted' | 'settled' | 'canceled';

export type PaymentState = 'in_flight' | 'succeeded' | 'failed' | 'unknown';

export interface NodeInfo {
  version: string;
  identityPubkey: string;
  commitHash: string;
  alias: string;
  /** e.g. ['bitcoin'] */
  chains: string[];
  /** e.g. ['regtest'] / ['mainnet'] */
  networks: string[];
  uris: string[];
  blockHeight: number;
}

export interface AddHoldInvoiceRequest {
  /** sha256(preimage), hex */
  hash: string;
  amountSats: number;
  memo: string;
  /** final CLTV delta in blocks */
  cltvExpiry: number;
  /** invoice expiry in seconds */
  expirySeconds: number;
}

export interface HoldInvoice {
  hash: string;
  paymentRequest: string;
}

export interface InvoiceLookup {
  hash: string;
  state: HoldInvoiceState;
  amountSats: number;
  /** For accepted invoices: the lowest CLTV expiry height among the accepted HTLCs (0 if unknown). */
  htlcExpiryHeight: number;
}

export interface InvoiceUpdate {
  hash: string;
  state: HoldInvoiceState;
}

export interface SendPaymentRequest {
  paymentRequest: string;
  /** Only for amountless invoices. */
  amountSats?: number;
  feeLimitSats: number;
  timeoutSeconds: number;
  /**
   * How long sendPayment waits for a final state before resolving with the last known one
   * (`in_flight`); the payment itself continues in the node. Default: timeoutSeconds + 15.
   * (Optional member added by the LND backend work, H4.)
   */
  waitSeconds?: number;
}

export interface PaymentResult {
  hash: string;
  state: PaymentState;
  preimage?: string;
  feeSats?: number;
  failureReason?: string;
}

export interface DecodedPaymentRequest {
  hash: string;
  /** 0 for amountless */
  amountMsat: bigint;
  timestamp: number;
  expirySeconds: number;
  minFinalCltvExpiry: number;
  /** 'mainnet' | 'testnet' | 'signet' | 'regtest' | 'simnet' */
  network: string;
  payee: string;
  description?: string;
  /** hex sha256 from the `h` field (LNURL-pay invoices commit to the service's metadata with it) */
  descriptionHash?: string;
}

export type LinkState = 'connecting' | 'up' | 'down';

export interface LightningBackend {
  /** Current link state; `up` once GetInfo succeeded on the current connection. */
  readonly state: LinkState;
  /** Cached node info from the last successful GetInfo (null before the first). */
  readonly info: NodeInfo | null;
  /** Why the link last failed (connect or health check); null if it never failed. Kept after recovery. */
  readonly lastError?: string | null;
  /** Subscribe to link state changes (reconnects included). Returns an unsubscribe function. */
  onStateChange(listener: (state: LinkState) => void): () => void;

  getInfo(): Promise<NodeInfo>;
  addHoldInvoice(req: AddHoldInvoiceRequest): Promise<HoldInvoice>;
  settleHoldInvoice(preimageHex: string): Promise<void>;
  cancelHoldInvoice(hashHex: string): Promise<void>;
  lookupInvoice(hashHex: string): Promise<InvoiceLookup | null>;
  /**
   * Watch an invoice's state. The backend resubscribes when the stream ends while the invoice is
   * not final and after reconnects, and delivers the current state on (re)subscribe.
   * Returns an unsubscribe function.
   */
  watchInvoice(hashHex: string, listener: (update: InvoiceUpdate) => void): () => void;
  /** Send a payment and resolve with its final (or last known, on timeout) state. */
  sendPayment(req: SendPaymentRequest): Promise<PaymentResult>;
  /**
   * Ask the node about a payment by hash. `unknown` if the node never saw it — and, from the
   * daemon's backend (DurableLightning), only if no send of it from this process is under way.
   */
  trackPayment(hashHex: string): Promise<PaymentResult>;
  decodePaymentRequest(paymentRequest: string): Promise<DecodedPaymentRequest>;
  close(): Promise<void>;
}
