/**
 * secp256k1 primitives used by the protocol and transport layers, behind one small module so the
 * implementation can use fast native/WASM code while pure JS stays the fallback.
 * All keys are 32-byte x-only (BIP-340) unless stated; hex is lowercase.
 *
 * Backends (chosen once at load, see `cryptoBackend()`):
 * - ECDH and ECDSA public-key recovery (BOLT11 payee): the native `secp256k1@5` addon (prebuilt in
 *   its npm tarball for linux-x64, darwin-arm64, win32-x64) — about 40x faster than pure JS; falls
 *   back to @noble/curves.
 * - Schnorr sign/verify and public-key derivation: BIP-340 composed from the same native addon's
 *   group and scalar operations (`schnorr-native.ts`; verify 283 → ~70 µs, sign 274 → ~60 µs here);
 *   else `tiny-secp256k1` (libsecp256k1 compiled to WASM, about 5x faster than pure JS); else
 *   @noble/curves. `MOSTROD_SCHNORR_BACKEND=native|wasm|noble` picks one (diagnosis, benchmarks);
 *   an unknown value or an unavailable choice stops the load with an error naming the variable.
 * - SHA-256: node:crypto (OpenSSL).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { schnorr, secp256k1 as nobleSecp } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { randomBytes } from './random.js';
import { nativeSchnorr, type SchnorrImpl, type SecpAddon } from './schnorr-native.js';

export { bytesToHex, hexToBytes };

/** The operations a backend provides; every input is already length-checked bytes. */
export interface SecpBackend {
  readonly name: string;
  /** x-only public key (32 bytes) of a 32-byte secret key; throws on an invalid key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** 64-byte BIP-340 signature; `aux` is 32 bytes of fresh randomness. */
  sign(msg32: Uint8Array, secretKey: Uint8Array, aux: Uint8Array): Uint8Array;
  /** BIP-340 verification; may throw on malformed input (callers catch). */
  verify(sig64: Uint8Array, msg32: Uint8Array, pubkey32: Uint8Array): boolean;
  /** x coordinate (32 bytes) of secretKey·P where P is the even-y point with x = pubkeyX. */
  ecdhX(secretKey: Uint8Array, pubkeyX: Uint8Array): Uint8Array;
  /**
   * Compressed public key (33 bytes) of the ECDSA signer: compact signature r‖s (64 bytes),
   * recovery id 0..3, 32-byte digest. Throws when the signature is malformed or recovers no key.
   */
  ecdsaRecover(sig64: Uint8Array, recovery: number, msg32: Uint8Array): Uint8Array;
}

const EVEN_PREFIX = 0x02;

function compressedEven(pubkeyX: Uint8Array): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = EVEN_PREFIX;
  out.set(pubkeyX, 1);
  return out;
}

/** Pure-JS reference backend (@noble/curves). Always available. */
export const nobleBackend: SecpBackend = {
  name: 'noble',
  publicKey: (sk) => schnorr.getPublicKey(sk),
  sign: (msg, sk, aux) => schnorr.sign(msg, sk, aux),
  verify: (sig, msg, pk) => schnorr.verify(sig, msg, pk),
  ecdhX: (sk, pkX) => nobleSecp.getSharedSecret(sk, compressedEven(pkX), true).subarray(1, 33),
  ecdsaRecover: (sig, recovery, msg) => nobleSecp.Signature.fromBytes(sig, 'compact').addRecoveryBit(recovery).recoverPublicKey(msg).toBytes(true),
};

interface NativeSecp256k1 extends SecpAddon {
  ecdh(
    pubkey: Uint8Array,
    seckey: Uint8Array,
    opts: { hashfn: (x: Uint8Array, y: Uint8Array) => Uint8Array; xbuf?: Uint8Array; ybuf?: Uint8Array },
    output: Uint8Array,
  ): Uint8Array;
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
}

