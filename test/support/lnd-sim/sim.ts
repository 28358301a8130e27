/**
 * An LND simulator: a gRPC server over TLS built from LND's own protos (the same ones the client
 * loads), with macaroon checking, real signed BOLT11 hold invoices, a hold-invoice state machine,
 * scripted payment outcomes, a call log, and fault hooks (stop/restart on the same port, drop
 * streams). Runs in-process (startLndSim) or as a process (main.ts + control.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { decodeBolt11, type Network } from '../../../src/lightning/bolt11.js';
import { loadLndProto, type Invoice, type InvoicePartial, type InvoicesHandlers, type LightningHandlers, type Payment, type PaymentPartial, type RouterHandlers } from '../../../src/lightning/lnd/protos.js';
import { bytesToHex, sha256 } from '../../../src/crypto/secp.js';
import { nodePubkeyOf, signInvoice, SIM_NODE_KEY } from './invoices.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'tls');

export type FailureReason =
  | 'FAILURE_REASON_TIMEOUT'
  | 'FAILURE_REASON_NO_ROUTE'
  | 'FAILURE_REASON_ERROR'
  | 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS'
  | 'FAILURE_REASON_INSUFFICIENT_BALANCE';

export type PaymentOutcome =
  | { kind: 'succeed'; feeSats?: number }
  | { kind: 'fail'; reason?: FailureReason }
  /** stays IN_FLIGHT until releasePayment(hash, …) */
  | { kind: 'hang' }
  /** the first `failures` attempts fail, later ones succeed */
  | { kind: 'fail-then-succeed'; failures: number; reason?: FailureReason; feeSats?: number }
  /** the RPC itself errors before any payment exists (e.g. LND refusing an expired invoice) */
  | { kind: 'rpc-error'; code?: grpc.status; details: string };

export interface SimCall {
  method: string;
  request: unknown;
  /** ms since epoch */
  at: number;
}

export interface SimHoldInvoice {
  hash: string;
  paymentRequest: string;
  valueSat: number;
  memo: string;
  cltvExpiry: number;
  expiry: number;
  creationDate: number;
  state: Invoice['state'];
  htlcs: Array<{ state: 'ACCEPTED' | 'SETTLED' | 'CANCELED'; expiryHeight: number; acceptHeight: number; amtMsat: string }>;
}

export interface SimPayment {
  hash: string;
  paymentRequest: string;
  amountMsat: bigint;
  status: Payment['status'];
  preimage: string;
  feeSat: number;
  failureReason: Payment['failureReason'];
  attempts: number;
}

export interface LndSimOptions {
  /** 0 (default) = random */
  port?: number;
  /** where tls.cert and admin.macaroon are written; default a fresh temp dir */
  dir?: string;
  network?: Network;
  blockHeight?: number;
  /** LND's holdexpirydelta: accepted HTLCs are canceled this many blocks before expiry (default 12) */
  holdExpiryDelta?: number;
  macaroonHex?: string;
  /** unix seconds; default system time */
  now?: () => number;
}

export interface LndSim {
  readonly port: number;
  /** `localhost:PORT` */
  readonly host: string;
  /** `https://localhost:PORT` (the lnd_grpc_host form) */
  readonly grpcHost: string;
  readonly dir: string;
  readonly certPath: string;
  readonly macaroonPath: string;
  readonly macaroonHex: string;
  readonly network: Network;
  readonly nodePubkey: string;
  readonly blockHeight: number;
  readonly running: boolean;
  readonly calls: SimCall[];
  /** hashes settled (one entry per successful SettleInvoice) */
  readonly settles: string[];
  /** hashes canceled (one entry per CancelInvoice that changed state, plus node-side cancels) */
  readonly cancels: string[];
  /** every SendPaymentV2 attempt LND accepted */
  readonly payments: Array<{ hash: string; paymentRequest: string; amt: string; feeLimitSat: string; timeoutSeconds: number }>;
  readonly invoices: Map<string, SimHoldInvoice>;
  readonly paymentsByHash: Map<string, SimPayment>;

