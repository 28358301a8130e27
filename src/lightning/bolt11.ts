/**
 * BOLT11 decoding (pure, no node needed) and the chain/network names shared by invoices and LND.
 *
 * Our own decoder (docs/PERFORMANCE.md "Memory": the `bolt11` package pulled bitcoinjs-lib, bip174
 * and ~108 lodash files into the daemon's heap for this one function; it stays a dev dependency to
 * ENCODE invoices in tests and the LND simulator). bech32 without a length limit (@scure/base), the
 * payee key recovered from the signature over sha256(hrp || data without the signature, as bytes)
 * by crypto/secp.ts (the native secp256k1 addon the daemon loads for ECDH, 0.1 ms; @noble/curves
 * as the fallback, ~5 ms). It accepts and decodes what the package accepted, with these differences,
 * all from BOLT 11 (and as LND's zpay32 reads them), checked by test/unit/lightning/bolt11-*.test.ts:
 * - `p`, `h`, `n` fields whose length is not 52 / 52 / 53 words are skipped (the package took them, so an
 *   invoice with an extra short `n` was refused, one with an extra long `p` had no valid hash);
 * - of repeated `p`, `d`, `h`, `n`, `x`, `c` fields the first counts (the package kept the last);
 * - an unknown even ("required") feature bit in the `9` field is refused (the package ignored it;
 *   LND refuses to pay such an invoice).
 * Like the package: an `n` field must equal the recovered key; `f` fields of version 17/18 must
 * hold 20 bytes and those of version 0/1 must make an address of at most 90 characters; a `p`
 * amount must end in 0; at most 21 million BTC.
 */
import { bech32 } from '@scure/base';
import { bytesToHex, ecdsaRecoverPublicKey, sha256 } from '../crypto/secp.js';
import { LightningError } from '../errors.js';
import type { DecodedPaymentRequest } from './backend.js';

/** Our network names (as in DecodedPaymentRequest.network). */
export type Network = 'mainnet' | 'testnet' | 'signet' | 'regtest' | 'simnet';

interface Bolt11Network {
  bech32: string;
  pubKeyHash: number;
  scriptHash: number;
  validWitnessVersions: number[];
}

/** BOLT11 human-readable-part currency prefix of each network (after the leading `ln`). */
const NETWORK_BY_HRP: ReadonlyArray<readonly [string, Network, Bolt11Network]> = [
  // Longer prefixes first: `bcrt` before `bc`, `tbs` before `tb`.
  ['bcrt', 'regtest', { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }],
  ['bc', 'mainnet', { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] }],
  ['tbs', 'signet', { bech32: 'tbs', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }],
  ['tb', 'testnet', { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }],
  ['sb', 'simnet', { bech32: 'sb', pubKeyHash: 0x3f, scriptHash: 0x7b, validWitnessVersions: [0, 1] }],
];

/** BOLT11 defaults when the tags are absent. */
const DEFAULT_EXPIRY_SECONDS = 3600;
const DEFAULT_MIN_FINAL_CLTV = 18;

/**
 * Maps an LND `GetInfo.chains[].network` value (mainnet, testnet, testnet4, signet, regtest,
 * simnet) to our network name; null for anything unknown.
 */
export function networkFromLnd(lndNetwork: string): Network | null {
  switch (lndNetwork.toLowerCase()) {
    case 'mainnet':
    case 'bitcoin':
      return 'mainnet';
    case 'testnet':
    case 'testnet3':
    case 'testnet4':
      return 'testnet';
    case 'signet':
      return 'signet';
    case 'regtest':
      return 'regtest';
    case 'simnet':
      return 'simnet';
    default:
      return null;
  }
}

/** The bolt11 hrp prefix (without `ln`) for a network, e.g. regtest → `bcrt`. */
export function hrpPrefixOf(network: Network): string {
  const row = NETWORK_BY_HRP.find(([, n]) => n === network);
  if (!row) throw new Error(`unknown network ${network}`);
  return row[0];
}

/** bolt11's network object for one of our networks (used to sign invoices in tests/simulator). */
export function bolt11NetworkOf(network: Network): Bolt11Network {
  const row = NETWORK_BY_HRP.find(([, n]) => n === network);
  if (!row) throw new Error(`unknown network ${network}`);
  return row[2];
}

