import type { DurableFn } from '../db/durability.js';
import type {
  AddHoldInvoiceRequest,
  DecodedPaymentRequest,
  HoldInvoice,
  InvoiceLookup,
  InvoiceUpdate,
  LightningBackend,
  LinkState,
  NodeInfo,
  PaymentResult,
  SendPaymentRequest,
} from './backend.js';

/**
 * The Lightning backend with every call that moves or locks money — add, settle and cancel a hold
 * invoice, send a payment — started only once the commits made before it are on disk
 * (db/durability.ts). A payout's claim, a release's status, an escrow's hash are durable before LND
 * acts on them, as with a fsync per commit. Reads (lookups, tracking, decoding, watches) go straight
 * through.
 */
export class DurableLightning implements LightningBackend {
  constructor(
    private readonly inner: LightningBackend,
    private readonly durable: DurableFn,
  ) {}

  get state(): LinkState {
    return this.inner.state;
  }
  get info(): NodeInfo | null {
    return this.inner.info;
  }
  get lastError(): string | null | undefined {
    return this.inner.lastError;
  }
  onStateChange(listener: (state: LinkState) => void): () => void {
    return this.inner.onStateChange(listener);
  }
  getInfo(): Promise<NodeInfo> {
    return this.inner.getInfo();
  }
  addHoldInvoice(req: AddHoldInvoiceRequest): Promise<HoldInvoice> {
    return this.after(() => this.inner.addHoldInvoice(req));
  }
  settleHoldInvoice(preimageHex: string): Promise<void> {
    return this.after(() => this.inner.settleHoldInvoice(preimageHex));
  }
  cancelHoldInvoice(hashHex: string): Promise<void> {
    return this.after(() => this.inner.cancelHoldInvoice(hashHex));
  }
  lookupInvoice(hashHex: string): Promise<InvoiceLookup | null> {
    return this.inner.lookupInvoice(hashHex);
  }
  watchInvoice(hashHex: string, listener: (update: InvoiceUpdate) => void): () => void {
    return this.inner.watchInvoice(hashHex, listener);
  }
  sendPayment(req: SendPaymentRequest): Promise<PaymentResult> {
    return this.after(() => this.inner.sendPayment(req));
  }
  trackPayment(hashHex: string): Promise<PaymentResult> {
    return this.inner.trackPayment(hashHex);
  }
  decodePaymentRequest(paymentRequest: string): Promise<DecodedPaymentRequest> {
    return this.inner.decodePaymentRequest(paymentRequest);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private after<T>(call: () => Promise<T>): Promise<T> {
    const wait = this.durable();
    return wait === null ? call() : wait.then(call);
  }
}