  /** The seller pays the hold invoice: OPEN → ACCEPTED with HTLC expiry = height + cltv. */
  payHoldInvoice(hash: string): void;
  /** Advances the chain; accepted HTLCs within holdExpiryDelta of expiry are canceled by the node. */
  mineBlocks(n: number): void;
  /** LND's invoice expiry watcher canceling an OPEN invoice. */
  expireHoldInvoice(hash: string): void;
  /** Outcome for payments whose request, payment hash or payee pubkey equals `match`. */
  setPaymentOutcome(match: string, outcome: PaymentOutcome): void;
  setDefaultPaymentOutcome(outcome: PaymentOutcome): void;
  /** Finishes a hanging payment. */
  releasePayment(hash: string, outcome: 'succeed' | 'fail'): void;
  /** Ends (or errors) every open invoice subscription stream. */
  dropStreams(opts?: { withError?: boolean }): void;
  /** A BOLT11 invoice from another node for this network (what a buyer would give). */
  createPayeeInvoice(opts: { sats?: number | null; expirySeconds?: number; minFinalCltv?: number; amountMsat?: bigint; descriptionHash?: string }): {
    paymentRequest: string;
    hash: string;
    preimage: string;
  };
  /** Hard stop of the gRPC server (state is kept). */
  stop(): Promise<void>;
  /** Starts the gRPC server again on the same port. */
  restart(): Promise<void>;
  /** stop() and remove the temp dir if the simulator created it. */
  close(): Promise<void>;
}

const AUTH_FAILED = 'verification failed: signature mismatch after caveat verification';

function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function hexOf(b: Buffer | Uint8Array | undefined): string {
  return b ? Buffer.from(b).toString('hex') : '';
}

