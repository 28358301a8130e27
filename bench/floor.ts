/**
 * The crypto floor: what one request/reply pair costs in cryptography the daemon cannot avoid,
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
import { gateKind, gateParse, gatePow, gateSignature, gateSize, gateTupleSignature, gateUnwrap } from '../src/nostr/intake-gates.js';
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
  const kind = gateKind(raw);
  if (!kind.ok) return false;
  if (!gateSize(kind.event, 16 * 1024).ok || !gatePow(kind.event, pow).ok) return false;
  const sig = gateSignature(raw);
  if (!sig.ok) return false;
  const un = gateUnwrap(sig.event, nodeSk, cache);
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
