/**
 * The crypto floor: what one request/reply pair costs in cryptography the daemon cannot avoid,
 * for gift wraps (v1) and for protocol v2 (kind 14: event signature, one NIP-44 decryption with
 * the author's cached conversation key, 3-tuple, trade_sig + identity proof; the reply a kind 14
 * signed by the node, NIP-44 to the trade key). The v1 path:
 * measured with the daemon's own modules — parse the wrap frame, the cheap gates, verify the wrap,
 * unwrap (wrap-layer ECDH + NIP-44, seal verify, seal-layer NIP-44 with the node's conversation-key
 * cache as the intake keeps it), parse the rumor, verify the tuple signature; then build the reply
 * (new-order echo), wrap it to the trade key (fresh ephemeral key + seal) and serialize the frame.
 */
import { performance } from 'node:perf_hooks';
import { ConversationKeyCache } from '../src/crypto/conversation-key.js';
import { verifyEvent } from '../src/crypto/event.js';
import { getPublicKey, hexToBytes } from '../src/crypto/secp.js';
import { wrapMessage } from '../src/nostr/gift-wrap.js';
import { buildDirectMessage } from '../src/nostr/direct-message.js';
import {
  gateDirectSignatures,
  gateKind,
  gateOpenDirect,
  gateParse,
  gateParseDirect,
  gatePow,
  gateRecipient,
  gateSignature,
  gateSize,
  gateTupleSignature,
  gateSealLayer,
  gateWrapLayer,
} from '../src/nostr/intake-gates.js';
import { buildMessage } from '../src/protocol/build.js';

export interface FloorOptions {
  nodeSkHex: string;
  /** EVENT frames of requests to the node */
  frames: string[];
  pow: number;
  seconds: number;
  /** also run the relay pool's verifyEvent before the intake's (what the daemon does today) */
  doubleVerify?: boolean;
}

/** One pair; returns false if any gate refused (a broken fixture). */
function pair(frame: string, nodeSk: Uint8Array, nodePubkey: string, cache: ConversationKeyCache, pow: number, doubleVerify: boolean, now: number): boolean {
  const msg = JSON.parse(frame) as unknown[];
  const raw = msg[1];
  if (doubleVerify && !verifyEvent(raw)) return false;
  const kind = gateKind(raw, [1059, 14]);
  if (!kind.ok) return false;
  if (!gateSize(kind.event, 16 * 1024).ok || !gatePow(kind.event, pow).ok) return false;
  if (kind.event.kind === 14 && !gateRecipient(kind.event, nodePubkey).ok) return false;
  const sig = gateSignature(raw);
  if (!sig.ok) return false;
  if (sig.event.kind === 14) {
    const open = gateOpenDirect(sig.event, nodeSk, cache);
    if (!open.ok) return false;
    const parsedV2 = gateParseDirect(open.plaintext);
    if (!parsedV2.ok || !gateDirectSignatures(parsedV2.parsed, sig.event.pubkey).ok) return false;
    const r = parsedV2.parsed.message;
    const replyV2 = buildMessage({
      action: 'new-order',
      id: '0c3d2f6e-7b1a-4a57-9d7e-2f1f0a6b8c11',
      requestId: r.kind.request_id,
      tradeIndex: r.kind.trade_index,
      payload: r.kind.payload,
    });
    const ev = buildDirectMessage(replyV2, sig.event.pubkey, nodeSk, { now, expiration: now + 30 * 86400, convKeys: cache, nodePubkey });
    return JSON.stringify(['EVENT', ev]).length > 0;
  }
  const layer = gateWrapLayer(sig.event, nodeSk);
  if (!layer.ok) return false;
  const un = gateSealLayer(sig.event, layer.sealText, nodeSk, cache);
  if (!un.ok) return false;
  const parsed = gateParse(un.gift.rumor.content);
  if (!parsed.ok) return false;
  if (!gateTupleSignature(parsed.parsed, un.gift.identity, un.gift.tradeKey).ok) return false;
  const req = parsed.parsed.message;
  const reply = buildMessage({
    action: 'new-order',
    id: '0c3d2f6e-7b1a-4a57-9d7e-2f1f0a6b8c11',
    requestId: req.kind.request_id,
    tradeIndex: req.kind.trade_index,
    payload: req.kind.payload,
  });
  const wrap = wrapMessage(reply, un.gift.tradeKey, nodeSk, { now, nodePubkey, sealKeys: cache });
  return JSON.stringify(['EVENT', wrap]).length > 0;
}

/** Pairs per second for `seconds` of back-to-back work on this thread. */
export function runFloor(o: FloorOptions): { pairs: number; seconds: number; perSecond: number } {
  const nodeSk = hexToBytes(o.nodeSkHex);
  const nodePubkey = getPublicKey(nodeSk);
  const cache = new ConversationKeyCache(nodeSk);
  const now = Math.floor(Date.now() / 1000);
  // warm-up (JIT, WASM, seal-key cache)
  for (let i = 0; i < Math.min(o.frames.length, 300); i++) {
    if (!pair(o.frames[i]!, nodeSk, nodePubkey, cache, o.pow, o.doubleVerify === true, now)) throw new Error('floor fixture refused by a gate');
  }
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let k = 0; k < 20; k++) {
      pair(o.frames[n % o.frames.length]!, nodeSk, nodePubkey, cache, o.pow, o.doubleVerify === true, now);
      n++;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  return { pairs: n, seconds: secs, perSecond: n / secs };
}
