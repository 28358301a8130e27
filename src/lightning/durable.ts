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
import { decodeBolt11 } from './bolt11.js';

/**
 * The Lightning backend with every call that moves or locks money — add, settle and cancel a hold
 * invoice, send a payment — started only once the commits made before it are on disk
 * (db/durability.ts). A payout's claim, a release's status, an escrow's hash are durable before LND
 * acts on them, as with a fsync per commit. Reads (lookups, tracking, decoding, watches) go straight
 * through.
 *
 * A payment this process has asked to send, and whose send has not ended, is `in_flight` whatever
 * LND says: LND answers `unknown` for it while the send still waits for the sync (or for the
 * connection), and callers take `unknown` to mean "never sent, safe to pay anew". Without this, a
 * payout reconciliation (or the dev-fee job) that asked LND during a slow sync cleared the claim
 * and paid again with a freshly resolved invoice while the first send was about to leave: the
 * buyer paid twice (found by the power-cut simulation, docs/SIMULATION.md).
 */
export class DurableLightning implements LightningBackend {
  /** Hashes of the payments being sent from this process (count of sends under way per hash). */
  private readonly sending = new Map<string, number>();

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
    const hash = hashOf(req.paymentRequest);
    if (hash === null) return this.after(() => this.inner.sendPayment(req));
    this.sending.set(hash, (this.sending.get(hash) ?? 0) + 1);
    // Dropped before the caller's continuation runs: once a send ended, LND's answers stand.
    const ended = (): void => {
      const n = (this.sending.get(hash) ?? 1) - 1;
      if (n > 0) this.sending.set(hash, n);
      else this.sending.delete(hash);
    };
    let sent: Promise<PaymentResult>;
    try {
      sent = this.after(() => this.inner.sendPayment(req));
    } catch (err) {
      ended();
      throw err;
    }
    return sent.then(
      (r) => {
        ended();
        return r;
      },
      (err: unknown) => {
        ended();
        throw err;
      },
    );
  }
  async trackPayment(hashHex: string): Promise<PaymentResult> {
    const r = await this.inner.trackPayment(hashHex);
    // Read when LND's answer arrives: a send still under way then may not have reached LND yet.
    if (r.state === 'unknown' && this.sending.has(hashHex.toLowerCase())) return { ...r, state: 'in_flight' };
    return r;
  }
  /** Payment hashes whose send from this process has not ended (tests, diagnosis). */
  sendsUnderWay(): string[] {
    return [...this.sending.keys()];
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

/** The payment hash of a BOLT11 (lowercase hex), or null when it does not decode. */
function hashOf(paymentRequest: string): string | null {
  try {
    return decodeBolt11(paymentRequest.trim()).hash.toLowerCase();
  } catch {
    return null;
  }
}