interface TinySecp256k1 {
  xOnlyPointFromScalar(d: Uint8Array): Uint8Array;
  signSchnorr(h: Uint8Array, d: Uint8Array, e?: Uint8Array): Uint8Array;
  verifySchnorr(h: Uint8Array, q: Uint8Array, sig: Uint8Array): boolean;
}

function loadNative(): NativeSecp256k1 | null {
  try {
    const require = createRequire(import.meta.url);
    // 'secp256k1/bindings' is the native addon only; the package root silently falls back to elliptic.
    const mod = require('secp256k1/bindings') as NativeSecp256k1;
    // Smoke test: 1·G has x = G.x.
    const one = new Uint8Array(32);
    one[31] = 1;
    const gx = hexToBytes('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
    const x = mod.ecdh(compressedEven(gx), one, { hashfn: (xb) => new Uint8Array(xb) }, new Uint8Array(32));
    return bytesToHex(x) === bytesToHex(gx) ? mod : null;
  } catch {
    return null;
  }
}

function loadTiny(): TinySecp256k1 | null {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('tiny-secp256k1') as TinySecp256k1;
    const one = new Uint8Array(32);
    one[31] = 1;
    mod.xOnlyPointFromScalar(one);
    return mod;
  } catch {
    return null;
  }
}

type SchnorrChoice = 'native' | 'wasm' | 'noble';

/** BIP-340 test vector 1 (sign, then verify) and its negated-message failure: a wrong build never signs. */
function selfCheck(impl: SchnorrImpl): boolean {
  try {
    const sk = hexToBytes('b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef');
    const msg = hexToBytes('243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89');
    const aux = new Uint8Array(32);
    aux[31] = 1;
    const pk = impl.publicKey(sk);
    const sig = impl.sign(msg, sk, aux);
    const bad = msg.slice();
    bad[0] = bad[0]! ^ 1;
    return (
      bytesToHex(pk) === 'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659' &&
      bytesToHex(sig) ===
        '6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de33418906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a' &&
      impl.verify(sig, msg, pk) &&
      !impl.verify(sig, bad, pk)
    );
  } catch {
    return false;
  }
}

/** The Schnorr implementation: `MOSTROD_SCHNORR_BACKEND` if set, else the fastest available. */
function chooseSchnorr(native: NativeSecp256k1 | null, env = process.env.MOSTROD_SCHNORR_BACKEND): { name: SchnorrChoice; impl: SchnorrImpl } {
  const wanted = env === undefined || env === '' ? undefined : env;
  if (wanted !== undefined && wanted !== 'native' && wanted !== 'wasm' && wanted !== 'noble') {
    throw new Error(`MOSTROD_SCHNORR_BACKEND must be native, wasm or noble (got ${JSON.stringify(wanted)})`);
  }
  if (wanted === 'noble') return { name: 'noble', impl: nobleBackend };
  if (native && (wanted === undefined || wanted === 'native')) {
    const impl = nativeSchnorr(native, nobleBackend);
    if (selfCheck(impl)) return { name: 'native', impl };
    if (wanted === 'native') throw new Error('MOSTROD_SCHNORR_BACKEND=native: the native implementation failed its self-check');
  }
  const tiny = wanted === 'native' ? null : loadTiny();
  if (tiny) {
    return {
      name: 'wasm',
      impl: {
        publicKey: (sk) => tiny.xOnlyPointFromScalar(sk),
        sign: (msg, sk, aux) => tiny.signSchnorr(msg, sk, aux),
        verify: (sig, msg, pk) => tiny.verifySchnorr(msg, pk, sig),
      },
    };
  }
  if (wanted !== undefined) throw new Error(`MOSTROD_SCHNORR_BACKEND=${wanted}: that implementation does not load on this platform`);
  return { name: 'noble', impl: nobleBackend };
}

