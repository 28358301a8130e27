/**
 * NIP-19 bech32 entities: the part of nostr-tools' `nip19` the daemon uses (npub, nsec, note), with
 * the same results and errors, so that the daemon does not load nostr-tools for it
 * (docs/PERFORMANCE.md "Memory"). Checked against nostr-tools in test/unit/crypto/nip19.test.ts.
 *
 * Like nostr-tools: bech32 (not bech32m) of at most 5000 characters, upper or lower case (not
 * mixed), strict padding. Unlike nostr-tools, the payload must be 32 bytes (a key or an event id):
 * nostr-tools decodes an `npub` of 20 bytes to 40 hex characters, which the callers that take an
 * npub (admin keys, solvers, message payloads) would have accepted as a key. TLV entities
 * (nprofile, nevent, naddr) are not read here: like any other prefix they throw.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { bech32 } from '@scure/base';

/** nostr-tools' bound on a NIP-19 string. */
const MAX_LENGTH = 5000;

export type Nip19Decoded = { type: 'npub'; data: string } | { type: 'note'; data: string } | { type: 'nsec'; data: Uint8Array };

function decode(code: string): Nip19Decoded {
  const { prefix, words } = bech32.decode(code as `${string}1${string}`, MAX_LENGTH);
  const data = new Uint8Array(bech32.fromWords(words));
  if ((prefix === 'npub' || prefix === 'nsec' || prefix === 'note') && data.length !== 32) {
    throw new Error(`${prefix} must hold 32 bytes, not ${data.length}`);
  }
  switch (prefix) {
    case 'nsec':
      return { type: 'nsec', data };
    case 'npub':
    case 'note':
      return { type: prefix, data: bytesToHex(data) };
    default:
      throw new Error(`unknown prefix ${prefix}`);
  }
}

function encodeBytes(prefix: string, bytes: Uint8Array): string {
  return bech32.encode(prefix, bech32.toWords(bytes), MAX_LENGTH);
}

export const nip19 = {
  decode,
  /** `npub1…` of a hex public key (throws on bad hex). */
  npubEncode: (hex: string): string => encodeBytes('npub', hexToBytes(hex)),
  /** `nsec1…` of a secret key. */
  nsecEncode: (key: Uint8Array): string => encodeBytes('nsec', key),
  /** `note1…` of a hex event id (throws on bad hex). */
  noteEncode: (hex: string): string => encodeBytes('note', hexToBytes(hex)),
};
