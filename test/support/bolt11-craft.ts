/**
 * Word-level BOLT11 crafting for decoder tests: build the data part field by field (including
 * fields the `bolt11` package's encoder cannot write: unknown types, wrong lengths, repeats) and
 * sign it like a node does.
 */
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bech32 } from '@scure/base';
import bolt11 from 'bolt11';
import { LightningError } from '../../src/errors.js';
import type { DecodedPaymentRequest } from '../../src/lightning/backend.js';
import { bolt11NetworkOf, networkOfPaymentRequest } from '../../src/lightning/bolt11.js';

/** One tagged field: type, 10-bit data length, data words. */
export function field(type: number, data: readonly number[]): number[] {
  if (data.length > 1023) throw new Error('field too long');
  return [type, data.length >> 5, data.length & 31, ...data];
}

/** Bytes as words, the last one padded with zero bits (as a writer does). */
export function bytesToWords(bytes: Uint8Array): number[] {
  return bech32.toWords(bytes);
}

/** A non-negative integer as minimal big-endian words ([] for 0 when `minimal`, else [0]). */
export function intToWords(n: number, minimal = false): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0) {
    out.unshift(v % 32);
    v = Math.floor(v / 32);
  }
  return out.length === 0 && !minimal ? [0] : out;
}

/** The 7-word (35-bit) timestamp. */
export function timestampWords(ts: number): number[] {
  const w = intToWords(ts, true);
  while (w.length < 7) w.unshift(0);
  return w;
}

function paddedBytes(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil((words.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (const w of words) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0) out[j] = (acc << (8 - bits)) & 0xff;
  return out;
}

/** sha256(hrp || data words as bytes): what the signature covers. */
export function signingHash(hrp: string, data: readonly number[]): Uint8Array {
  return createHash('sha256').update(Buffer.from(hrp, 'utf8')).update(paddedBytes(data)).digest();
}

/** The 104 signature words: r || s || recovery id. */
export function signatureWords(hrp: string, data: readonly number[], secretKey: Uint8Array): number[] {
  const sig = secp256k1.sign(signingHash(hrp, data), secretKey, { prehash: false, format: 'recovered' });
  const rs = sig.subarray(1);
  const bytes = new Uint8Array(65);
  bytes.set(rs, 0);
  bytes[64] = sig[0]!;
  return bech32.toWords(bytes);
}

/** A complete invoice: hrp (e.g. `lnbcrt10u`), data words (timestamp and fields), signed by `secretKey`. */
export function signInvoiceWords(hrp: string, data: readonly number[], secretKey: Uint8Array): string {
  return bech32.encode(hrp, [...data, ...signatureWords(hrp, data, secretKey)], false);
}

/** Compressed public key (hex) of a secret key: the payee a decoder recovers. */
export function payeeOf(secretKey: Uint8Array): string {
  return Buffer.from(secp256k1.getPublicKey(secretKey, true)).toString('hex');
}

/**
 * The decoder src/lightning/bolt11.ts had before (the `bolt11` package behind the same checks),
 * kept as the reference of the differential tests.
 */
export function referenceDecode(paymentRequest: string): DecodedPaymentRequest {
  const pr = paymentRequest.trim();
  const network = networkOfPaymentRequest(pr);
  if (network === null) throw new LightningError('not a BOLT11 invoice of a known network', 'invalid');
  let d: ReturnType<typeof bolt11.decode>;
  try {
    d = bolt11.decode(pr, bolt11NetworkOf(network));
  } catch (err) {
    throw new LightningError(`invalid BOLT11 invoice: ${(err as Error).message}`, 'invalid', { cause: err });
  }
  const hash = d.tagsObject.payment_hash;
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
    throw new LightningError('invalid BOLT11 invoice: no payment hash', 'invalid');
  }
  let amountMsat = 0n;
  if (d.millisatoshis !== null && d.millisatoshis !== undefined) {
    if (!/^\d+$/.test(d.millisatoshis)) throw new LightningError('invalid BOLT11 amount', 'invalid');
    amountMsat = BigInt(d.millisatoshis);
  }
  if (typeof d.timestamp !== 'number' || d.payeeNodeKey === undefined) {
    throw new LightningError('invalid BOLT11 invoice: missing timestamp or signature', 'invalid');
  }
  const expiry = d.tagsObject.expire_time;
  const cltv = d.tagsObject.min_final_cltv_expiry;
  const decoded: DecodedPaymentRequest = {
    hash,
    amountMsat,
    timestamp: d.timestamp,
    expirySeconds: typeof expiry === 'number' ? expiry : 3600,
    minFinalCltvExpiry: typeof cltv === 'number' ? cltv : 18,
    network,
    payee: d.payeeNodeKey,
  };
  if (typeof d.tagsObject.description === 'string') decoded.description = d.tagsObject.description;
  const h = d.tagsObject.purpose_commit_hash;
  if (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)) decoded.descriptionHash = h;
  return decoded;
}

/** What a decoder did with an invoice: the result, or that it threw LightningError('invalid'). */
export type Outcome = { ok: true; value: DecodedPaymentRequest } | { ok: false; message: string };

export function outcomeOf(decode: (pr: string) => DecodedPaymentRequest, pr: string): Outcome {
  try {
    return { ok: true, value: decode(pr) };
  } catch (err) {
    if (!(err instanceof LightningError) || err.code !== 'invalid') throw err;
    return { ok: false, message: err.message };
  }
}
