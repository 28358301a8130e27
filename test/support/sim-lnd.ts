/**
 * Deterministic simulated LND for the money-safety simulation (test/sim/). Two parts:
 *
 *  - SimLndNode: the node's real state, which survives daemon restarts — hold invoices
 *    OPEN → ACCEPTED → SETTLED | CANCELED (never both), payments per hash (in_flight / succeeded /
 *    failed), a block height with HTLC expiry, LND's own cancels (unpaid invoice expiry, accepted
 *    HTLC within `holdExpiryDelta` blocks of its CLTV expiry), and a ledger of every real effect.
 *  - SimLndClient: one daemon process's LightningBackend. Every call and every invoice-stream
 *    update is a PendingOp; nothing happens until the simulation completes it. Completing an op
 *    with outcome `ok` applies its effect and answers; `fail` answers with an error and applies
 *    nothing; `lost` applies the effect and answers with a timeout error (the answer was lost); `late`
 *    applies the effect now and queues its answer as a new op delivered later (a stale answer). A
 *    stream update can be delivered (`ok`), dropped and replaced by a re-subscribe delivery of the
 *    current state (`fail`) or delivered twice (`lost`). When the process crashes, each of its
 *    pending calls is either applied (the node got it) or not, and nobody hears the answer.
 *
 * Payment requests are real signed BOLT11 strings (decoded with the project's decoder, memoized).
 */
import { LightningError } from '../../src/errors.js';
import { sha256, bytesToHex, hexToBytes } from '../../src/crypto/secp.js';
import { decodeBolt11 } from '../../src/lightning/bolt11.js';
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
import type { Clock } from '../../src/clock.js';

export type OpOutcome = 'ok' | 'fail' | 'lost' | 'late';
/** What a sendPayment that reaches the node ends with (chosen by the schedule). */
export type PayOutcome = 'succeed' | 'fail' | 'inflight';

export interface SimInvoice {
  hash: string;
  amountSats: number;
  memo: string;
  cltvExpiry: number;
  createdAt: number;
  expirySeconds: number;
  paymentRequest: string;
  state: HoldInvoiceState;
  htlcExpiryHeight: number;
}

export interface SimPayment {
  hash: string;
  paymentRequest: string;
  amountSats: number;
  state: 'in_flight' | 'succeeded' | 'failed';
}

export interface LedgerEntry {
  step: number;
  kind: 'settle' | 'cancel' | 'node-cancel' | 'accept' | 'payment-succeeded' | 'payment-failed' | 'payment-sent';
  hash: string;
  amountSats?: number;
  paymentRequest?: string;
}

interface Subscription {
  client: SimLndClient;
  hash: string;
  listener: (u: InvoiceUpdate) => void;
  active: boolean;
}

export interface PendingOp {
  id: number;
  client: SimLndClient;
  /** `call`: an RPC; `update`: an invoice-stream delivery. */
  type: 'call' | 'update';
  label: string;
  /** Calls: apply the effect at the node and return the answer (may throw an LND error). */
  apply?: (pay: PayOutcome) => unknown;
  resolve?: (v: unknown) => void;
  reject?: (e: unknown) => void;
  /** Updates. */
  sub?: Subscription;
  update?: InvoiceUpdate;
}

/** LND's default `invoices.holdexpirydelta`: it cancels an accepted HTLC this many blocks before expiry. */
export const HOLD_EXPIRY_DELTA = 12;

const HEX64 = /^[0-9a-f]{64}$/;
const decodeCache = new Map<string, DecodedPaymentRequest>();

/** decodeBolt11, memoized across runs (invoices are pooled by the world). */
export function decodeCached(pr: string): DecodedPaymentRequest {
  let d = decodeCache.get(pr);
  if (d === undefined) {
    d = decodeBolt11(pr);
    decodeCache.set(pr, d);
  }
  return d;
}

export class SimLndNode {
  height = 1000;
  step = 0;
  readonly invoices = new Map<string, SimInvoice>();
  readonly payments = new Map<string, SimPayment>();
  readonly ledger: LedgerEntry[] = [];
  readonly pending: PendingOp[] = [];
  private readonly subs = new Set<Subscription>();
  private nextOpId = 1;

  constructor(readonly clock: Clock) {}

