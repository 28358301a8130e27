import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bech32 } from '@scure/base';
import { LightningError } from '../../../src/errors.js';
import type { DecodedPaymentRequest } from '../../../src/lightning/backend.js';
import { decodeBolt11 } from '../../../src/lightning/bolt11.js';
import {
  bytesToWords,
  field,
  intToWords,
  outcomeOf,
  payeeOf,
  referenceDecode,
  signInvoiceWords,
  signingHash,
  timestampWords,
} from '../../support/bolt11-craft.js';

const PAYEE = '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad';
const H = '0001020304050607080900010203040506070809000102030405060708090102';
/** sha256 of the BOLT 11 examples' long description ("One piece of chocolate cake, …"), their `h` field. */
const CAKE = '3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1';

/** The examples of BOLT 11 (lightning/bolts 11-payment-encoding.md), all signed by the same key. */
const VALID: ReadonlyArray<readonly [string, string, DecodedPaymentRequest]> = [
  [
    'donation, any amount',
    'lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq8rkx3yf5tcsyz3d73gafnh3cax9rn449d9p5uxz9ezhhypd0elx87sjle52x86fux2ypatgddc6k63n7erqz25le42c4u4ecky03ylcqca784w',
    { hash: H, amountMsat: 0n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, description: 'Please consider supporting this project' },
  ],
  [
    '$3 coffee within one minute',
    'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp',
    { hash: H, amountMsat: 250000000n, timestamp: 1496314658, expirySeconds: 60, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, description: '1 cup coffee' },
  ],
  [
    'nonsense (UTF-8) within one minute',
    'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny',
    { hash: H, amountMsat: 250000000n, timestamp: 1496314658, expirySeconds: 60, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, description: 'ナンセンス 1杯' },
  ],
  [
    '$24, hashed description',
    'lnbc20m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqscc6gd6ql3jrc5yzme8v4ntcewwz5cnw92tz0pc8qcuufvq7khhr8wpald05e92xw006sq94mg8v2ndf4sefvf9sygkshp5zfem29trqq2yxxz7',
    { hash: H, amountMsat: 2000000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, descriptionHash: CAKE },
  ],
  [
    'testnet, P2PKH fallback',
    'lntb20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfpp3x9et2e20v6pu37c5d9vax37wxq72un98kmzzhznpurw9sgl2v0nklu2g4d0keph5t7tj9tcqd8rexnd07ux4uv2cjvcqwaxgj7v4uwn5wmypjd5n69z2xm3xgksg28nwht7f6zspwp3f9t',
    { hash: H, amountMsat: 2000000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'testnet', payee: PAYEE, descriptionHash: CAKE },
  ],
  [
    'P2PKH fallback and routing hints',
    'lnbc20m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqsfpp3qjmp7lwpagxun9pygexvgpjdc4jdj85fr9yq20q82gphp2nflc7jtzrcazrra7wwgzxqc8u7754cdlpfrmccae92qgzqvzq2ps8pqqqqqqpqqqqq9qqqvpeuqafqxu92d8lr6fvg0r5gv0heeeqgcrqlnm6jhphu9y00rrhy4grqszsvpcgpy9qqqqqqgqqqqq7qqzqj9n4evl6mr5aj9f58zp6fyjzup6ywn3x6sk8akg5v4tgn2q8g4fhx05wf6juaxu9760yp46454gpg5mtzgerlzezqcqvjnhjh8z3g2qqdhhwkj',
    { hash: H, amountMsat: 2000000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, descriptionHash: CAKE },
  ],
  [
    'P2SH fallback',
    'lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppj3a24vwu6r8ejrss3axul8rxldph2q7z9kmrgvr7xlaqm47apw3d48zm203kzcq357a4ls9al2ea73r8jcceyjtya6fu5wzzpe50zrge6ulk4nvjcpxlekvmxl6qcs9j3tz0469gq5g658y',
    { hash: H, amountMsat: 2000000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, descriptionHash: CAKE },
  ],
  [
    'P2WPKH fallback',
    'lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppqw508d6qejxtdg4y5r3zarvary0c5xw7kepvrhrm9s57hejg0p662ur5j5cr03890fa7k2pypgttmh4897d3raaq85a293e9jpuqwl0rnfuwzam7yr8e690nd2ypcq9hlkdwdvycqa0qza8',
    { hash: H, amountMsat: 2000000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, descriptionHash: CAKE },
  ],
  [
    'P2WSH fallback',
    'lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfp4qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q28j0v3rwgy9pvjnd48ee2pl8xrpxysd5g44td63g6xcjcu003j3qe8878hluqlvl3km8rm92f5stamd3jw763n3hck0ct7p8wwj463cql26ava',
    { hash: H, amountMsat: 2000000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, descriptionHash: CAKE },
  ],
  [
    'pico-BTC amount, expiry a week, cltv 10, routing hint',
    'lnbc9678785340p1pwmna7lpp5gc3xfm08u9qy06djf8dfflhugl6p7lgza6dsjxq454gxhj9t7a0sd8dgfkx7cmtwd68yetpd5s9xar0wfjn5gpc8qhrsdfq24f5ggrxdaezqsnvda3kkum5wfjkzmfqf3jkgem9wgsyuctwdus9xgrcyqcjcgpzgfskx6eqf9hzqnteypzxz7fzypfhg6trddjhygrcyqezcgpzfysywmm5ypxxjemgw3hxjmn8yptk7untd9hxwg3q2d6xjcmtv4ezq7pqxgsxzmnyyqcjqmt0wfjjq6t5v4khxxqyjw5qcqp2rzjq0gxwkzc8w6323m55m4jyxcjwmy7stt9hwkwe2qxmy8zpsgg7jcuwz87fcqqeuqqqyqqqqlgqqqqn3qq9qn07ytgrxxzad9hc4xt3mawjjt8znfv8xzscs7007v9gh9j569lencxa8xeujzkxs0uamak9aln6ez02uunw6rd2ht2sqe4hz8thcdagpleym0j',
    { hash: '462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f', amountMsat: 967878534n, timestamp: 1572468703, expirySeconds: 604800, minFinalCltvExpiry: 10, network: 'mainnet', payee: PAYEE, description: 'Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, "Back In My Day" Sticker x 2, "I Got Lightning Working" Sticker x 2 and 1 more items' },
  ],
  [
    'features 9, 15, 99 and a payment secret',
    'lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq67gye39hfg3zd8rgc80k32tvy9xk2xunwm5lzexnvpx6fd77en8qaq424dxgt56cag2dpt359k3ssyhetktkpqh24jqnjyw6uqd08sgptq44qu',
    { hash: H, amountMsat: 2500000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, description: 'coffee beans' },
  ],
  [
    'the same, upper case',
    'LNBC25M1PVJLUEZPP5QQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQYPQDQ5VDHKVEN9V5SXYETPDEESSP5ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYGS9Q5SQQQQQQQQQQQQQQQPQSQ67GYE39HFG3ZD8RGC80K32TVY9XK2XUNWM5LZEXNVPX6FD77EN8QAQ424DXGT56CAG2DPT359K3SSYHETKTKPQH24JQNJYW6UQD08SGPTQ44QU',
    { hash: H, amountMsat: 2500000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, description: 'coffee beans' },
  ],
  [
    'the same, with fields a reader must skip',
    'lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq2qrqqqfppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqpp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhpnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqspnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnpkqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq2jxxfsnucm4jf4zwtznpaxphce606fvhvje5x7d4gw7n73994hgs7nteqvenq8a4ml8aqtchv5d9pf7l558889hp4yyrqv6a7zpq9fgpskqhza',
    { hash: H, amountMsat: 2500000000n, timestamp: 1496314658, expirySeconds: 3600, minFinalCltvExpiry: 18, network: 'mainnet', payee: PAYEE, description: 'coffee beans' },
  ],
];