export async function startLndSim(opts: LndSimOptions = {}): Promise<LndSim> {
  const proto = loadLndProto();
  const createdDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'lnd-sim-'));
  const certPath = path.join(dir, 'tls.cert');
  const macaroonPath = path.join(dir, 'admin.macaroon');
  const cert = readFileSync(path.join(FIXTURES, 'tls.cert'));
  const key = readFileSync(path.join(FIXTURES, 'tls.key'));
  const macaroonHex = opts.macaroonHex ?? randomBytes(32).toString('hex');
  writeFileSync(certPath, cert);
  writeFileSync(macaroonPath, Buffer.from(macaroonHex, 'hex'));
  const network = opts.network ?? 'regtest';
  const holdExpiryDelta = opts.holdExpiryDelta ?? 12;
  const now = opts.now ?? ((): number => Math.floor(Date.now() / 1000));
  const nodePubkey = nodePubkeyOf(SIM_NODE_KEY);

  let blockHeight = opts.blockHeight ?? 1000;
  let server: grpc.Server | null = null;
  let port = opts.port ?? 0;
  const calls: SimCall[] = [];
  const settles: string[] = [];
  const cancels: string[] = [];
  const payments: LndSim['payments'] = [];
  const invoices = new Map<string, SimHoldInvoice>();
  const subs = new Map<string, Set<grpc.ServerWritableStream<unknown, InvoicePartial>>>();
  const paymentsByHash = new Map<string, SimPayment>();
  const trackers = new Map<string, Set<grpc.ServerWritableStream<unknown, PaymentPartial>>>();
  const outcomes = new Map<string, PaymentOutcome>();
  let defaultOutcome: PaymentOutcome = { kind: 'succeed' };
  /** preimages of payee invoices created here, revealed when they are paid */
  const knownPreimages = new Map<string, string>();

  const log = (method: string, request: unknown): void => {
    calls.push({ method, request, at: Date.now() });
  };
  const authorized = (md: grpc.Metadata): string | null => {
    const got = md.get('macaroon');
    if (got.length !== 1) return `expected 1 macaroon, got ${got.length}`;
    return got[0] === macaroonHex ? null : AUTH_FAILED;
  };
  /** Wraps a unary handler with the call log and the macaroon check. */
  const unary =
    <Req, Res>(method: string, fn: (req: Req) => Res) =>
    (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>): void => {
      log(method, call.request);
      const denied = authorized(call.metadata);
      if (denied) return cb(grpcError(grpc.status.UNKNOWN, denied));
      try {
        cb(null, fn(call.request));
      } catch (err) {
        cb(err as grpc.ServiceError);
      }
    };
  const streaming =
    <Req, Res>(method: string, fn: (call: grpc.ServerWritableStream<Req, Res>) => void) =>
    (call: grpc.ServerWritableStream<Req, Res>): void => {
      log(method, call.request);
      const denied = authorized(call.metadata);
      if (denied) {
        call.emit('error', grpcError(grpc.status.UNKNOWN, denied));
        return;
      }
      try {
        fn(call);
      } catch (err) {
        call.emit('error', err);
      }
    };

  const toInvoice = (inv: SimHoldInvoice): InvoicePartial => ({
    memo: inv.memo,
    rHash: Buffer.from(inv.hash, 'hex'),
    value: String(inv.valueSat),
    valueMsat: String(inv.valueSat * 1000),
    settled: inv.state === 'SETTLED',
    creationDate: String(inv.creationDate),
    paymentRequest: inv.paymentRequest,
    expiry: String(inv.expiry),
    cltvExpiry: String(inv.cltvExpiry),
    state: inv.state,
    amtPaidSat: inv.state === 'SETTLED' ? String(inv.valueSat) : '0',
    htlcs: inv.htlcs.map((h, i) => ({
      chanId: '1',
      htlcIndex: String(i),
      amtMsat: h.amtMsat,
      acceptHeight: h.acceptHeight,
      expiryHeight: h.expiryHeight,
      state: h.state,
    })),
  });

  const notifyInvoice = (inv: SimHoldInvoice): void => {
    const set = subs.get(inv.hash);
    if (!set) return;
    const final = inv.state === 'SETTLED' || inv.state === 'CANCELED';
    for (const s of [...set]) {
      s.write(toInvoice(inv));
      if (final) {
        set.delete(s);
        s.end();
      }
    }
  };

  const setInvoiceState = (inv: SimHoldInvoice, state: SimHoldInvoice['state']): void => {
    inv.state = state;
    const htlcState = state === 'SETTLED' ? 'SETTLED' : state === 'CANCELED' ? 'CANCELED' : null;
    if (htlcState) for (const h of inv.htlcs) h.state = htlcState;
    notifyInvoice(inv);
  };

  const findInvoice = (hash: string): SimHoldInvoice => {
    const inv = invoices.get(hash);
    if (!inv) throw grpcError(grpc.status.NOT_FOUND, 'unable to locate invoice');
    return inv;
  };

  const lightningImpl: Partial<LightningHandlers> = {
    GetInfo: unary('Lightning.GetInfo', () => ({
      identityPubkey: nodePubkey,
      alias: 'lnd-sim',
      version: '0.20.0-beta commit=v0.20.0-beta',
      commitHash: 'lnd-sim',
      blockHeight,
      blockHash: bytesToHex(sha256(`block ${blockHeight}`)),
      syncedToChain: true,
      syncedToGraph: true,
      uris: [`${nodePubkey}@127.0.0.1:9735`],
      chains: [{ chain: 'bitcoin', network }],
    })),
  };

  const invoicesImpl: Partial<InvoicesHandlers> = {
    AddHoldInvoice: unary('Invoices.AddHoldInvoice', (req) => {
      const hash = hexOf(req.hash);
      if (hash.length !== 64) throw grpcError(grpc.status.UNKNOWN, 'invalid hash length');
      if (invoices.has(hash)) throw grpcError(grpc.status.UNKNOWN, 'invoice with payment hash already exists');
      const valueSat = Number(req.value);
      const expiry = Number(req.expiry) || 86400;
      const cltvExpiry = Number(req.cltvExpiry) || 80;
      const creationDate = now();
      const signed = signInvoice({
        sats: valueSat,
        network,
        hash,
        timestamp: creationDate,
        expirySeconds: expiry,
        minFinalCltv: cltvExpiry,
        description: req.memo,
        signer: SIM_NODE_KEY,
      });
      invoices.set(hash, {
        hash,
        paymentRequest: signed.paymentRequest,
        valueSat,
        memo: req.memo,
        cltvExpiry,
        expiry,
        creationDate,
        state: 'OPEN',
        htlcs: [],
      });
      return { paymentRequest: signed.paymentRequest, addIndex: String(invoices.size), paymentAddr: randomBytes(32) };
    }),
    SettleInvoice: unary('Invoices.SettleInvoice', (req) => {
      const preimage = hexOf(req.preimage);
      const hash = bytesToHex(sha256(Buffer.from(preimage, 'hex')));
      const inv = findInvoice(hash);
      if (inv.state === 'SETTLED') throw grpcError(grpc.status.UNKNOWN, 'invoice already settled');
      if (inv.state === 'CANCELED') throw grpcError(grpc.status.UNKNOWN, 'invoice already canceled');
      if (inv.state === 'OPEN') throw grpcError(grpc.status.UNKNOWN, 'invoice still open');
      settles.push(hash);
      setInvoiceState(inv, 'SETTLED');
      return {};
    }),
    CancelInvoice: unary('Invoices.CancelInvoice', (req) => {
      const inv = findInvoice(hexOf(req.paymentHash));
      if (inv.state === 'SETTLED') throw grpcError(grpc.status.UNKNOWN, 'invoice already settled');
      if (inv.state !== 'CANCELED') {
        cancels.push(inv.hash);
        setInvoiceState(inv, 'CANCELED');
      }
      return {};
    }),
    LookupInvoiceV2: unary('Invoices.LookupInvoiceV2', (req) => toInvoice(findInvoice(hexOf(req.paymentHash)))),
    SubscribeSingleInvoice: streaming('Invoices.SubscribeSingleInvoice', (call) => {
      const hash = hexOf(call.request.rHash);
      const inv = invoices.get(hash);
      if (inv) call.write(toInvoice(inv));
      if (inv && (inv.state === 'SETTLED' || inv.state === 'CANCELED')) {
        call.end();
        return;
      }
      let set = subs.get(hash);
      if (!set) subs.set(hash, (set = new Set()));
      set.add(call);
      call.on('cancelled', () => set.delete(call));
      call.on('close', () => set.delete(call));
    }),
  };

  const paymentMsg = (p: SimPayment): PaymentPartial => ({
    paymentHash: p.hash,
    value: String(p.amountMsat / 1000n),
    valueSat: String(p.amountMsat / 1000n),
    valueMsat: String(p.amountMsat),
    paymentRequest: p.paymentRequest,
    status: p.status,
    paymentPreimage: p.status === 'SUCCEEDED' ? p.preimage : '0'.repeat(64),
    feeSat: String(p.feeSat),
    feeMsat: String(p.feeSat * 1000),
    failureReason: p.failureReason,
    creationDate: String(now()),
  });

  const notifyPayment = (p: SimPayment): void => {
    const set = trackers.get(p.hash);
    if (!set) return;
    const final = p.status === 'SUCCEEDED' || p.status === 'FAILED';
    for (const s of [...set]) {
      s.write(paymentMsg(p));
      if (final) {
        set.delete(s);
        s.end();
      }
    }
  };

  const finishPayment = (p: SimPayment, result: 'succeed' | 'fail', reason: FailureReason = 'FAILURE_REASON_NO_ROUTE', feeSats = 1): void => {
    if (result === 'succeed') {
      p.status = 'SUCCEEDED';
      p.feeSat = feeSats;
      p.failureReason = 'FAILURE_REASON_NONE';
    } else {
      p.status = 'FAILED';
      p.failureReason = reason;
    }
    notifyPayment(p);
  };

  const outcomeFor = (pr: string, hash: string, payee: string): PaymentOutcome =>
    outcomes.get(pr) ?? outcomes.get(hash) ?? outcomes.get(payee) ?? defaultOutcome;

  const addTracker = (hash: string, call: grpc.ServerWritableStream<unknown, PaymentPartial>): void => {
    let set = trackers.get(hash);
    if (!set) trackers.set(hash, (set = new Set()));
    set.add(call);
    call.on('cancelled', () => set.delete(call));
    call.on('close', () => set.delete(call));
  };

  const routerImpl: Partial<RouterHandlers> = {
    SendPaymentV2: streaming('Router.SendPaymentV2', (call) => {
      const req = call.request;
      let decoded: ReturnType<typeof decodeBolt11>;
      try {
        decoded = decodeBolt11(req.paymentRequest);
      } catch (err) {
        throw grpcError(grpc.status.UNKNOWN, `invalid payment request: ${(err as Error).message}`);
      }
      if (decoded.network !== network) throw grpcError(grpc.status.UNKNOWN, 'invoice not for current active network');
      if (decoded.timestamp + decoded.expirySeconds <= now()) throw grpcError(grpc.status.UNKNOWN, 'invoice expired');
      let amountMsat = decoded.amountMsat;
      if (amountMsat === 0n) {
        if (req.amt === '0' && req.amtMsat === '0') throw grpcError(grpc.status.UNKNOWN, 'amount must be specified when paying a zero amount invoice');
        amountMsat = req.amtMsat !== '0' ? BigInt(req.amtMsat) : BigInt(req.amt) * 1000n;
      } else if (req.amt !== '0' || req.amtMsat !== '0') {
        throw grpcError(grpc.status.UNKNOWN, 'amount must not be specified when paying a non-zero amount invoice');
      }
      const existing = paymentsByHash.get(decoded.hash);
      if (existing?.status === 'SUCCEEDED') throw grpcError(grpc.status.ALREADY_EXISTS, 'invoice is already paid');
      if (existing && existing.status !== 'FAILED') throw grpcError(grpc.status.ALREADY_EXISTS, 'payment is in transition');
      const outcome = outcomeFor(req.paymentRequest, decoded.hash, decoded.payee);
      if (outcome.kind === 'rpc-error') throw grpcError(outcome.code ?? grpc.status.UNKNOWN, outcome.details);
      const p: SimPayment = existing ?? {
        hash: decoded.hash,
        paymentRequest: req.paymentRequest,
        amountMsat,
        status: 'IN_FLIGHT',
        preimage: knownPreimages.get(decoded.hash) ?? randomBytes(32).toString('hex'),
        feeSat: 0,
        failureReason: 'FAILURE_REASON_NONE',
        attempts: 0,
      };
      p.status = 'IN_FLIGHT';
      p.failureReason = 'FAILURE_REASON_NONE';
      p.attempts += 1;
      paymentsByHash.set(p.hash, p);
      payments.push({
        hash: p.hash,
        paymentRequest: req.paymentRequest,
        amt: req.amt,
        feeLimitSat: req.feeLimitSat,
        timeoutSeconds: req.timeoutSeconds,
      });
      addTracker(p.hash, call as unknown as grpc.ServerWritableStream<unknown, PaymentPartial>);
      notifyPayment(p);
      switch (outcome.kind) {
        case 'succeed':
          setImmediate(() => finishPayment(p, 'succeed', undefined, outcome.feeSats));
          break;
        case 'fail':
          setImmediate(() => finishPayment(p, 'fail', outcome.reason));
          break;
        case 'fail-then-succeed':
          setImmediate(() =>
            p.attempts <= outcome.failures ? finishPayment(p, 'fail', outcome.reason) : finishPayment(p, 'succeed', undefined, outcome.feeSats),
          );
          break;
        case 'hang':
          break;
      }
    }),
    TrackPaymentV2: streaming('Router.TrackPaymentV2', (call) => {
      const hash = hexOf(call.request.paymentHash);
      const p = paymentsByHash.get(hash);
      if (!p) throw grpcError(grpc.status.NOT_FOUND, "payment isn't initiated");
      call.write(paymentMsg(p));
      if (p.status === 'SUCCEEDED' || p.status === 'FAILED' || call.request.noInflightUpdates) {
        call.end();
        return;
      }
      addTracker(hash, call as unknown as grpc.ServerWritableStream<unknown, PaymentPartial>);
    }),
  };

  const endAllStreams = (): void => {
    for (const set of subs.values()) set.clear();
    for (const set of trackers.values()) set.clear();
  };

  const listen = async (): Promise<void> => {
    const s = new grpc.Server();
    s.addService(proto.lnrpc.Lightning.service, lightningImpl as grpc.UntypedServiceImplementation);
    s.addService(proto.invoicesrpc.Invoices.service, invoicesImpl as grpc.UntypedServiceImplementation);
    s.addService(proto.routerrpc.Router.service, routerImpl as grpc.UntypedServiceImplementation);
    const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
    port = await new Promise<number>((resolve, reject) =>
      s.bindAsync(`127.0.0.1:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    server = null;
    endAllStreams();
    if (s) s.forceShutdown();
    await Promise.resolve();
  };

  await listen();

  const sim: LndSim = {
    get port() {
      return port;
    },
    get host() {
      return `localhost:${port}`;
    },
    get grpcHost() {
      return `https://localhost:${port}`;
    },
    dir,
    certPath,
    macaroonPath,
    macaroonHex,
    network,
    nodePubkey,
    get blockHeight() {
      return blockHeight;
    },
    get running() {
      return server !== null;
    },
    calls,
    settles,
    cancels,
    payments,
    invoices,
    paymentsByHash,
    payHoldInvoice(hash) {
      const inv = invoices.get(hash);
      if (!inv) throw new Error(`lnd-sim: no hold invoice ${hash}`);
      if (inv.state !== 'OPEN') throw new Error(`lnd-sim: invoice ${hash} is ${inv.state}, not OPEN`);
      inv.htlcs.push({ state: 'ACCEPTED', expiryHeight: blockHeight + inv.cltvExpiry, acceptHeight: blockHeight, amtMsat: String(inv.valueSat * 1000) });
      setInvoiceState(inv, 'ACCEPTED');
    },
    mineBlocks(n) {
      blockHeight += n;
      for (const inv of invoices.values()) {
        if (inv.state !== 'ACCEPTED') continue;
        if (inv.htlcs.some((h) => h.state === 'ACCEPTED' && h.expiryHeight - holdExpiryDelta <= blockHeight)) {
          cancels.push(inv.hash);
          setInvoiceState(inv, 'CANCELED');
        }
      }
    },
    expireHoldInvoice(hash) {
      const inv = invoices.get(hash);
      if (!inv || inv.state !== 'OPEN') throw new Error(`lnd-sim: invoice ${hash} is not OPEN`);
      cancels.push(hash);
      setInvoiceState(inv, 'CANCELED');
    },
    setPaymentOutcome(match, outcome) {
      outcomes.set(match, outcome);
    },
    setDefaultPaymentOutcome(outcome) {
      defaultOutcome = outcome;
    },
    releasePayment(hash, outcome) {
      const p = paymentsByHash.get(hash);
      if (!p || p.status !== 'IN_FLIGHT') throw new Error(`lnd-sim: no in-flight payment ${hash}`);
      finishPayment(p, outcome);
    },
    dropStreams(o) {
      for (const set of subs.values()) {
        for (const s of [...set]) {
          set.delete(s);
          if (o?.withError) s.emit('error', grpcError(grpc.status.INTERNAL, 'lnd-sim: stream dropped'));
          else s.end();
        }
      }
    },
    createPayeeInvoice(o) {
      const signed = signInvoice({
        network,
        timestamp: now(),
        ...(o.sats !== undefined ? { sats: o.sats } : {}),
        ...(o.amountMsat !== undefined ? { amountMsat: o.amountMsat } : {}),
        ...(o.expirySeconds !== undefined ? { expirySeconds: o.expirySeconds } : {}),
        ...(o.minFinalCltv !== undefined ? { minFinalCltv: o.minFinalCltv } : {}),
        ...(o.descriptionHash !== undefined ? { descriptionHash: o.descriptionHash } : {}),
      });
      knownPreimages.set(signed.hash, signed.preimage);
      return { paymentRequest: signed.paymentRequest, hash: signed.hash, preimage: signed.preimage };
    },
    stop,
    async restart() {
      if (server) return;
      await listen();
    },
    async close() {
      await stop();
      if (createdDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return sim;
}