/** Detects the network from the invoice's human-readable part; null if it is not a known BOLT11 prefix. */
export function networkOfPaymentRequest(pr: string): Network | null {
  const lower = pr.toLowerCase();
  const sep = lower.lastIndexOf('1');
  if (!lower.startsWith('ln') || sep < 3) return null;
  const hrp = lower.slice(2, sep);
  for (const [prefix, network] of NETWORK_BY_HRP) {
    if (!hrp.startsWith(prefix)) continue;
    const rest = hrp.slice(prefix.length);
    // The rest is the optional amount: digits and an optional multiplier.
    if (/^(\d+[munp]?)?$/.test(rest)) return network;
  }
  return null;
}

/** Words (5 bits) of the signature at the end of the data part: 64 bytes + the recovery id. */
const SIGNATURE_WORDS = 104;
const TIMESTAMP_WORDS = 7;
/** 21 million BTC in msat (the package's bound). */
const MAX_MSAT = 2_100_000_000_000_000_000n;
const MSAT_PER_BTC = 100_000_000_000n;
/**
 * Even (required) feature bits known to LND (lnwire.Features) or assigned in BOLT 9; an invoice
 * requiring any other bit cannot be paid.
 */
const KNOWN_REQUIRED_FEATURES = new Set([
  0, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 34, 38, 44, 46, 48, 50, 54, 60, 62, 80, 160, 180, 260,
  262, 2022, 2026,
]);

function invalid(reason: string, cause?: unknown): LightningError {
  return new LightningError(`invalid BOLT11 invoice: ${reason}`, 'invalid', cause === undefined ? undefined : { cause });
}

