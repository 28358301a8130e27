/**
 * An operator alert as a NIP-17 private direct message: a kind-14 chat rumor from the node key with
 * the plain-text alert as content and a `p` tag naming the operator, sealed (kind 13) by the node
 * key and gift-wrapped (kind 1059, fresh ephemeral key, NIP-44) to the operator — the same NIP-59
 * layers the node's Mostro replies use (./nostr/gift-wrap.ts), so any NIP-17 client (and
 * rust-nostr's UnwrappedGift) opens it.
 */
import type { MostroKeys } from '../context.js';
import type { NostrEvent } from '../crypto/event.js';
import { buildGiftWrap, type Rumor } from '../nostr/gift-wrap.js';

export const KIND_PRIVATE_DM = 14;

export function buildOperatorDm(text: string, adminPubkey: string, keys: MostroKeys, now: number): NostrEvent {
  const rumor: Rumor = {
    pubkey: keys.pubkey,
    created_at: now,
    kind: KIND_PRIVATE_DM,
    tags: [['p', adminPubkey]],
    content: text,
  };
  return buildGiftWrap(rumor, keys.secretKey, adminPubkey, { now, sealPubkey: keys.pubkey });
}