  info(): NodeInfo {
    return {
      version: '0.18.0-beta sim',
      identityPubkey: '02'.padEnd(66, '7'),
      commitHash: 'sim',
      alias: 'sim-lnd',
      chains: ['bitcoin'],
      networks: ['regtest'],
      uris: [],
      blockHeight: this.height,
    };
  }

  enqueue(op: Omit<PendingOp, 'id'>): void {
    this.pending.push({ ...op, id: this.nextOpId++ });
  }

  subscribe(client: SimLndClient, hash: string, listener: (u: InvoiceUpdate) => void): Subscription {
    const sub: Subscription = { client, hash, listener, active: true };
    this.subs.add(sub);
    this.deliverCurrent(sub);
    return sub;
  }

  unsubscribe(sub: Subscription): void {
    sub.active = false;
    this.subs.delete(sub);
  }

  /** A (re)subscribe delivers the current state, as the real backend does. */
  deliverCurrent(sub: Subscription): void {
    const inv = this.invoices.get(sub.hash);
    if (inv === undefined) return;
    this.enqueue({ client: sub.client, type: 'update', label: `stream ${short(sub.hash)} ${inv.state}`, sub, update: { hash: sub.hash, state: inv.state } });
  }

  private setState(inv: SimInvoice, state: HoldInvoiceState): void {
    inv.state = state;
    for (const sub of this.subs) {
      if (sub.hash === inv.hash && sub.active) {
        this.enqueue({ client: sub.client, type: 'update', label: `stream ${short(inv.hash)} ${state}`, sub, update: { hash: inv.hash, state } });
      }
    }
  }

  /** The link of `client` broke: stream updates in transit to it are lost. */
  dropUpdates(client: SimLndClient): void {
    for (let k = this.pending.length - 1; k >= 0; k -= 1) {
      const op = this.pending[k]!;
      if (op.client === client && op.type === 'update') this.pending.splice(k, 1);
    }
  }

  /** The link of `client` is back: each of its live subscriptions gets the current state. */
  resubscribeAll(client: SimLndClient): void {
    for (const sub of this.subs) if (sub.client === client && sub.active) this.deliverCurrent(sub);
  }

  /** Drop everything a dead process had pending: each call is applied (bit true) or not; no answers. */
  killClient(client: SimLndClient, applied: (i: number) => boolean): void {
    let i = 0;
    for (let k = this.pending.length - 1; k >= 0; k -= 1) {
      const op = this.pending[k]!;
      if (op.client !== client) continue;
      this.pending.splice(k, 1);
      if (op.type === 'call' && applied(i++)) {
        try {
          op.apply?.('succeed');
        } catch {
          // the node refused it; nobody is listening
        }
      }
    }
    for (const sub of [...this.subs]) if (sub.client === client) this.unsubscribe(sub);
  }

  /** Complete pending op `op` with `outcome` (see the module comment). */
  complete(op: PendingOp, outcome: OpOutcome, pay: PayOutcome = 'succeed'): void {
    const at = this.pending.indexOf(op);
    if (at >= 0) this.pending.splice(at, 1);
    if (op.type === 'update') {
      const sub = op.sub!;
      if (!sub.active) return;
      if (outcome === 'fail') {
        this.deliverCurrent(sub);
        return;
      }
      sub.listener(op.update!);
      if (outcome === 'lost' && sub.active) sub.listener(op.update!);
      return;
    }
    if (outcome === 'fail') {
      op.reject!(new LightningError(`${op.label}: connection lost (sim)`, 'unavailable'));
      return;
    }
    let value: unknown;
    try {
      value = op.apply!(pay);
    } catch (err) {
      if (outcome === 'late') {
        this.enqueue({ ...op, label: `${op.label} (answer)`, apply: () => { throw err; } });
        return;
      }
      op.reject!(err);
      return;
    }
    if (outcome === 'late') {
      this.enqueue({ ...op, label: `${op.label} (answer)`, apply: () => value });
      return;
    }
    if (outcome === 'lost') op.reject!(new LightningError(`${op.label}: deadline exceeded (sim, applied)`, 'timeout'));
    else op.resolve!(value);
  }

  // ---- effects -------------------------------------------------------------------------------

