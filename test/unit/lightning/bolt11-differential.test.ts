/**
 * Differential test of our BOLT11 decoder against the `bolt11` package it replaced: seeded random
 * invoices encoded (and mostly signed) by the package, decoded by both; and each mutated, which
 * both must refuse.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bech32 } from '@scure/base';
import bolt11 from 'bolt11';
import type { DecodedPaymentRequest } from '../../../src/lightning/backend.js';
import { bolt11NetworkOf, decodeBolt11, type Network } from '../../../src/lightning/bolt11.js';
import { field, outcomeOf, payeeOf, referenceDecode, signInvoiceWords, type Outcome } from '../../support/bolt11-craft.js';

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NETWORKS: readonly Network[] = ['mainnet', 'testnet', 'signet', 'regtest', 'simnet'];
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
/** Feature names the package encodes, in bit order (bit 2k required, 2k+1 supported). */
const FEATURE_NAMES = [
  'option_data_loss_protect',
  'initial_routing_sync',
  'option_upfront_shutdown_script',
  'gossip_queries',
  'var_onion_optin',
  'gossip_queries_ex',
  'option_static_remotekey',
  'payment_secret',
  'basic_mpp',
  'option_support_large_channel',
] as const;
/** Required bits from 20 up that LND knows (an unknown one is refused by design: bolt11-spec.test.ts). */
const KNOWN_EVEN_FROM_20 = new Set([20, 22, 24, 26, 28, 30, 34, 38, 44, 46, 48, 50, 54]);
/** Field types neither decoder reads. */
const UNKNOWN_TYPES = [0, 2, 4, 7, 8, 10, 11, 12, 14, 15, 17, 18, 20, 21, 22, 25, 26, 27, 28, 29, 30, 31];

interface Generated {
  pr: string;
  hash: string;
  payee: string;
  msat: bigint | null;
}

function generate(next: () => number): Generated {
  const int = (n: number): number => Math.floor(next() * n);
  const chance = (p: number): boolean => next() < p;
  const hex = (bytes: number): string => Buffer.from(Array.from({ length: bytes }, () => int(256))).toString('hex');
  let key: Uint8Array;
  do key = Uint8Array.from(Array.from({ length: 32 }, () => int(256)));
  while (!secp256k1.utils.isValidSecretKey(key));
  const network = NETWORKS[int(NETWORKS.length)]!;

  // Amount: none, whole BTC, m, u, n, or pico (any msat); now and then beyond 21M BTC.
  let msat: bigint | null = null;
  if (!chance(0.2)) {
    const digits = BigInt(1 + int(999_999));
    const scale = [100_000_000_000n, 100_000_000n, 100_000n, 100n, 1n][int(5)]!;
    msat = digits * scale * (chance(0.3) ? BigInt(1 + int(9999)) : 1n);
    if (chance(0.02)) msat = 2_100_000_000_000_000_000n + BigInt(int(3)) * 100_000_000_000n;
  }
  const tags: Array<{ tagName: string; data: bolt11.TagData }> = [];
  const hash = hex(32);
  tags.push({ tagName: 'payment_hash', data: hash });
  if (chance(0.75)) {
    const parts = ['coffee', ' ', 'ナンセンス', '€', '😀', '"quoted"', '\n', 'x'.repeat(int(80)), String(int(1e6))];
    let text = '';
    const count = chance(0.1) ? 300 : int(12);
    for (let i = 0; i < count; i++) text += parts[int(parts.length)]!;
    while (Buffer.byteLength(text, 'utf8') > 639) text = text.slice(0, -1);
    tags.push({ tagName: 'description', data: text });
  }
  if (tags.length === 1 || chance(0.2)) tags.push({ tagName: 'purpose_commit_hash', data: hex(32) });
  const secret = chance(0.6);
  if (secret) tags.push({ tagName: 'payment_secret', data: hex(32) });
  if (secret || chance(0.3)) {
    const fb: Record<string, unknown> = {};
    for (const name of FEATURE_NAMES) {
      // initial_routing_sync has no required bit (2 is unknown): only its odd bit.
      fb[name] = { required: name !== 'initial_routing_sync' && chance(0.2), supported: chance(0.5) };
    }
    if (secret) fb['payment_secret'] = { required: chance(0.5), supported: true };
    if (chance(0.4)) {
      const bits = Array.from({ length: int(40) }, (_, i) => ((20 + i) % 2 === 1 || KNOWN_EVEN_FROM_20.has(20 + i)) && chance(0.3));
      fb['extra_bits'] = { start_bit: 20, bits, has_required: false };
    }
    tags.push({ tagName: 'feature_bits', data: fb as bolt11.TagData });
  }
  if (chance(0.6)) tags.push({ tagName: 'expire_time', data: chance(0.8) ? int(1_000_000) : int(2 ** 40) });
  if (chance(0.6)) tags.push({ tagName: 'min_final_cltv_expiry', data: chance(0.8) ? int(5000) : int(2 ** 32) });
  const withN = chance(0.4);
  if (withN) tags.push({ tagName: 'payee_node_key', data: payeeOf(key) });
  for (let i = chance(0.25) ? 1 + int(2) : 0; i > 0; i--) {
    const code = [17, 18, 0, 0, 1][int(5)]!;
    tags.push({ tagName: 'fallback_address', data: { code, addressHash: hex(code === 0 && chance(0.5) ? 32 : code === 1 ? 32 : 20) } as bolt11.TagData });
  }
  for (let i = chance(0.3) ? 1 + int(2) : 0; i > 0; i--) {
    const hops = Array.from({ length: 1 + int(3) }, () => ({
      pubkey: payeeOf(secp256k1.utils.randomSecretKey(Uint8Array.from(Array.from({ length: 48 }, () => int(256))))),
      short_channel_id: hex(8),
      fee_base_msat: int(2 ** 32),
      fee_proportional_millionths: int(2 ** 32),
      cltv_expiry_delta: int(65536),
    }));
    tags.push({ tagName: 'routing_info', data: hops });
  }
  // Shuffle (the package writes tags in the given order).
  for (let i = tags.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [tags[i], tags[j]] = [tags[j]!, tags[i]!];
  }
  const unsigned = bolt11.encode(
    {
      network: bolt11NetworkOf(network),
      timestamp: int(2 ** 35),
      ...(msat === null ? {} : { millisatoshis: msat.toString() }),
      tags,
    },
    false,
  );
  let pr: string;
  if (chance(0.7)) {
    pr = bolt11.sign(unsigned, Buffer.from(key).toString('hex')).paymentRequest!;
  } else {
    // Unknown fields the package cannot write, inserted among the others, then signed by us.
    const words = bech32.decode(unsigned.wordsTemp as `${string}1${string}`, false).words;
    const extra = Array.from({ length: 1 + int(3) }, () => field(UNKNOWN_TYPES[int(UNKNOWN_TYPES.length)]!, Array.from({ length: int(60) }, () => int(32))));
    pr = signInvoiceWords(unsigned.prefix!, [...words, ...extra.flat()], key);
  }
  if (chance(0.1)) pr = pr.toUpperCase();
  return { pr, hash, payee: payeeOf(key), msat };
}