function buildFastBackend(): SecpBackend {
  const native = loadNative();
  const schnorrImpl = chooseSchnorr(native);
  const x32 = new Uint8Array(32);
  const y32 = new Uint8Array(32);
  const parts: string[] = [];
  parts.push(native ? 'ecdh:native' : 'ecdh:noble');
  // (ECDSA recovery follows ECDH: native with it, noble without.)
  parts.push(`schnorr:${schnorrImpl.name}`);
  const { impl } = schnorrImpl;
  return {
    name: parts.join(','),
    publicKey: (sk) => impl.publicKey(sk),
    sign: (msg, sk, aux) => impl.sign(msg, sk, aux),
    verify: (sig, msg, pk) => impl.verify(sig, msg, pk),
    ecdhX: native
      ? (sk, pkX) =>
          native.ecdh(compressedEven(pkX), sk, { hashfn: (x) => x, xbuf: x32, ybuf: y32 }, new Uint8Array(32))
      : nobleBackend.ecdhX,
    ecdsaRecover: native ? (sig, recovery, msg) => native.ecdsaRecover(sig, recovery, msg, true) : nobleBackend.ecdsaRecover,
  };
}

/** The backend used by every function below (fast where available; noble otherwise). */
const backend: SecpBackend = buildFastBackend();

/** Which implementation is in use, e.g. "ecdh:native,schnorr:native" (logged at startup). */
export function cryptoBackend(): string {
  return backend.name;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

export function isHex64(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

export function isHex128(s: unknown): s is string {
  return typeof s === 'string' && HEX128.test(s);
}

export function sha256(data: Uint8Array | string): Uint8Array {
  const h = createHash('sha256');
  h.update(data);
  return new Uint8Array(h.digest());
}

/** sha256 as lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function generateSecretKey(): Uint8Array {
  for (;;) {
    const sk = randomBytes(32);
    try {
      backend.publicKey(sk);
      return sk;
    } catch {
      // 0 or >= n: astronomically unlikely; draw again
    }
  }
}

export function getPublicKey(secretKey: Uint8Array): string {
  return bytesToHex(backend.publicKey(secretKey));
}

/** BIP-340 signature of a 32-byte message. */
export function schnorrSign(msg32: Uint8Array, secretKey: Uint8Array): string {
  return bytesToHex(backend.sign(msg32, secretKey, randomBytes(32)));
}

/**
 * Curve operations run on this thread since it started (Schnorr verifications and ECDHs reaching
 * the backend): the tests use them to show which gate spends what.
 */
export const curveOps = { verify: 0, ecdh: 0 };

/** BIP-340 verification; never throws (malformed input → false). */
export function schnorrVerify(sigHex: string, msg32: Uint8Array, pubkeyHex: string): boolean {
  if (!isHex128(sigHex) || !isHex64(pubkeyHex) || msg32.length !== 32) return false;
  curveOps.verify++;
  try {
    return backend.verify(hexToBytes(sigHex), msg32, hexToBytes(pubkeyHex));
  } catch {
    return false;
  }
}

/**
 * The compressed public key (33 bytes) that made an ECDSA signature: compact r‖s, recovery id
 * 0..3, over a 32-byte digest. Throws when there is none (r or s out of range, no such point).
 */
export function ecdsaRecoverPublicKey(sig64: Uint8Array, recovery: number, msg32: Uint8Array): Uint8Array {
  if (sig64.length !== 64 || msg32.length !== 32 || !Number.isInteger(recovery) || recovery < 0 || recovery > 3) {
    throw new Error('invalid ECDSA signature, recovery id or digest');
  }
  return backend.ecdsaRecover(sig64, recovery, msg32);
}

/**
 * Raw ECDH shared x coordinate between `secretKey` and the x-only public key `pubkeyHex`
 * (interpreted with even y, as NIP-44 does). Throws on an invalid key (not on the curve).
 */
export function ecdhSharedX(secretKey: Uint8Array, pubkeyHex: string): Uint8Array {
  if (!isHex64(pubkeyHex)) throw new Error('invalid public key');
  curveOps.ecdh++;
  return backend.ecdhX(secretKey, hexToBytes(pubkeyHex));
}