  addHoldInvoice(req: AddHoldInvoiceRequest): HoldInvoice {
    if (!HEX64.test(req.hash)) throw new LightningError('invalid hash', 'invalid');
    if (this.invoices.has(req.hash)) throw new LightningError('invoice with payment hash already exists', 'rpc');
    const paymentRequest = `lnbcrtsimhold${req.amountSats}x${req.hash}`;
    this.invoices.set(req.hash, {
      hash: req.hash,
      amountSats: req.amountSats,
      memo: req.memo,
      cltvExpiry: req.cltvExpiry,
      createdAt: this.clock.now(),
      expirySeconds: req.expirySeconds,
      paymentRequest,
      state: 'open',
      htlcExpiryHeight: 0,
    });
    return { hash: req.hash, paymentRequest };
  }

  settle(preimageHex: string): void {
    if (!HEX64.test(preimageHex)) throw new LightningError('invalid preimage', 'invalid');
    const hash = bytesToHex(sha256(hexToBytes(preimageHex)));
    const inv = this.invoices.get(hash);
    if (inv === undefined) throw new LightningError('unable to locate invoice', 'rpc');
    if (inv.state === 'settled') return;
    if (inv.state !== 'accepted') throw new LightningError(`invoice still ${inv.state}; cannot settle`, 'rpc');
    this.ledger.push({ step: this.step, kind: 'settle', hash, amountSats: inv.amountSats });
    this.setState(inv, 'settled');
  }

  cancel(hash: string): void {
    const inv = this.invoices.get(hash);
    if (inv === undefined) throw new LightningError('unable to locate invoice', 'rpc');
    if (inv.state === 'settled') throw new LightningError('invoice already settled', 'rpc');
    if (inv.state === 'canceled') return;
    this.ledger.push({ step: this.step, kind: 'cancel', hash });
    this.setState(inv, 'canceled');
  }

  lookup(hash: string): InvoiceLookup | null {
    const inv = this.invoices.get(hash);
    if (inv === undefined) return null;
    return { hash, state: inv.state, amountSats: inv.amountSats, htlcExpiryHeight: inv.htlcExpiryHeight };
  }

  send(req: SendPaymentRequest, pay: PayOutcome): PaymentResult {
    const d = decodeCached(req.paymentRequest);
    const prev = this.payments.get(d.hash);
    if (prev !== undefined && prev.state === 'succeeded') throw new LightningError('invoice is already paid', 'rpc');
    if (prev !== undefined && prev.state === 'in_flight') throw new LightningError('payment is in transition', 'rpc');
    const amountSats = d.amountMsat === 0n ? (req.amountSats ?? 0) : Number(d.amountMsat / 1000n);
    const p: SimPayment = { hash: d.hash, paymentRequest: req.paymentRequest, amountSats, state: 'in_flight' };
    this.payments.set(d.hash, p);
    this.ledger.push({ step: this.step, kind: 'payment-sent', hash: d.hash, amountSats, paymentRequest: req.paymentRequest });
    if (pay !== 'inflight') this.finishPayment(d.hash, pay === 'succeed');
    return this.paymentResult(d.hash);
  }

  /** An in-flight payment reaches its final state at the node. */
  finishPayment(hash: string, succeeded: boolean): void {
    const p = this.payments.get(hash);
    if (p === undefined || p.state !== 'in_flight') return;
    p.state = succeeded ? 'succeeded' : 'failed';
    this.ledger.push({ step: this.step, kind: succeeded ? 'payment-succeeded' : 'payment-failed', hash, amountSats: p.amountSats, paymentRequest: p.paymentRequest });
  }

  paymentResult(hash: string): PaymentResult {
    const p = this.payments.get(hash);
    if (p === undefined) return { hash, state: 'unknown' };
    if (p.state === 'succeeded') return { hash, state: 'succeeded', preimage: '00'.repeat(32), feeSats: 0 };
    if (p.state === 'failed') return { hash, state: 'failed', failureReason: 'FAILURE_REASON_NO_ROUTE' };
    return { hash, state: 'in_flight' };
  }

  // ---- world events --------------------------------------------------------------------------

  /** The seller pays an OPEN hold invoice: ACCEPTED with an HTLC expiring `cltvExpiry` blocks from now. */
  payHoldInvoice(hash: string): boolean {
    const inv = this.invoices.get(hash);
    if (inv === undefined || inv.state !== 'open') return false;
    inv.htlcExpiryHeight = this.height + inv.cltvExpiry;
    this.ledger.push({ step: this.step, kind: 'accept', hash, amountSats: inv.amountSats });
    this.setState(inv, 'accepted');
    return true;
  }

