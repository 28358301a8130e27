/**
 * In-memory LightningBackend for handler/flow tests: hold invoices with a real state machine,
 * watchers fired synchronously by test hooks (`pay`, `cancelByNode`), settle/cancel/payment logs,
 * configurable payment outcomes (succeed, fail, stay in flight, hang until released, throw), and an
 * up/down link switch. Payment requests are opaque strings here; register decodable ones with
 * `registerPaymentRequest` when a test needs `decodePaymentRequest`.
 */
import { createHash } from 'node:crypto';
import { LightningError } from '../../src/errors.js';
import type {
  AddHoldInvoiceRequest,
  DecodedPaymentRequest,
  HoldInvoice,
  HoldInvoiceState,
  InvoiceLookup,
  InvoiceUpdate,
  LightningBackend,
  LinkState,
  NodeInfo,
  PaymentResult,
  SendPaymentRequest,
} from '../../src/lightning/backend.js';

export interface FakeHoldInvoice extends AddHoldInvoiceRequest {
  paymentRequest: string;
  state: HoldInvoiceState;
  htlcExpiryHeight: number;
}

/** What the next sendPayment does. `hang` waits for `releasePayment(hash, result)`. */
export type PaymentPlan =
  | { state: 'succeeded'; feeSats?: number }
  | { state: 'failed'; reason?: string }
  | { state: 'in_flight' }
  | { state: 'hang' }
  | { state: 'throw'; error?: Error };

export interface FakePayment {
  request: SendPaymentRequest;
  hash: string;
  result: PaymentResult | null;
}

type Method =
  | 'getInfo'
  | 'addHoldInvoice'
  | 'settleHoldInvoice'
  | 'cancelHoldInvoice'
  | 'lookupInvoice'
  | 'sendPayment'
  | 'trackPayment'
  | 'decodePaymentRequest';