const INVALID: ReadonlyArray<readonly [string, string]> = [
  ['unknown required feature 100', 'lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q4psqqqqqqqqqqqqqqqpqsqq40wa3khl49yue3zsgm26jrepqr2eghqlx86rttutve3ugd05em86nsefzh4pfurpd9ek9w2vp95zxqnfe2u7ckudyahsa52q66tgzcp6t2dyk'],
  ['bad bech32 checksum', 'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt'],
  ['no separator (no 1)', 'pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny'],
  ['mixed case', 'LNBC2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny'],
  ['signature not recoverable', 'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaxtrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspk28uwq'],
  ['too short', 'lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6na6hlh'],
  ['invalid multiplier', 'lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpujr6jxr9gq9pv6g46y7d20jfkegkg4gljz2ea2a3m9lmvvr95tq2s0kvu70u3axgelz3kyvtp2ywwt0y8hkx2869zq5dll9nelr83zzqqpgl2zg'],
  ['sub-millisatoshi amount', 'lnbc2500000001p1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu7hqtk93pkf7sw55rdv4k9z2vj050rxdr6za9ekfs3nlt5lr89jqpdmxsmlj9urqumg0h9wzpqecw7th56tdms40p2ny9q4ddvjsedzcplva53s'],
];

const isInvalid = (e: unknown): boolean => e instanceof LightningError && e.code === 'invalid';

