/**
 * LightningBackend over LND's gRPC API (TLS pinned to lnd_cert_file, hex macaroon in metadata).
 *
 * The link heals itself: if LND is unreachable the backend is `down`, retries GetInfo with
 * exponential backoff (re-reading cert and macaroon each time) and reports every state change.
 * While up, a periodic GetInfo keeps `info` (block height) fresh and detects outages. Invoice
 * watch streams that end are resubscribed unless the invoice is final, and after every
 * (re)connect each watched invoice is looked up by hash and its state delivered.
 */
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { LightningError } from '../../errors.js';
import type {
  AddHoldInvoiceRequest,
  DecodedPaymentRequest,
  HoldInvoice,
  InvoiceLookup,
  LightningBackend,
  LinkState,
  NodeInfo,
  PaymentResult,
  SendPaymentRequest,
} from '../backend.js';
import { decodeBolt11 } from '../bolt11.js';
import { InvoiceWatches, type InvoiceListener } from './invoice-watches.js';
import {
  hex32ToBuffer,
  isInvoiceNotFound,
  isPaymentNotFound,
  isServiceError,
  toInvoiceLookup,
  toLightningError,
  toNodeInfo,
  toPaymentResult,
} from './mapping.js';
import { loadLndClientProto, type AddHoldInvoiceResp, type Invoice, type InvoicesClient, type LightningClient, type LndProto, type Payment, type RouterClient } from './protos.js';

export interface LndBackendOptions {
  /** lnd_grpc_host, e.g. `https://localhost:10009` (a bare `host:port` is accepted too) */
  host: string;
  certPath: string;
  macaroonPath: string;
  logger: Logger;
  clock: Clock;
  /** reconnect backoff bounds; default 1 s … 60 s */
  reconnect?: { minMs: number; maxMs: number };
  /** GetInfo period while up (liveness + fresh block height); default 30 s */
  healthCheckMs?: number;
  /** deadline of unary calls; default 30 s */
  callTimeoutMs?: number;
  /** first delay before resubscribing an invoice stream that ended; default 1 s (doubles up to reconnect.maxMs) */
  resubscribeDelayMs?: number;
}

interface Clients {
  lightning: LightningClient;
  invoices: InvoicesClient;
  router: RouterClient;
  close(): void;
}

/** `https://host:port` → `host:port`. */
export function grpcTarget(host: string): string {
  return host.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}

