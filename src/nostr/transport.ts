/**
 * The two wire transports and how the `[mostro] transport` setting maps onto them.
 *
 *   gift-wrap (protocol v1): NIP-59 gift wrap, kind 1059 — what mostrod 0.17.1 speaks.
 *   nip44     (protocol v2): a signed kind-14 event by the sender's key, NIP-44 content, `p` tag,
 *                            NIP-40 expiration (mostro-core 0.14 `transport`, mostrod 0.18).
 *
 * Setting: "gift-wrap" (default when the key is absent: behaves as 0.17.1), "nip44" (v2 only, as
 * upstream) or "both" (this port: each trade key is answered on the transport it last spoke; a key
 * never heard from gets gift wraps, the one transport every client reads and which exposes nothing
 * to relays).
 */
import type { Settings } from '../config/types.js';
import { KIND_GIFT_WRAP } from './gift-wrap.js';

export type WireTransport = 'gift-wrap' | 'nip44';

/** NIP-17's kind number, used signed by Mostro's protocol v2 (a deliberate deviation upstream). */
export const KIND_DIRECT_MESSAGE = 14;

export function servesGiftWrap(settings: Settings): boolean {
  return settings.mostro.transport !== 'nip44';
}

export function servesNip44(settings: Settings): boolean {
  return settings.mostro.transport !== 'gift-wrap';
}

/** Event kinds the node subscribes to (`#p` = node key). */
export function subscriptionKinds(settings: Settings): number[] {
  const kinds: number[] = [];
  if (servesGiftWrap(settings)) kinds.push(KIND_GIFT_WRAP);
  if (servesNip44(settings)) kinds.push(KIND_DIRECT_MESSAGE);
  return kinds;
}

/** The transport a message to `recipient` goes on, given what was remembered for that key. */
export function transportFor(settings: Settings, remembered: WireTransport | undefined): WireTransport {
  switch (settings.mostro.transport) {
    case 'gift-wrap':
      return 'gift-wrap';
    case 'nip44':
      return 'nip44';
    case 'both':
      return remembered ?? 'gift-wrap';
  }
}

/** Mostro protocol version a transport carries (the `version` field, the 38385 tag). */
export function protocolVersionOf(t: WireTransport): 1 | 2 {
  return t === 'nip44' ? 2 : 1;
}

/**
 * PoW a first-contact kind-14 event must carry (the `pow_first_contact` info tag): the base `pow`
 * check runs first, so the enforced value is the larger of the two (upstream's rule).
 */
export function enforcedFirstContactPow(settings: Settings): number {
  const { pow, pow_first_contact } = settings.mostro;
  return Math.max(pow, pow_first_contact ?? pow);
}

/** NIP-40 lifetime of a kind-14 message, seconds (`[expiration] dm_days`, default 30 days). */
export function directMessageLifetime(settings: Settings): number {
  return (settings.expiration?.dm_days ?? 30) * 24 * 60 * 60;
}