/** One random change that the checksum (or the case rule) must catch. */
function mutate(pr: string, next: () => number): string {
  const int = (n: number): number => Math.floor(next() * n);
  const sep = pr.lastIndexOf('1');
  const upper = pr === pr.toUpperCase();
  const kind = int(3);
  if (kind === 0) {
    // Substitute one data character by another of the charset.
    const i = sep + 1 + int(pr.length - sep - 1);
    const cur = pr[i]!.toLowerCase();
    let c = cur;
    while (c === cur) c = CHARSET[int(32)]!;
    return pr.slice(0, i) + (upper ? c.toUpperCase() : c) + pr.slice(i + 1);
  }
  if (kind === 1) {
    // Change a character of the human-readable part (network or amount).
    const i = 2 + int(sep - 2);
    const cur = pr[i]!.toLowerCase();
    const pool = /\d/.test(cur) ? '0123456789' : 'bctrsmunp';
    let c = cur;
    while (c === cur) c = pool[int(pool.length)]!;
    return pr.slice(0, i) + (upper ? c.toUpperCase() : c) + pr.slice(i + 1);
  }
  // Mixed case: one letter in the other case.
  let i = int(pr.length);
  while (!/[a-z]/i.test(pr[i]!)) i = (i + 1) % pr.length;
  const ch = pr[i]!;
  return pr.slice(0, i) + (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) + pr.slice(i + 1);
}

const show = (o: Outcome): string => JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

void describe('decodeBolt11 against the bolt11 package (seeded random invoices)', () => {
  const RUNS = 2_000;

  void test(`${RUNS} random invoices: the same result from both decoders`, () => {
    const next = rng(20_240_611);
    let accepted = 0;
    for (let i = 0; i < RUNS; i++) {
      const g = generate(next);
      const ours = outcomeOf(decodeBolt11, g.pr);
      const ref = outcomeOf(referenceDecode, g.pr);
      assert.equal(ours.ok, ref.ok, `#${i} ${g.pr}\nours ${show(ours)}\nref ${show(ref)}`);
      if (!ours.ok || !ref.ok) {
        assert.ok(g.msat !== null && g.msat > 2_100_000_000_000_000_000n, `#${i} only amounts over 21M BTC are refused: ${show(ours)}`);
        continue;
      }
      accepted++;
      assert.deepEqual(ours.value, ref.value, `#${i} ${g.pr}`);
      const v: DecodedPaymentRequest = ours.value;
      assert.equal(v.hash, g.hash);
      assert.equal(v.payee, g.payee);
      assert.equal(v.amountMsat, g.msat ?? 0n);
    }
    assert.ok(accepted > RUNS * 0.95, `accepted ${accepted}`);
  });

  void test(`${RUNS} mutated invoices: both refuse`, () => {
    const next = rng(77);
    for (let i = 0; i < RUNS; i++) {
      const g = generate(next);
      const bad = mutate(g.pr, next);
      const ours = outcomeOf(decodeBolt11, bad);
      const ref = outcomeOf(referenceDecode, bad);
      assert.equal(ours.ok, false, `#${i} ours accepted ${bad}`);
      assert.equal(ref.ok, false, `#${i} the package accepted ${bad}`);
    }
  });
});