void describe('BOLT 11 examples', () => {
  for (const [name, pr, expected] of VALID) {
    void test(`valid: ${name}`, () => {
      assert.deepEqual(decodeBolt11(pr), expected);
    });
  }
  for (const [name, pr] of INVALID) {
    void test(`invalid: ${name}`, () => {
      assert.throws(() => decodeBolt11(pr), isInvalid);
    });
  }
  void test('the package-based decoder agreed on all but two (fixed here)', () => {
    // It refused the invoice with fields to skip (it checked a 52-word `n` against the signature)
    // and accepted the one requiring unknown feature 100.
    const disagree = [...VALID.map(([n, pr]) => [n, pr] as const), ...INVALID].filter(
      ([, pr]) => outcomeOf(decodeBolt11, pr).ok !== outcomeOf(referenceDecode, pr).ok,
    );
    assert.deepEqual(
      disagree.map(([n]) => n),
      ['the same, with fields a reader must skip', 'unknown required feature 100'],
    );
  });
});

// Crafted invoices, signed by KEY.
const KEY = new Uint8Array(32).fill(7);
const OTHER = new Uint8Array(32).fill(9);
const HASH = new Uint8Array(32).map((_, i) => i * 3);
const HASH_HEX = Buffer.from(HASH).toString('hex');
const TS = 1_700_000_000;
const p = (bytes: Uint8Array = HASH): number[] => field(1, bytesToWords(bytes));
const d = (text: string): number[] => field(13, bytesToWords(Buffer.from(text, 'utf8')));
const n = (key: Uint8Array): number[] => field(19, bytesToWords(secp256k1.getPublicKey(key, true)));
const invoice = (fields: number[][], hrp = 'lnbcrt10u'): string => signInvoiceWords(hrp, [...timestampWords(TS), ...fields.flat()], KEY);
const decoded = (extra: Partial<DecodedPaymentRequest> = {}): DecodedPaymentRequest => ({
  hash: HASH_HEX,
  amountMsat: 1_000_000n,
  timestamp: TS,
  expirySeconds: 3600,
  minFinalCltvExpiry: 18,
  network: 'regtest',
  payee: payeeOf(KEY),
  ...extra,
});
/** Features field with these bits set. */
const features = (bits: number[]): number[] => {
  const top = Math.max(...bits);
  const words = new Array<number>(Math.floor(top / 5) + 1).fill(0);
  for (const b of bits) words[words.length - 1 - Math.floor(b / 5)]! |= 1 << b % 5;
  return field(5, words);
};