/** words[start, end) as bytes, the trailing bits that do not fill a byte dropped. */
function wordsToBytes(words: readonly number[], start: number, end: number): Uint8Array {
  const out = new Uint8Array(Math.floor(((end - start) * 5) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = start; i < end && j < out.length; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** words[0, end) as bytes, the last byte padded with zero bits (what the signature covers). */
function wordsToPaddedBytes(words: readonly number[], end: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((end * 5) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < end; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0) out[j] = (acc << (8 - bits)) & 0xff;
  return out;
}

/** Big-endian integer of words[start, end), summed as the package did (a float past 2^53). */
function wordsToInt(words: readonly number[], start: number, end: number): number {
  let total = 0;
  for (let j = end - 1, k = 0; j >= start; j--, k++) total += words[j]! * Math.pow(32, k);
  return total;
}

/** The hrp amount (digits and an optional multiplier, already checked) in msat. */
function amountMsatOf(amount: string): bigint {
  if (amount === '') return 0n;
  const last = amount[amount.length - 1]!;
  const multiplied = /[munp]/.test(last);
  const value = BigInt(multiplied ? amount.slice(0, -1) : amount);
  let msat: bigint;
  switch (multiplied ? last : '') {
    case 'm':
      msat = (value * MSAT_PER_BTC) / 1_000n;
      break;
    case 'u':
      msat = (value * MSAT_PER_BTC) / 1_000_000n;
      break;
    case 'n':
      msat = (value * MSAT_PER_BTC) / 1_000_000_000n;
      break;
    case 'p':
      // 1 pico-BTC is a tenth of a msat: the amount must be a whole number of msat.
      if (value % 10n !== 0n) throw invalid('amount below a millisatoshi');
      msat = value / 10n;
      break;
    default:
      msat = value * MSAT_PER_BTC;
  }
  if (msat > MAX_MSAT) throw invalid('amount above 21 million BTC');
  return msat;
}

/** A fallback address field, as the package checked it (bitcoinjs-lib address encoders). */
function checkFallback(words: readonly number[], start: number, end: number, bech32Prefix: string): void {
  if (end <= start) return;
  const version = words[start]!;
  const length = Math.floor(((end - start - 1) * 5) / 8);
  if ((version === 17 || version === 18) && length !== 20) throw invalid('fallback address hash is not 20 bytes');
  // A bech32 address: prefix, separator, version, program, checksum within 90 characters.
  if ((version === 0 || version === 1) && bech32Prefix.length + 8 + Math.ceil((length * 8) / 5) > 90) {
    throw invalid('fallback witness program too long');
  }
}

/** Throws on an even feature bit we do not know (BOLT 11: "MUST fail the payment"). */
function checkFeatures(words: readonly number[], start: number, end: number): void {
  for (let j = end - 1, k = 0; j >= start; j--, k++) {
    for (let b = 0; b < 5; b++) {
      const bit = k * 5 + b;
      if (bit % 2 === 0 && (words[j]! >> b) & 1 && !KNOWN_REQUIRED_FEATURES.has(bit)) throw invalid(`unknown required feature bit ${bit}`);
    }
  }
}

/**
 * Decodes and verifies a BOLT11 payment request. Throws LightningError('invalid') when it is not a
 * well-formed, correctly signed invoice with a payment hash.
 */
export function decodeBolt11(paymentRequest: string): DecodedPaymentRequest {
  const pr = paymentRequest.trim();
  const network = networkOfPaymentRequest(pr);
  if (network === null) throw new LightningError('not a BOLT11 invoice of a known network', 'invalid');
  let prefix: string;
  let words: number[];
  try {
    ({ prefix, words } = bech32.decode(pr as `${string}1${string}`, false));
  } catch (err) {
    throw invalid((err as Error).message, err);
  }
  const dataEnd = words.length - SIGNATURE_WORDS;
  if (dataEnd < TIMESTAMP_WORDS) throw invalid('too short');
  const hrpPrefix = hrpPrefixOf(network);
  const amountMsat = amountMsatOf(prefix.slice(2 + hrpPrefix.length));
  const timestamp = wordsToInt(words, 0, TIMESTAMP_WORDS);

  let hash: string | undefined;
  let description: string | undefined;
  let descriptionHash: string | undefined;
  let nodeKey: string | undefined;
  let expiry: number | undefined;
  let cltv: number | undefined;
  let featuresSeen = false;
  for (let i = TIMESTAMP_WORDS; i < dataEnd; ) {
    const type = words[i++]!;
    // type (1 word), data_length (2 words), data; a field cut short by the signature keeps what is left.
    const lengthEnd = Math.min(i + 2, dataEnd);
    const declared = wordsToInt(words, i, lengthEnd);
    const start = lengthEnd;
    const end = Math.min(start + declared, dataEnd);
    i = start + declared;
    const length = end - start;
    switch (type) {
      case 1: // p: payment hash
        if (hash === undefined && length === 52) hash = Buffer.from(wordsToBytes(words, start, end)).toString('hex');
        break;
      case 13: // d: description (UTF-8)
        if (description === undefined) description = Buffer.from(wordsToBytes(words, start, end)).toString('utf8');
        break;
      case 23: // h: sha256 of the description (LNURL-pay: of the service's metadata)
        if (descriptionHash === undefined && length === 52) descriptionHash = Buffer.from(wordsToBytes(words, start, end)).toString('hex');
        break;
      case 19: // n: payee node key
        if (nodeKey === undefined && length === 53) nodeKey = Buffer.from(wordsToBytes(words, start, end)).toString('hex');
        break;
      case 6: // x: expiry seconds
        if (expiry === undefined) expiry = wordsToInt(words, start, end);
        break;
      case 24: // c: min_final_cltv_expiry
        if (cltv === undefined) cltv = wordsToInt(words, start, end);
        break;
      case 9: // f: fallback on-chain address
        checkFallback(words, start, end, hrpPrefix);
        break;
      case 5: // 9: features
        if (!featuresSeen) checkFeatures(words, start, end);
        featuresSeen = true;
        break;
      default: // s, r, m and unknown fields: nothing we use
    }
  }
  if (hash === undefined) throw invalid('no payment hash');

  const sig = wordsToBytes(words, dataEnd, words.length);
  const recovery = sig[64]!;
  if (recovery > 3) throw invalid('bad signature recovery id');
  const signed = Buffer.concat([Buffer.from(prefix, 'utf8'), wordsToPaddedBytes(words, dataEnd)]);
  let payee: string;
  try {
    payee = bytesToHex(ecdsaRecoverPublicKey(sig.subarray(0, 64), recovery, sha256(signed)));
  } catch (err) {
    throw invalid('signature is not recoverable', err);
  }
  if (nodeKey !== undefined && nodeKey !== payee) throw invalid('the payee key (n) does not match the signature');

  const decoded: DecodedPaymentRequest = {
    hash,
    amountMsat,
    timestamp,
    expirySeconds: expiry ?? DEFAULT_EXPIRY_SECONDS,
    minFinalCltvExpiry: cltv ?? DEFAULT_MIN_FINAL_CLTV,
    network,
    payee,
  };
  if (description !== undefined) decoded.description = description;
  if (descriptionHash !== undefined) decoded.descriptionHash = descriptionHash;
  return decoded;
}

/**
 * Whether an invoice of `invoiceNetwork` can be paid by a node on `nodeNetwork` (an LND network
 * name such as `regtest`/`testnet4`, or one of ours). Unknown node networks compare literally.
 */
export function sameNetwork(invoiceNetwork: string, nodeNetwork: string): boolean {
  const node = networkFromLnd(nodeNetwork) ?? nodeNetwork.toLowerCase();
  return invoiceNetwork === node;
}
