/** LND message ↔ domain type mapping (the only place besides lnd-backend.ts that knows LND types). */
import * as grpc from '@grpc/grpc-js';
import { LightningError } from '../../errors.js';
import type { HoldInvoiceState, InvoiceLookup, NodeInfo, PaymentResult, PaymentState } from '../backend.js';
import type { GetInfoResponse, Invoice, Payment } from './protos.js';

export function toNodeInfo(r: GetInfoResponse): NodeInfo {
  return {
    version: r.version,
    identityPubkey: r.identityPubkey,
    commitHash: r.commitHash,
    alias: r.alias,
    chains: r.chains.map((c) => c.chain),
    networks: r.chains.map((c) => c.network),
    uris: [...r.uris],
    blockHeight: r.blockHeight,
  };
}

export function toHoldInvoiceState(state: Invoice['state']): HoldInvoiceState {
  switch (state) {
    case 'OPEN':
      return 'open';
    case 'ACCEPTED':
      return 'accepted';
    case 'SETTLED':
      return 'settled';
    case 'CANCELED':
      return 'canceled';
  }
}

export function isFinalInvoiceState(s: HoldInvoiceState): boolean {
  return s === 'settled' || s === 'canceled';
}

export function toInvoiceLookup(hash: string, inv: Invoice): InvoiceLookup {
  const state = toHoldInvoiceState(inv.state);
  let htlcExpiryHeight = 0;
  for (const h of inv.htlcs) {
    if (h.state !== 'ACCEPTED') continue;
    if (htlcExpiryHeight === 0 || h.expiryHeight < htlcExpiryHeight) htlcExpiryHeight = h.expiryHeight;
  }
  return { hash, state, amountSats: Number(inv.value), htlcExpiryHeight };
}

/**
 * LND payment status → ours. INITIATED and IN_FLIGHT are in flight. LND's legacy UNKNOWN is also
 * treated as in flight (never as our `unknown`, which means "the node never saw it" and allows a
 * new attempt) so an ambiguous answer can never lead to paying twice.
 */
export function toPaymentState(status: Payment['status']): PaymentState {
  switch (status) {
    case 'SUCCEEDED':
      return 'succeeded';
    case 'FAILED':
      return 'failed';
    case 'IN_FLIGHT':
    case 'INITIATED':
    case 'UNKNOWN':
      return 'in_flight';
  }
}

export function toPaymentResult(hash: string, p: Payment): PaymentResult {
  const state = toPaymentState(p.status);
  const r: PaymentResult = { hash: p.paymentHash !== '' ? p.paymentHash : hash, state };
  if (state === 'succeeded' && /^[0-9a-f]{64}$/.test(p.paymentPreimage) && !/^0+$/.test(p.paymentPreimage)) {
    r.preimage = p.paymentPreimage;
  }
  if (state === 'succeeded') r.feeSats = Number(p.feeSat);
  if (state === 'failed') r.failureReason = p.failureReason;
  return r;
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number';
}

/** True for LND's "payment isn't initiated" answer to TrackPaymentV2. */
export function isPaymentNotFound(err: unknown): boolean {
  if (!isServiceError(err)) return false;
  return err.code === grpc.status.NOT_FOUND || /payment isn'?t initiated/i.test(err.details);
}

/** True for LND's "unable to locate invoice" answer. */
export function isInvoiceNotFound(err: unknown): boolean {
  if (!isServiceError(err)) return false;
  return err.code === grpc.status.NOT_FOUND || /unable to locate invoice|there are no existing invoices/i.test(err.details);
}

export function toLightningError(method: string, err: unknown): LightningError {
  if (err instanceof LightningError) return err;
  if (isServiceError(err)) {
    const code =
      err.code === grpc.status.UNAVAILABLE ? 'unavailable' : err.code === grpc.status.DEADLINE_EXCEEDED ? 'timeout' : 'rpc';
    return new LightningError(`${method}: ${err.details || err.message}`, code, { cause: err });
  }
  return new LightningError(`${method}: ${String(err)}`, 'rpc', { cause: err });
}

export const HEX32 = /^[0-9a-f]{64}$/;

export function hex32ToBuffer(what: string, hex: string): Buffer {
  const h = hex.toLowerCase();
  if (!HEX32.test(h)) throw new LightningError(`malformed ${what}: expected 32 bytes of hex`, 'invalid');
  return Buffer.from(h, 'hex');
}
