/**
 * BOLT11 decoding (pure, no node needed) and the chain/network names shared by invoices and LND.
 * Built on the `bolt11` package, which verifies the checksum and recovers the payee key from the
 * signature (and rejects an `n` tag that does not match it).
 */
import bolt11 from 'bolt11';
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

/**
 * Decodes and verifies a BOLT11 payment request. Throws LightningError('invalid') when it is not a
 * well-formed, correctly signed invoice with a payment hash.
 */
export function decodeBolt11(paymentRequest: string): DecodedPaymentRequest {
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
    expirySeconds: typeof expiry === 'number' ? expiry : DEFAULT_EXPIRY_SECONDS,
    minFinalCltvExpiry: typeof cltv === 'number' ? cltv : DEFAULT_MIN_FINAL_CLTV,
    network,
    payee: d.payeeNodeKey,
  };
  if (typeof d.tagsObject.description === 'string') decoded.description = d.tagsObject.description;
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