  /** LND's own cancels after time/blocks moved: unpaid invoices expire, HTLCs near their expiry are dropped. */
  tick(): void {
    const now = this.clock.now();
    for (const inv of this.invoices.values()) {
      const expired =
        (inv.state === 'open' && now >= inv.createdAt + inv.expirySeconds) ||
        (inv.state === 'accepted' && this.height + HOLD_EXPIRY_DELTA >= inv.htlcExpiryHeight);
      if (expired) {
        this.ledger.push({ step: this.step, kind: 'node-cancel', hash: inv.hash });
        this.setState(inv, 'canceled');
      }
    }
  }

  advanceBlocks(n: number): void {
    this.height += n;
    this.tick();
  }
}

export function short(hash: string): string {
  return hash.slice(0, 6);
}

/** One daemon process's view of the node. */
export class SimLndClient implements LightningBackend {
  private linkState: LinkState = 'up';
  private readonly linkListeners = new Set<(state: LinkState) => void>();
  dead = false;

  constructor(
    readonly node: SimLndNode,
    readonly name: string,
  ) {}

  get info(): NodeInfo {
    return this.node.info();
  }

  get state(): LinkState {
    return this.linkState;
  }

  onStateChange(listener: (state: LinkState) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  /**
   * The link to the node goes down (calls fail fast with `unavailable`, stream updates in transit are
   * lost) or comes back (every live subscription is re-subscribed and gets the current state, as the
   * real backend does), then listeners are told.
   */
  setLink(state: 'up' | 'down'): void {
    if (state === this.linkState || this.dead) return;
    this.linkState = state;
    if (state === 'down') this.node.dropUpdates(this);
    else this.node.resubscribeAll(this);
    for (const l of [...this.linkListeners]) l(state);
  }

  private call<T>(label: string, apply: (pay: PayOutcome) => T): Promise<T> {
    if (this.dead) return new Promise<T>(() => undefined);
    if (this.linkState !== 'up') return Promise.reject(new LightningError(`${label}: lightning node unavailable (sim link down)`, 'unavailable'));
    return new Promise<T>((resolve, reject) => {
      this.node.enqueue({
        client: this,
        type: 'call',
        label,
        apply,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
    });
  }

  getInfo(): Promise<NodeInfo> {
    return this.call('getInfo', () => this.node.info());
  }

  addHoldInvoice(req: AddHoldInvoiceRequest): Promise<HoldInvoice> {
    return this.call(`addHoldInvoice ${short(req.hash)}`, () => this.node.addHoldInvoice(req));
  }

  settleHoldInvoice(preimageHex: string): Promise<void> {
    const hash = HEX64.test(preimageHex) ? bytesToHex(sha256(hexToBytes(preimageHex))) : '??????';
    return this.call(`settle ${short(hash)}`, () => this.node.settle(preimageHex));
  }

  cancelHoldInvoice(hashHex: string): Promise<void> {
    return this.call(`cancel ${short(hashHex)}`, () => this.node.cancel(hashHex));
  }

  lookupInvoice(hashHex: string): Promise<InvoiceLookup | null> {
    return this.call(`lookup ${short(hashHex)}`, () => this.node.lookup(hashHex));
  }

  watchInvoice(hashHex: string, listener: (update: InvoiceUpdate) => void): () => void {
    if (this.dead) return () => undefined;
    const sub = this.node.subscribe(this, hashHex, listener);
    return () => this.node.unsubscribe(sub);
  }

  sendPayment(req: SendPaymentRequest): Promise<PaymentResult> {
    let label = 'sendPayment';
    try {
      label = `sendPayment ${short(decodeCached(req.paymentRequest).hash)}`;
    } catch {
      // undecodable: the node will refuse it
    }
    return this.call(label, (pay) => this.node.send(req, pay));
  }

  trackPayment(hashHex: string): Promise<PaymentResult> {
    return this.call(`trackPayment ${short(hashHex)}`, () => this.node.paymentResult(hashHex));
  }

  decodePaymentRequest(paymentRequest: string): Promise<DecodedPaymentRequest> {
    return this.call('decode', () => decodeCached(paymentRequest));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