export class LndBackend implements LightningBackend {
  private _state: LinkState = 'connecting';
  private _info: NodeInfo | null = null;
  private _lastError: string | null = null;
  private clients: Clients | null = null;
  private readonly proto: LndProto;
  private readonly stateListeners = new Set<(s: LinkState) => void>();
  private readonly watches: InvoiceWatches;
  private readonly log: Logger;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly healthCheckMs: number;
  private readonly callTimeoutMs: number;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly opts: LndBackendOptions) {
    this.proto = loadLndClientProto();
    this.log = opts.logger.child({ component: 'lnd' });
    this.minBackoff = opts.reconnect?.minMs ?? 1000;
    this.maxBackoff = opts.reconnect?.maxMs ?? 60_000;
    this.backoffMs = this.minBackoff;
    this.healthCheckMs = opts.healthCheckMs ?? 30_000;
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.watches = new InvoiceWatches({
      logger: this.log,
      open: (hash) => this.clients?.invoices.subscribeSingleInvoice({ rHash: Buffer.from(hash, 'hex') }) ?? null,
      lookup: (hash) => this.lookupInvoice(hash),
      isUp: () => this._state === 'up' && this.clients !== null,
      noteFailure: (err) => this.noteFailure(err),
      resubscribeDelayMs: opts.resubscribeDelayMs ?? 1000,
      maxDelayMs: this.maxBackoff,
    });
  }

  get state(): LinkState {
    return this._state;
  }

  get info(): NodeInfo | null {
    return this._info;
  }

  get lastError(): string | null {
    return this._lastError;
  }

  onStateChange(listener: (state: LinkState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Starts connecting in the background (never throws; see `state`). */
  start(): Promise<void> {
    return this.connect();
  }

  // ---------------------------------------------------------------- link management

  private setState(s: LinkState): void {
    if (s === this._state) return;
    this._state = s;
    this.log.info({ state: s }, `LND link ${s}`);
    for (const l of [...this.stateListeners]) {
      try {
        l(s);
      } catch (err) {
        this.log.error({ err }, 'LND state listener failed');
      }
    }
  }

  private async makeClients(): Promise<Clients> {
    const [cert, macaroon] = await Promise.all([readFile(this.opts.certPath), readFile(this.opts.macaroonPath)]);
    const macaroonHex = macaroon.toString('hex');
    const callCreds = grpc.credentials.createFromMetadataGenerator((_params, cb) => {
      const md = new grpc.Metadata();
      md.add('macaroon', macaroonHex);
      cb(null, md);
    });
    const creds = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(cert), callCreds);
    const target = grpcTarget(this.opts.host);
    const options: grpc.ChannelOptions = {
      // our own backoff drives reconnects; keep grpc's short and the subchannel private so a
      // fresh client after an outage does not inherit a long transport backoff
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': Math.min(this.minBackoff, 1000),
      'grpc.max_reconnect_backoff_ms': Math.max(this.minBackoff, Math.min(this.maxBackoff, 10_000)),
      'grpc.max_receive_message_length': 50 * 1024 * 1024,
    };
    const lightning = new this.proto.lnrpc.Lightning(target, creds, options);
    const shared = { ...options, channelOverride: lightning.getChannel() };
    const invoices = new this.proto.invoicesrpc.Invoices(target, creds, shared);
    const router = new this.proto.routerrpc.Router(target, creds, shared);
    return {
      lightning,
      invoices,
      router,
      close: () => {
        invoices.close();
        router.close();
        lightning.close();
      },
    };
  }

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = this.connectOnce().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    if (this.closed) return;
    this.watches.stopStreams();
    this.clients?.close();
    this.clients = null;
    try {
      this.clients = await this.makeClients();
      const info = await this.rawGetInfo(this.clients);
      if (this.closed) return;
      this._info = info;
      this.backoffMs = this.minBackoff;
      this.log.info(
        { alias: info.alias, version: info.version, networks: info.networks, blockHeight: info.blockHeight },
        'connected to LND',
      );
      this.setState('up');
      this.scheduleHealthCheck();
      await this.watches.reconcile();
    } catch (err) {
      if (this.closed) return;
      this._lastError = err instanceof Error ? err.message : String(err);
      this.setState('down');
      this.log.warn(
        { err: String(err instanceof Error ? err.message : err), host: this.opts.host, retryInMs: this.backoffMs },
        `LND unreachable at ${this.opts.host}; Lightning work is refused until it is back, retrying`,
      );
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoff);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private scheduleHealthCheck(): void {
    if (this.healthTimer) clearTimeout(this.healthTimer);
    if (this.closed) return;
    this.healthTimer = setTimeout(() => {
      this.healthTimer = null;
      void this.probe();
    }, this.healthCheckMs);
    this.healthTimer.unref();
  }

  /** GetInfo on the current connection; on failure the link goes down and reconnects. */
  private async probe(): Promise<void> {
    if (this.closed || this.probing || this._state !== 'up' || !this.clients) return;
    this.probing = true;
    try {
      this._info = await this.rawGetInfo(this.clients);
      this.scheduleHealthCheck();
    } catch (err) {
      this.markDown(err);
    } finally {
      this.probing = false;
    }
  }

  private markDown(err: unknown): void {
    if (this.closed || this._state !== 'up') return;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = null;
    this._lastError = err instanceof Error ? err.message : String(err);
    this.setState('down');
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'lost LND; reconnecting');
    this.watches.stopStreams();
    this.scheduleReconnect();
  }

  /** A call failed with UNAVAILABLE: check the link now instead of at the next health tick. */
  private noteFailure(err: unknown): void {
    if (isServiceError(err) && err.code === grpc.status.UNAVAILABLE) void this.probe();
  }

  private requireClients(): Clients {
    if (this.closed) throw new LightningError('LND backend closed', 'unavailable');
    if (!this.clients) throw new LightningError(`LND at ${this.opts.host} is not connected`, 'unavailable');
    return this.clients;
  }

  private deadline(ms = this.callTimeoutMs): Date {
    return new Date(this.opts.clock.nowMs() + ms);
  }

  private rawGetInfo(c: Clients): Promise<NodeInfo> {
    return new Promise((resolve, reject) => {
      c.lightning.getInfo({}, { deadline: this.deadline(Math.min(this.callTimeoutMs, 10_000)) }, (err, res) => {
        if (err || !res) reject(toLightningError('GetInfo', err ?? new Error('empty response')));
        else resolve(toNodeInfo(res));
      });
    });
  }

  /** Runs one unary call with a deadline and maps its errors. */
  private unary<T>(method: string, invoke: (c: Clients, o: grpc.CallOptions, cb: grpc.requestCallback<T>) => void): Promise<T> {
    const c = this.requireClients();
    return new Promise<T>((resolve, reject) => {
      invoke(c, { deadline: this.deadline() }, (err, res) => {
        if (err) {
          this.noteFailure(err);
          reject(err);
        } else if (res === undefined) reject(new LightningError(`${method}: empty response`));
        else resolve(res);
      });
    });
  }

  // ---------------------------------------------------------------- LightningBackend

  async getInfo(): Promise<NodeInfo> {
    const c = this.requireClients();
    try {
      const info = await this.rawGetInfo(c);
      this._info = info;
      return info;
    } catch (err) {
      this.noteFailure((err as LightningError).cause);
      throw err;
    }
  }

  async addHoldInvoice(req: AddHoldInvoiceRequest): Promise<HoldInvoice> {
    const hash = hex32ToBuffer('payment hash', req.hash);
    if (!Number.isSafeInteger(req.amountSats) || req.amountSats <= 0) throw new LightningError(`invalid amount ${req.amountSats}`, 'invalid');
    try {
      const res = await this.unary<AddHoldInvoiceResp>('AddHoldInvoice', (c, o, cb) =>
        c.invoices.addHoldInvoice(
          {
            hash,
            memo: req.memo,
            value: String(req.amountSats),
            cltvExpiry: String(req.cltvExpiry),
            expiry: String(req.expirySeconds),
          },
          o,
          cb,
        ),
      );
      return { hash: req.hash.toLowerCase(), paymentRequest: res.paymentRequest };
    } catch (err) {
      throw toLightningError('AddHoldInvoice', err);
    }
  }

  async settleHoldInvoice(preimageHex: string): Promise<void> {
    const preimage = hex32ToBuffer('preimage', preimageHex);
    try {
      await this.unary('SettleInvoice', (c, o, cb) => c.invoices.settleInvoice({ preimage }, o, cb));
    } catch (err) {
      throw toLightningError('SettleInvoice', err);
    }
  }

  async cancelHoldInvoice(hashHex: string): Promise<void> {
    const paymentHash = hex32ToBuffer('payment hash', hashHex);
    try {
      await this.unary('CancelInvoice', (c, o, cb) => c.invoices.cancelInvoice({ paymentHash }, o, cb));
    } catch (err) {
      throw toLightningError('CancelInvoice', err);
    }
  }

  async lookupInvoice(hashHex: string): Promise<InvoiceLookup | null> {
    const paymentHash = hex32ToBuffer('payment hash', hashHex);
    try {
      const inv = await this.unary<Invoice>('LookupInvoiceV2', (c, o, cb) =>
        c.invoices.lookupInvoiceV2({ paymentHash, lookupModifier: 'DEFAULT' }, o, cb),
      );
      return toInvoiceLookup(hashHex.toLowerCase(), inv);
    } catch (err) {
      if (isInvoiceNotFound(err)) return null;
      throw toLightningError('LookupInvoiceV2', err);
    }
  }

  async decodePaymentRequest(paymentRequest: string): Promise<DecodedPaymentRequest> {
    return Promise.resolve(decodeBolt11(paymentRequest));
  }

  async trackPayment(hashHex: string): Promise<PaymentResult> {
    const paymentHash = hex32ToBuffer('payment hash', hashHex);
    const hash = hashHex.toLowerCase();
    const c = this.requireClients();
    return new Promise<PaymentResult>((resolve, reject) => {
      let done = false;
      const stream = c.router.trackPaymentV2(
        { paymentHash, noInflightUpdates: false },
        { deadline: this.deadline(Math.min(this.callTimeoutMs, 10_000)) },
      );
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        stream.cancel();
        fn();
      };
      stream.on('data', (p: Payment) => finish(() => resolve(toPaymentResult(hash, p))));
      stream.on('error', (err: Error) => {
        if (done) return;
        if (isPaymentNotFound(err)) finish(() => resolve({ hash, state: 'unknown' }));
        else {
          this.noteFailure(err);
          finish(() => reject(toLightningError('TrackPaymentV2', err)));
        }
      });
      stream.on('end', () => finish(() => reject(new LightningError('TrackPaymentV2: stream ended without a status'))));
    });
  }

  async sendPayment(req: SendPaymentRequest): Promise<PaymentResult> {
    const decoded = decodeBolt11(req.paymentRequest);
    const hash = decoded.hash;
    const c = this.requireClients();
    const waitMs = Math.max(1, Math.round((req.waitSeconds ?? req.timeoutSeconds + 15) * 1000));
    const request = {
      paymentRequest: req.paymentRequest.trim(),
      timeoutSeconds: req.timeoutSeconds,
      feeLimitSat: String(Math.max(0, Math.trunc(req.feeLimitSats))),
      noInflightUpdates: false,
      ...(decoded.amountMsat === 0n && req.amountSats !== undefined ? { amt: String(req.amountSats) } : {}),
    };
    if (decoded.amountMsat === 0n && req.amountSats === undefined) {
      throw new LightningError('amountless invoice needs amountSats', 'invalid');
    }
    return new Promise<PaymentResult>((resolve) => {
      let last: Payment | null = null;
      let done = false;
      const lastKnown = (): PaymentResult => (last ? toPaymentResult(hash, last) : { hash, state: 'in_flight' });
      const finish = (r: PaymentResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Cancelling our stream does not cancel the payment in LND (we never set `cancelable`).
        stream.cancel();
        resolve(r);
      };
      const stream = c.router.sendPaymentV2(request);
      stream.on('data', (p: Payment) => {
        last = p;
        const r = toPaymentResult(hash, p);
        if (r.state === 'succeeded' || r.state === 'failed') finish(r);
      });
      let failed = false;
      stream.on('error', (err: Error) => {
        if (done || failed) return;
        // grpc-js also emits 'end' after an error status; the outcome is decided here
        failed = true;
        this.noteFailure(err);
        if (last) {
          finish(lastKnown());
          return;
        }
        void this.outcomeAfterSendError(hash, err).then(finish);
      });
      stream.on('end', () => {
        if (!failed) finish(lastKnown());
      });
      const timer = setTimeout(() => {
        this.log.warn({ hash, waitMs }, 'payment not final within the wait bound; reporting last known state');
        finish(lastKnown());
      }, waitMs);
    });
  }

  /**
   * SendPaymentV2 failed before any update. Ask LND what it knows about the hash: a payment it
   * never initiated is a definite failure; anything else (already paid, in transition) is its
   * tracked state; if even that is unknowable the payment is reported in flight (never "failed",
   * which would allow paying again).
   */
  private async outcomeAfterSendError(hash: string, err: Error): Promise<PaymentResult> {
    const reason = isServiceError(err) ? err.details : err.message;
    try {
      const tracked = await this.trackPayment(hash);
      if (tracked.state === 'unknown') return { hash, state: 'failed', failureReason: reason };
      return tracked;
    } catch (trackErr) {
      this.log.warn({ hash, err: reason, trackErr: String(trackErr) }, 'payment outcome unknown after send error');
      return { hash, state: 'in_flight', failureReason: reason };
    }
  }

  // ---------------------------------------------------------------- invoice watches

  watchInvoice(hashHex: string, listener: InvoiceListener): () => void {
    const hash = hashHex.toLowerCase();
    hex32ToBuffer('payment hash', hash);
    return this.watches.add(hash, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.reconnectTimer = null;
    this.healthTimer = null;
    this.watches.close();
    this.stateListeners.clear();
    this.clients?.close();
    this.clients = null;
    await this.connecting?.catch(() => undefined);
  }
}
