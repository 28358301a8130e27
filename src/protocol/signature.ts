/**
 * The tuple signature (PROTOCOL.md §2.3): BIP-340 Schnorr by the trade key over
 * SHA-256(canonical JSON of the whole Message). The 32-byte digest is the BIP-340 message.
 */
import { schnorrSign, schnorrVerify, sha256 } from '../crypto/secp.js';
import { serializeMessage } from './serialize.js';
import type { Message } from './types.js';

/** Sign `m` with a trade secret key; returns 128 lowercase hex characters. */
export function signMessage(m: Message, tradeSecretKey: Uint8Array): string {
  return schnorrSign(sha256(serializeMessage(m)), tradeSecretKey);
}

/**
 * Verify a tuple signature against `pubkeyHex` (x-only trade key).
 * First over our canonical re-serialization (what mostrod 0.17.1 does); if that fails and the
 * raw text of the message as the client sent it is given (and differs), a signature over that raw
 * text is accepted too — strictly more lenient than 0.17.1, never stricter. Never throws.
 */
export function verifyMessageSignature(
  m: Message,
  sigHex: string,
  pubkeyHex: string,
  rawMessageText?: string,
): boolean {
  const canonical = serializeMessage(m);
  if (schnorrVerify(sigHex, sha256(canonical), pubkeyHex)) return true;
  if (rawMessageText === undefined || rawMessageText === canonical) return false;
  return schnorrVerify(sigHex, sha256(rawMessageText), pubkeyHex);
}
