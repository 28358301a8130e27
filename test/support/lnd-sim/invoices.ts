/** Real, signed BOLT11 invoices for the simulator, the LNURL test server and unit tests. */
import { randomBytes } from 'node:crypto';
import bolt11 from 'bolt11';
import { bolt11NetworkOf, type Network } from '../../../src/lightning/bolt11.js';
import { bytesToHex, hexToBytes, sha256 } from '../../../src/crypto/secp.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';

/** The simulated LND node's key (fixed so tests are reproducible). */
export const SIM_NODE_KEY = bytesToHex(sha256('mostrod lnd-sim node key'));
/** Key of "some other node" that issues buyer invoices (payee of outgoing payments). */
export const PAYEE_NODE_KEY = bytesToHex(sha256('mostrod lnd-sim payee key'));

/** Compressed (33-byte) secp256k1 public key, hex — what BOLT11 recovers as payee. */
export function nodePubkeyOf(secretHex: string): string {
  return bytesToHex(secp256k1.getPublicKey(hexToBytes(secretHex), true));
}

export interface SignInvoiceOptions {
  /** sats; null/undefined = amountless (ignored when amountMsat is given) */
  sats?: number | null;
  /** exact msat (for fractional-sat tests) */
  amountMsat?: bigint;
  network?: Network;
  /** unix seconds; default now */
  timestamp?: number;
  expirySeconds?: number;
  minFinalCltv?: number;
  description?: string;
  /** hex sha256 written as the `h` field instead of a `d` description (LNURL-pay invoices) */
  descriptionHash?: string;
  /** hex; default random */
  preimage?: string;
  /** hex; default sha256(preimage) */
  hash?: string;
  /** signer secret key hex; default PAYEE_NODE_KEY */
  signer?: string;
}

export interface SignedInvoice {
  paymentRequest: string;
  hash: string;
  preimage: string;
  payee: string;
}

export function signInvoice(opts: SignInvoiceOptions = {}): SignedInvoice {
  const preimage = opts.preimage ?? randomBytes(32).toString('hex');
  const hash = opts.hash ?? bytesToHex(sha256(hexToBytes(preimage)));
  const signer = opts.signer ?? PAYEE_NODE_KEY;
  const amount: { millisatoshis?: string; satoshis?: number } = {};
  if (opts.amountMsat !== undefined) amount.millisatoshis = opts.amountMsat.toString();
  else if (opts.sats !== undefined && opts.sats !== null && opts.sats > 0) amount.satoshis = opts.sats;
  const unsigned = bolt11.encode({
    network: bolt11NetworkOf(opts.network ?? 'regtest'),
    timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
    ...amount,
    tags: [
      { tagName: 'payment_hash', data: hash },
      { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
      opts.descriptionHash !== undefined
        ? { tagName: 'purpose_commit_hash', data: opts.descriptionHash }
        : { tagName: 'description', data: opts.description ?? 'mostrod test invoice' },
      { tagName: 'expire_time', data: opts.expirySeconds ?? 3600 * 24 },
      { tagName: 'min_final_cltv_expiry', data: opts.minFinalCltv ?? 80 },
    ],
  });
  const pr = bolt11.sign(unsigned, signer).paymentRequest;
  if (pr === undefined) throw new Error('bolt11 signing failed');
  return { paymentRequest: pr, hash, preimage, payee: nodePubkeyOf(signer) };
}