/** Ours and the package-based decoder accept or refuse alike, and agree on what they accept. */
function sameResult(pr: string): void {
  const ours = outcomeOf(decodeBolt11, pr);
  const ref = outcomeOf(referenceDecode, pr);
  assert.equal(ours.ok, ref.ok, `ours ${JSON.stringify(ours, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  if (ours.ok && ref.ok) assert.deepEqual(ours.value, ref.value);
}

void describe('decodeBolt11: crafted invoices', () => {
  void test('a minimal invoice; the same as the package', () => {
    const pr = invoice([p()]);
    assert.deepEqual(decodeBolt11(pr), decoded());
    sameResult(pr);
    assert.deepEqual(decodeBolt11(`  ${pr}\n`), decoded(), 'surrounding whitespace is trimmed');
  });

  void test('n equal to the signer is accepted; another key is refused (both decoders)', () => {
    sameResult(invoice([p(), n(KEY)]));
    assert.deepEqual(decodeBolt11(invoice([p(), n(KEY)])), decoded());
    const forged = invoice([p(), n(OTHER)]);
    assert.throws(() => decodeBolt11(forged), isInvalid);
    sameResult(forged);
  });

  void test('signed by another key: the payee is that key (recovered)', () => {
    const pr = signInvoiceWords('lnbcrt10u', [...timestampWords(TS), ...p()], OTHER);
    assert.equal(decodeBolt11(pr).payee, payeeOf(OTHER));
    sameResult(pr);
  });

  void test('a high-S signature (the other recovery id) recovers the same key', () => {
    const data = [...timestampWords(TS), ...p(), ...d('high s')];
    const sig = secp256k1.Signature.fromBytes(
      secp256k1.sign(signingHash('lnbcrt10u', data), KEY, { prehash: false, format: 'recovered' }),
      'recovered',
    );
    // (r, n − s) with the other recovery id is the same signature of the same key.
    const flipped = new secp256k1.Signature(sig.r, secp256k1.Point.CURVE().n - sig.s, sig.recovery! ^ 1);
    assert.ok(flipped.hasHighS());
    const bytes = new Uint8Array(65);
    bytes.set(flipped.toBytes('compact'), 0);
    bytes[64] = flipped.recovery!;
    const pr = bech32.encode('lnbcrt10u', [...data, ...bech32.toWords(bytes)], false);
    assert.equal(decodeBolt11(pr).payee, payeeOf(KEY));
    sameResult(pr);
  });

  void test('a recovery id above 3 is refused', () => {
    const data = [...timestampWords(TS), ...p()];
    const sig = secp256k1.sign(signingHash('lnbcrt10u', data), KEY, { prehash: false, format: 'recovered' });
    for (const rec of [4, 7, 255]) {
      const bytes = new Uint8Array(65);
      bytes.set(sig.subarray(1), 0);
      bytes[64] = rec;
      const pr = bech32.encode('lnbcrt10u', [...data, ...bech32.toWords(bytes)], false);
      assert.throws(() => decodeBolt11(pr), isInvalid);
      sameResult(pr);
    }
  });

  void test('no payment hash, or only ones of the wrong length: refused', () => {
    for (const fields of [[d('no hash')], [field(1, bytesToWords(HASH).slice(0, 51))], [field(1, [...bytesToWords(HASH), 0])]]) {
      const pr = invoice(fields);
      assert.throws(() => decodeBolt11(pr), isInvalid);
      sameResult(pr);
    }
    assert.throws(() => decodeBolt11(signInvoiceWords('lnbcrt10u', timestampWords(TS), KEY)), isInvalid, 'timestamp only');
  });

  void test('spec: p, n of the wrong length are skipped (the package took them)', () => {
    const short = field(1, new Array<number>(51).fill(3));
    const long = field(1, new Array<number>(53).fill(3));
    assert.deepEqual(decodeBolt11(invoice([short, long, p()])), decoded());
    assert.deepEqual(decodeBolt11(invoice([short, p(), long])), decoded());
    assert.throws(() => referenceDecode(invoice([short, p(), long])), isInvalid, 'the package kept the last p');
    const badN = field(19, new Array<number>(52).fill(1));
    assert.deepEqual(decodeBolt11(invoice([p(), badN])), decoded());
    assert.deepEqual(decodeBolt11(invoice([p(), badN, n(KEY)])), decoded());
    assert.throws(() => decodeBolt11(invoice([p(), badN, n(OTHER)])), isInvalid, 'the first valid n counts');
  });

  void test('repeated p, d, x, c: the first counts (as LND; the package kept the last)', () => {
    const other = new Uint8Array(32).fill(1);
    const pr = invoice([p(), d('first'), field(6, intToWords(60)), field(24, intToWords(40)), p(other), d('second'), field(6, intToWords(99)), field(24, intToWords(99))]);
    assert.deepEqual(decodeBolt11(pr), decoded({ description: 'first', expirySeconds: 60, minFinalCltvExpiry: 40 }));
    assert.equal(referenceDecode(pr).hash, Buffer.from(other).toString('hex'));
  });

  void test('x, c: any length, big-endian; empty is 0; absent gives the defaults', () => {
    for (const v of [0, 1, 31, 32, 3600, 604_800, 2 ** 31, 2 ** 40 + 5]) {
      const pr = invoice([p(), field(6, intToWords(v)), field(24, intToWords(v))]);
      assert.deepEqual(decodeBolt11(pr), decoded({ expirySeconds: v, minFinalCltvExpiry: v }));
      sameResult(pr);
    }
    const empty = invoice([p(), field(6, []), field(24, [])]);
    assert.deepEqual(decodeBolt11(empty), decoded({ expirySeconds: 0, minFinalCltvExpiry: 0 }));
    sameResult(empty);
  });

  void test('d: UTF-8, invalid bytes replaced as Buffer does, trailing bits dropped; empty is ""', () => {
    for (const bytes of [Buffer.from(''), Buffer.from('€ 😀 ナンセンス'), Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x82, 0x41]), Buffer.from([0xef, 0xbb, 0xbf, 0x41])]) {
      const pr = invoice([p(), field(13, bytesToWords(bytes))]);
      assert.equal(decodeBolt11(pr).description, bytes.toString('utf8'));
      sameResult(pr);
    }
    const long = 'x'.repeat(639);
    assert.equal(decodeBolt11(invoice([p(), d(long)])).description, long);
  });

  void test('unknown fields, s, r, m are skipped; h is read', () => {
    const pr = invoice([
      field(0, [1, 2, 3]),
      field(16, bytesToWords(new Uint8Array(32).fill(17))),
      p(),
      field(23, bytesToWords(new Uint8Array(32).fill(5))),
      field(27, bytesToWords(Buffer.from('metadata'))),
      field(31, []),
      field(3, bytesToWords(new Uint8Array(51).fill(2))),
    ]);
    assert.deepEqual(decodeBolt11(pr), decoded({ descriptionHash: '05'.repeat(32) }));
    sameResult(pr);
  });

  void test('h: the first of 52 words counts, other lengths are skipped (BOLT 11)', () => {
    const h = (fill: number, bytes = 32): number[] => field(23, bytesToWords(new Uint8Array(bytes).fill(fill)));
    assert.deepEqual(decodeBolt11(invoice([p(), h(7, 31), h(8), h(9)])), decoded({ descriptionHash: '08'.repeat(32) }));
    assert.deepEqual(decodeBolt11(invoice([p(), h(7, 33)])), decoded());
  });

  void test('a field cut short by the signature keeps what is left (as the package)', () => {
    const data = [...timestampWords(TS), ...p(), 13, 3, 0, ...bytesToWords(Buffer.from('cut'))];
    const pr = signInvoiceWords('lnbcrt10u', data, KEY);
    assert.equal(decodeBolt11(pr).description, 'cut');
    sameResult(pr);
    for (const tail of [[13], [13, 1]]) {
      const pr2 = signInvoiceWords('lnbcrt10u', [...timestampWords(TS), ...p(), ...tail], KEY);
      sameResult(pr2);
    }
  });

  void test('features: unknown even bits are refused, odd ones and known even ones accepted', () => {
    for (const bits of [[9, 15, 99], [8, 14, 16], [17, 49, 2023], [48, 262], [0, 4, 6, 10, 12, 18, 20, 22, 24, 26, 28, 30]]) {
      assert.deepEqual(decodeBolt11(invoice([p(), features(bits)])), decoded(), `bits ${bits.join(',')}`);
    }
    for (const bits of [[9, 15, 100], [2], [32], [14, 40], [5112]]) {
      const pr = invoice([p(), features(bits)]);
      assert.throws(() => decodeBolt11(pr), isInvalid, `bits ${bits.join(',')}`);
      assert.equal(referenceDecode(pr).hash, HASH_HEX, 'the package ignored feature bits');
    }
    assert.deepEqual(decodeBolt11(invoice([p(), field(5, [])])), decoded(), 'an empty feature field');
  });

  void test('fallback addresses: checked as the package did', () => {
    const f = (version: number, bytes: number): number[] => field(9, [version, ...bytesToWords(new Uint8Array(bytes).fill(0xab))]);
    for (const [fields, ok] of [
      [[f(17, 20)], true],
      [[f(18, 20)], true],
      [[f(0, 20)], true],
      [[f(0, 32)], true],
      [[f(1, 32)], true],
      [[f(5, 3)], true],
      [[f(19, 0)], true],
      [[field(9, [])], true],
      [[f(17, 19)], false],
      [[f(18, 21)], false],
      [[f(17, 20), f(18, 32)], false],
      [[f(0, 60)], false],
      [[f(1, 60)], false],
    ] as const) {
      const pr = invoice([p(), ...fields]);
      assert.equal(outcomeOf(decodeBolt11, pr).ok, ok, JSON.stringify(fields));
      sameResult(pr);
    }
  });

  void test('amounts: multipliers, pico rule, leading zeros, 21 million BTC', () => {
    for (const [hrp, msat] of [
      ['lnbcrt', 0n],
      ['lnbcrt1', 100_000_000_000n],
      ['lnbcrt25m', 2_500_000_000n],
      ['lnbcrt2500u', 250_000_000n],
      ['lnbcrt7n', 700n],
      ['lnbcrt10p', 1n],
      ['lnbcrt9678785340p', 967_878_534n],
      ['lnbcrt0010u', 1_000_000n],
      ['lnbcrt0', 0n],
      ['lnbcrt21000000', 2_100_000_000_000_000_000n],
    ] as const) {
      const pr = invoice([p()], hrp);
      assert.equal(decodeBolt11(pr).amountMsat, msat, hrp);
      sameResult(pr);
    }
    for (const hrp of ['lnbcrt15p', 'lnbcrt21000001', 'lnbcrt21000000001m', 'lnbcrt1x', 'lnbcrtm', 'lnbcrt1.5m']) {
      const pr = invoice([p()], hrp);
      assert.throws(() => decodeBolt11(pr), isInvalid, hrp);
      sameResult(pr);
    }
  });

  void test('every network; an unknown hrp is refused', () => {
    for (const [hrp, network] of [
      ['lnbc', 'mainnet'],
      ['lntb', 'testnet'],
      ['lntbs', 'signet'],
      ['lnbcrt', 'regtest'],
      ['lnsb', 'simnet'],
    ] as const) {
      const pr = invoice([p()], `${hrp}1m`);
      assert.equal(decodeBolt11(pr).network, network);
      sameResult(pr);
    }
    for (const hrp of ['lnxy1m', 'lnltc1m', 'bc1m', 'ln1m']) assert.throws(() => decodeBolt11(invoice([p()], hrp)), isInvalid, hrp);
  });
});