function sha256hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export class FakeLightning implements LightningBackend {
  private _state: LinkState = 'up';
  info: NodeInfo | null;
  readonly invoices = new Map<string, FakeHoldInvoice>();
  /** Every call, in order. */
  readonly calls: { method: Method; arg: unknown }[] = [];
  /** Hashes settled (one entry per successful SettleInvoice). */
  readonly settles: string[] = [];
  /** Hashes canceled by us (one entry per successful CancelInvoice). */
  readonly cancels: string[] = [];
  /** Every sendPayment that reached the node. */
  readonly payments: FakePayment[] = [];
  /** Plans consumed by sendPayment in order; when empty, `defaultPlan` is used. */
  readonly paymentPlans: PaymentPlan[] = [];
  defaultPlan: PaymentPlan = { state: 'succeeded', feeSats: 0 };
  private readonly paymentResults = new Map<string, PaymentResult>();
  private readonly hanging = new Map<string, (r: PaymentResult) => void>();
  private readonly decodable = new Map<string, DecodedPaymentRequest>();
  private readonly watchers = new Map<string, Set<(u: InvoiceUpdate) => void>>();
  private readonly stateListeners = new Set<(s: LinkState) => void>();
  private readonly failures = new Map<Method, Error[]>();
  private readonly hangs = new Map<Method, number>();

  constructor(opts: { network?: string; blockHeight?: number } = {}) {
    this.info = {
      version: '0.18.0-beta fake',
      identityPubkey: '02'.padEnd(66, '1'),
      commitHash: 'fake',
      alias: 'fake-lnd',
      chains: ['bitcoin'],
      networks: [opts.network ?? 'regtest'],
      uris: [],
      blockHeight: opts.blockHeight ?? 1000,
    };
  }

  get state(): LinkState {
    return this._state;
  }

  /** Switch the link state (notifies onStateChange listeners). */
  setState(s: LinkState): void {
    if (s === this._state) return;
    this._state = s;
    for (const l of this.stateListeners) l(s);
  }

  onStateChange(listener: (state: LinkState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Make the next call of `method` throw `error` (queued, one per call). */
  failNext(method: Method, error: Error = new LightningError(`${method} failed (injected)`, 'rpc')): void {
    const q = this.failures.get(method) ?? [];
    q.push(error);
    this.failures.set(method, q);
  }

  /**
   * Make the next call of `method` (settleHoldInvoice / cancelHoldInvoice) never answer and change
   * nothing at the node: models a process that crashes or is shut down while waiting for LND.
   */
  hangNext(method: 'settleHoldInvoice' | 'cancelHoldInvoice'): void {
    this.hangs.set(method, (this.hangs.get(method) ?? 0) + 1);
  }

  private takeHang(method: Method): boolean {
    const n = this.hangs.get(method) ?? 0;
    if (n === 0) return false;
    this.hangs.set(method, n - 1);
    return true;
  }

  private enter(method: Method, arg: unknown): void {
    this.calls.push({ method, arg });
    if (this._state !== 'up') throw new LightningError('lightning node unavailable', 'unavailable');
    const injected = this.failures.get(method)?.shift();
    if (injected !== undefined) throw injected;
  }

  callsOf(method: Method): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.arg);
  }

  getInfo(): Promise<NodeInfo> {
    this.enter('getInfo', null);
    if (this.info === null) throw new LightningError('no info');
    return Promise.resolve(this.info);
  }

  addHoldInvoice(req: AddHoldInvoiceRequest): Promise<HoldInvoice> {
    try {
      this.enter('addHoldInvoice', req);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.invoices.has(req.hash)) {
      return Promise.reject(new LightningError('invoice with payment hash already exists', 'rpc'));
    }
    const paymentRequest = `lnbcrtfakehold${req.amountSats}x${req.hash}`;
    this.invoices.set(req.hash, { ...req, paymentRequest, state: 'open', htlcExpiryHeight: 0 });
    return Promise.resolve({ hash: req.hash, paymentRequest });
  }

  settleHoldInvoice(preimageHex: string): Promise<void> {
    try {
      this.enter('settleHoldInvoice', preimageHex);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.takeHang('settleHoldInvoice')) return new Promise<void>(() => undefined);
    if (!/^[0-9a-f]{64}$/.test(preimageHex)) return Promise.reject(new LightningError('invalid preimage', 'invalid'));
    const hash = sha256hex(Buffer.from(preimageHex, 'hex'));
    const inv = this.invoices.get(hash);
    if (inv === undefined) return Promise.reject(new LightningError('unable to locate invoice', 'rpc'));
    if (inv.state === 'settled') return Promise.resolve();
    if (inv.state !== 'accepted') {
      return Promise.reject(new LightningError(`invoice still ${inv.state}; cannot settle`, 'rpc'));
    }
    inv.state = 'settled';
    this.settles.push(hash);
    this.emit(hash, 'settled');
    return Promise.resolve();
  }

  cancelHoldInvoice(hashHex: string): Promise<void> {
    try {
      this.enter('cancelHoldInvoice', hashHex);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.takeHang('cancelHoldInvoice')) return new Promise<void>(() => undefined);
    const inv = this.invoices.get(hashHex);
    if (inv === undefined) return Promise.reject(new LightningError('unable to locate invoice', 'rpc'));
    if (inv.state === 'settled') return Promise.reject(new LightningError('invoice already settled', 'rpc'));
    if (inv.state === 'canceled') return Promise.resolve();
    inv.state = 'canceled';
    this.cancels.push(hashHex);
    this.emit(hashHex, 'canceled');
    return Promise.resolve();
  }

  lookupInvoice(hashHex: string): Promise<InvoiceLookup | null> {
    try {
      this.enter('lookupInvoice', hashHex);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const inv = this.invoices.get(hashHex);
    if (inv === undefined) return Promise.resolve(null);
    return Promise.resolve({
      hash: hashHex,
      state: inv.state,
      amountSats: inv.amountSats,
      htlcExpiryHeight: inv.htlcExpiryHeight,
    });
  }

  /** Delivers the current state synchronously on subscribe (as the real backend does on (re)subscribe). */
  watchInvoice(hashHex: string, listener: (update: InvoiceUpdate) => void): () => void {
    const set = this.watchers.get(hashHex) ?? new Set();
    set.add(listener);
    this.watchers.set(hashHex, set);
    const inv = this.invoices.get(hashHex);
    if (inv !== undefined) listener({ hash: hashHex, state: inv.state });
    return () => {
      set.delete(listener);
    };
  }

  /** Number of live watchers of a hash. */
  watcherCount(hashHex: string): number {
    return this.watchers.get(hashHex)?.size ?? 0;
  }

  private emit(hash: string, state: HoldInvoiceState): void {
    for (const l of [...(this.watchers.get(hash) ?? [])]) l({ hash, state });
  }

  // ---- test hooks for hold invoices ----------------------------------------------------------

  /** The seller pays the hold invoice: OPEN → ACCEPTED, watchers fired. */
  pay(hashHex: string): void {
    const inv = this.invoices.get(hashHex);
    if (inv === undefined) throw new Error(`FakeLightning.pay: unknown invoice ${hashHex}`);
    if (inv.state !== 'open') throw new Error(`FakeLightning.pay: invoice is ${inv.state}`);
    inv.state = 'accepted';
    inv.htlcExpiryHeight = (this.info?.blockHeight ?? 0) + inv.cltvExpiry;
    this.emit(hashHex, 'accepted');
  }

  /** LND cancels the invoice on its own (expiry, CLTV deadline): watchers fired, not logged in `cancels`. */
  cancelByNode(hashHex: string): void {
    const inv = this.invoices.get(hashHex);
    if (inv === undefined) throw new Error(`FakeLightning.cancelByNode: unknown invoice ${hashHex}`);
    inv.state = 'canceled';
    this.emit(hashHex, 'canceled');
  }

  /** The single invoice created so far (throws unless exactly one exists). */
  onlyInvoice(): FakeHoldInvoice {
    const all = [...this.invoices.values()];
    if (all.length !== 1) throw new Error(`expected exactly one hold invoice, have ${all.length}`);
    return all[0]!;
  }

  // ---- payments --------------------------------------------------------------------------------

  /** Make `paymentRequest` decodable (hash, amount, expiry…); unregistered ones fail to decode. */
  registerPaymentRequest(paymentRequest: string, decoded: Partial<DecodedPaymentRequest> = {}): DecodedPaymentRequest {
    const full: DecodedPaymentRequest = {
      hash: decoded.hash ?? sha256hex(paymentRequest),
      amountMsat: decoded.amountMsat ?? 0n,
      timestamp: decoded.timestamp ?? 0,
      expirySeconds: decoded.expirySeconds ?? 3600,
      minFinalCltvExpiry: decoded.minFinalCltvExpiry ?? 18,
      network: decoded.network ?? this.info?.networks[0] ?? 'regtest',
      payee: decoded.payee ?? '03'.padEnd(66, '2'),
      ...(decoded.description !== undefined ? { description: decoded.description } : {}),
    };
    this.decodable.set(paymentRequest, full);
    return full;
  }

  decodePaymentRequest(paymentRequest: string): Promise<DecodedPaymentRequest> {
    try {
      this.enter('decodePaymentRequest', paymentRequest);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const d = this.decodable.get(paymentRequest);
    if (d === undefined) return Promise.reject(new LightningError('invalid payment request', 'invalid'));
    return Promise.resolve(d);
  }

  /** Payment hash used for a payment request: the registered one, else sha256 of the string. */
  hashOf(paymentRequest: string): string {
    return this.decodable.get(paymentRequest)?.hash ?? sha256hex(paymentRequest);
  }

  async sendPayment(req: SendPaymentRequest): Promise<PaymentResult> {
    this.enter('sendPayment', req);
    const hash = this.hashOf(req.paymentRequest);
    const previous = this.paymentResults.get(hash);
    if (previous !== undefined && (previous.state === 'succeeded' || previous.state === 'in_flight')) {
      // LND refuses to pay a hash twice (AlreadyExists / "invoice is already paid").
      throw new LightningError(
        previous.state === 'succeeded' ? 'invoice is already paid' : 'payment is in transition',
        'rpc',
      );
    }
    const plan = this.paymentPlans.shift() ?? this.defaultPlan;
    const record: FakePayment = { request: req, hash, result: null };
    this.payments.push(record);
    const finish = (r: PaymentResult): PaymentResult => {
      record.result = r;
      this.paymentResults.set(hash, r);
      return r;
    };
    switch (plan.state) {
      case 'succeeded':
        return finish({ hash, state: 'succeeded', preimage: '00'.repeat(32), feeSats: plan.feeSats ?? 0 });
      case 'failed':
        return finish({ hash, state: 'failed', failureReason: plan.reason ?? 'FAILURE_REASON_NO_ROUTE' });
      case 'in_flight':
        return finish({ hash, state: 'in_flight' });
      case 'throw':
        throw plan.error ?? new LightningError('sendPayment failed (injected)', 'rpc');
      case 'hang': {
        this.paymentResults.set(hash, { hash, state: 'in_flight' });
        const r = await new Promise<PaymentResult>((resolve) => this.hanging.set(hash, resolve));
        return finish(r);
      }
    }
  }

  /** Finish a payment that is hanging (plan 'hang') or in flight, with the given final state. */
  releasePayment(hash: string, state: 'succeeded' | 'failed' = 'succeeded'): void {
    const result: PaymentResult =
      state === 'succeeded'
        ? { hash, state, preimage: '00'.repeat(32), feeSats: 0 }
        : { hash, state, failureReason: 'FAILURE_REASON_NO_ROUTE' };
    const resolve = this.hanging.get(hash);
    this.hanging.delete(hash);
    this.paymentResults.set(hash, result);
    const rec = [...this.payments].reverse().find((p) => p.hash === hash);
    if (rec !== undefined) rec.result = result;
    if (resolve !== undefined) resolve(result);
  }

  /** Set what trackPayment reports for a hash (e.g. a payment LND finished while we were down). */
  setPaymentResult(hash: string, result: PaymentResult): void {
    this.paymentResults.set(hash, result);
  }

  trackPayment(hashHex: string): Promise<PaymentResult> {
    try {
      this.enter('trackPayment', hashHex);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return Promise.resolve(this.paymentResults.get(hashHex) ?? { hash: hashHex, state: 'unknown' });
  }

  close(): Promise<void> {
    for (const [hash, resolve] of this.hanging) resolve({ hash, state: 'in_flight' });
    this.hanging.clear();
    return Promise.resolve();
  }
}
