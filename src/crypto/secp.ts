/**
 * secp256k1 primitives used by the protocol and transport layers, behind one small module so the
 * implementation can use fast native/WASM code while pure JS stays the fallback.
 * All keys are 32-byte x-only (BIP-340) unless stated; hex is lowercase.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

export { bytesToHex, hexToBytes };

export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === 'string' ? new TextEncoder().encode(data) : data);
}

export function getPublicKey(secretKey: Uint8Array): string {
  return bytesToHex(schnorr.getPublicKey(secretKey));
}

/** BIP-340 signature of a 32-byte message. */
export function schnorrSign(msg32: Uint8Array, secretKey: Uint8Array): string {
  return bytesToHex(schnorr.sign(msg32, secretKey));
}

/** BIP-340 verification; never throws (malformed input → false). */
export function schnorrVerify(sigHex: string, msg32: Uint8Array, pubkeyHex: string): boolean {
  try {
    return schnorr.verify(hexToBytes(sigHex), msg32, hexToBytes(pubkeyHex));
  } catch {
    return false;
  }
}
