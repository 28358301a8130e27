/**
 * NIP-44 version 2 encryption with a given conversation key, on node:crypto (OpenSSL ChaCha20 and
 * HMAC-SHA256). Byte-compatible with nostr-tools' nip44.v2 (checked in tests).
 *
 * payload = base64( 0x02 || nonce[32] || chacha20(padded) || hmac[32] )
 * keys    = HKDF-expand(PRK = conversation key, info = nonce, L = 76):
 *           chacha key [0,32), chacha nonce [32,44), hmac key [44,76)
 */
import { createCipheriv, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { randomBytes } from '../crypto/random.js';

/** Every decryption failure is one of these (never a raw library error). */
export class Nip44Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Nip44Error';
  }
}

const VERSION = 2;
const MIN_PLAINTEXT = 1;
const MAX_PLAINTEXT = 65535;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function calcPaddedLen(len: number): number {
  if (!Number.isSafeInteger(len) || len < 1) throw new Nip44Error('expected positive integer');
  if (len <= 32) return 32;
  const nextPower = 1 << (Math.floor(Math.log2(len - 1)) + 1);
  const chunk = nextPower <= 256 ? 32 : nextPower / 8;
  return chunk * (Math.floor((len - 1) / chunk) + 1);
}

/*
 * Keys reach createHmac / createCipheriv as KeyObjects, never as bytes. Node 24 tells a KeyObject
 * or CryptoKey argument from bytes by reading private slots inside try/catch, so a Buffer key
 * throws and catches two TypeErrors, stack traces included, in every call: 11.7 µs for a
 * createHmac that costs 2.0 µs on Node 20 and 22 (docs/PERFORMANCE.md, session 19). A KeyObject
 * passes the first check at once (2.2 µs), and createSecretKey takes bytes without those checks
 * (≈ 1.3 µs). The three HKDF blocks share one KeyObject.
 */
function messageKeys(conversationKey: Uint8Array, nonce: Uint8Array) {
  // HKDF-expand with SHA-256: T(i) = HMAC(PRK, T(i-1) || info || i); 3 blocks = 96 bytes ≥ 76.
  const prk = createSecretKey(conversationKey);
  const t1 = createHmac('sha256', prk).update(nonce).update(Buffer.of(1)).digest();
  const t2 = createHmac('sha256', prk).update(t1).update(nonce).update(Buffer.of(2)).digest();
  const t3 = createHmac('sha256', prk).update(t2).update(nonce).update(Buffer.of(3)).digest();
  const okm = Buffer.concat([t1, t2, t3]);
  return {
    chachaKey: okm.subarray(0, 32),
    chachaNonce: okm.subarray(32, 44),
    hmacKey: okm.subarray(44, 76),
  };
}

function chacha20(key: Uint8Array, nonce12: Uint8Array, data: Uint8Array): Buffer {
  // OpenSSL's chacha20 IV is 16 bytes: 32-bit little-endian block counter (0) then the 96-bit nonce.
  const iv = Buffer.alloc(16);
  iv.set(nonce12, 4);
  const c = createCipheriv('chacha20', createSecretKey(key), iv);
  return Buffer.concat([c.update(data), c.final()]);
}

function hmacAad(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Buffer {
  return createHmac('sha256', createSecretKey(key)).update(nonce).update(ciphertext).digest();
}

function pad(plaintext: string): Buffer {
  const bytes = Buffer.from(plaintext, 'utf8');
  const len = bytes.length;
  if (len < MIN_PLAINTEXT || len > MAX_PLAINTEXT) throw new Nip44Error('invalid plaintext size: must be between 1 and 65535 bytes');
  const out = Buffer.alloc(2 + calcPaddedLen(len));
  out.writeUInt16BE(len, 0);
  bytes.copy(out, 2);
  return out;
}

function unpad(padded: Buffer): string {
  if (padded.length < 2) throw new Nip44Error('invalid padding');
  const len = padded.readUInt16BE(0);
  if (len < MIN_PLAINTEXT || len > MAX_PLAINTEXT || padded.length !== 2 + calcPaddedLen(len)) {
    throw new Nip44Error('invalid padding');
  }
  return padded.subarray(2, 2 + len).toString('utf8');
}

/** Encrypt `plaintext` (1..65535 UTF-8 bytes). `nonce` is for test vectors only. */
export function nip44Encrypt(plaintext: string, conversationKey: Uint8Array, nonce?: Uint8Array): string {
  const n = nonce ?? randomBytes(32);
  if (n.length !== 32) throw new Nip44Error('nonce must be 32 bytes');
  const { chachaKey, chachaNonce, hmacKey } = messageKeys(conversationKey, n);
  const ciphertext = chacha20(chachaKey, chachaNonce, pad(plaintext));
  const mac = hmacAad(hmacKey, n, ciphertext);
  return Buffer.concat([Buffer.of(VERSION), n, ciphertext, mac]).toString('base64');
}

/** The first base64 character of a v2 payload: 0x02 = 000000|10…, so always 'A'. */
const VERSION_CHAR = 'A';

/**
 * What nip44Decrypt would refuse before any key is needed — the payload's length, alphabet and
 * version byte — as the error text, or null when the payload could be a v2 ciphertext. The intake
 * runs this before the ECDH a decryption needs, so content that cannot decrypt costs no crypto.
 */
export function nip44Precheck(payload: unknown): string | null {
  if (typeof payload !== 'string') return 'payload must be a string';
  const plen = payload.length;
  if (plen === 0 || payload[0] === '#') return 'unknown encryption version';
  if (plen < 132 || plen > 87472) return 'invalid payload length: ' + String(plen);
  if (plen % 4 !== 0 || !BASE64.test(payload)) return 'invalid base64';
  // 'A' then a character whose top two bits are 0b10 ('g'..'v'): the decoded first byte is 0x02.
  const second = payload.charCodeAt(1);
  if (payload[0] !== VERSION_CHAR || second < 103 || second > 118) return 'unknown encryption version';
  return null;
}

/** Decrypt a NIP-44 v2 payload. Throws only Nip44Error. */
export function nip44Decrypt(payload: string, conversationKey: Uint8Array): string {
  const bad = nip44Precheck(payload);
  if (bad !== null) throw new Nip44Error(bad);
  const data = Buffer.from(payload, 'base64');
  const dlen = data.length;
  if (dlen < 99 || dlen > 65603) throw new Nip44Error('invalid data length: ' + String(dlen));
  if (data[0] !== VERSION) throw new Nip44Error('unknown encryption version ' + String(data[0]));
  const nonce = data.subarray(1, 33);
  const ciphertext = data.subarray(33, dlen - 32);
  const mac = data.subarray(dlen - 32);
  let keys: ReturnType<typeof messageKeys>;
  try {
    keys = messageKeys(conversationKey, nonce);
  } catch {
    throw new Nip44Error('invalid conversation key');
  }
  const expected = hmacAad(keys.hmacKey, nonce, ciphertext);
  if (!timingSafeEqual(expected, mac)) throw new Nip44Error('invalid MAC');
  return unpad(chacha20(keys.chachaKey, keys.chachaNonce, ciphertext));
}
