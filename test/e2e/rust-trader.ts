/**
 * A Mostro trader built on @rust-nostr/nostr-sdk 0.43 (the independent SDK real clients use), for
 * interop tests: its Client talks to the relay, EventBuilder.seal / giftWrapFromSeal (reputation)
 * or EventBuilder.giftWrap (full privacy) build the requests, UnwrappedGift.fromGiftWrap opens the
 * node's replies. Message JSON is written by hand in mostro-core's field order, and the tuple
 * signature is made with @noble/curves (the JS binding exposes no raw Schnorr signing) — nothing
 * from src/ is used on this side, so it checks our daemon against independent code.
 *
 * Protocol v2 (`v2: true`): requests are kind-14 events signed by the trade key with the SDK's
 * EventBuilder, content NIP-44-encrypted with the SDK's nip44Encrypt, tuple `[message, trade_sig,
 * [identity, identity_sig]]` (mostro-core 0.14 `transport`); replies are opened with nip44Decrypt.
 * Every trader subscribes to BOTH kinds for its trade keys and records the kind each reply came
 * in, so a test can assert that nothing reached a key on the wrong transport.
 *
 * The SDK leaves ~60 s timers behind after Client.shutdown() (the process cannot exit), so the
 * trader runs in a worker thread (rust-trader-worker.ts) that is terminated at close; tests use
 * the RustTrader proxy (rust-trader-proxy.ts), which names keys by their public key hex.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes, bytesToHex } from '@noble/hashes/utils.js';
import {
  Client,
  Duration,
  Event as RustEvent,
  EventBuilder,
  Filter,
  Keys,
  Kind,
  loadWasmSync,
  nip44Decrypt,
  nip44Encrypt,
  NIP44Version,
  NostrSigner,
  PublicKey,
  Tag,
  UnwrappedGift,
} from '@rust-nostr/nostr-sdk';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface RustReply {
  to: string;
  /** 1059 (gift wrap) or 14 (protocol v2) */
  eventKind: number;
  wrapper: string;
  kind: { version: number; request_id: number | null; trade_index: number | null; id?: string; action: string; payload: Json };
  raw: string;
}

/** `{"<wrapper>":{"version":1,"request_id":…,"trade_index":…,["id":…,]"action":…,"payload":…}}` (version 2 for v2 clients) */
export function mostroJson(
  wrapper: string,
  f: { requestId: number | null; tradeIndex: number | null; id?: string; action: string; payload: Json; version?: number },
): string {
  const kind: Record<string, Json> = { version: f.version ?? 1, request_id: f.requestId, trade_index: f.tradeIndex };
  if (f.id !== undefined) kind['id'] = f.id;
  kind['action'] = f.action;
  kind['payload'] = f.payload;
  return JSON.stringify({ [wrapper]: kind });
}

let wasmLoaded = false;

export class RustTraderCore {
  readonly identity: Keys;
  readonly replies: RustReply[] = [];
  /** wraps that did not open or were not sealed by the node */
  rejected = 0;
  private readonly tradeKeys = new Map<string, Keys>();
  private notifications: { abort(): void } | null = null;
  private readonly seen = new Set<string>();

  private constructor(
    readonly client: Client,
    private readonly nodePk: string,
    readonly fullPrivacy: boolean,
    readonly v2: boolean,
  ) {
    this.identity = Keys.generate();
  }

  static async connect(relayUrl: string, nodePk: string, opts: { fullPrivacy?: boolean; v2?: boolean } = {}): Promise<RustTraderCore> {
    if (!wasmLoaded) {
      loadWasmSync();
      wasmLoaded = true;
    }
    const signerKeys = Keys.generate();
    const client = new Client(NostrSigner.keys(signerKeys));
    const t = new RustTraderCore(client, nodePk, opts.fullPrivacy === true, opts.v2 === true);
    await client.addRelay(relayUrl);
    await client.connect();
    await client.waitForConnection(Duration.fromSecs(5));
    t.notifications = client.handleNotifications({
      handleEvent: async (_url, _sub, event) => {
        await t.onEvent(event);
        return false;
      },
      handleMsg: async () => false,
    });
    return t;
  }

  /** A fresh trade key; subscribes to gift wraps and kind 14 addressed to it. */
  async tradeKey(): Promise<Keys> {
    const k = Keys.generate();
    this.tradeKeys.set(k.publicKey.toHex(), k);
    await this.client.subscribe(new Filter().kinds([new Kind(1059), new Kind(14)]).pubkey(k.publicKey));
    return k;
  }

  private sig(text: string, keys: Keys): string {
    return bytesToHex(schnorr.sign(sha256(new TextEncoder().encode(text)), hexToBytes(keys.secretKey.toHex())));
  }

  /** A protocol-v2 request: kind 14 by the trade key, NIP-44 to the node, the 3-tuple. */
  private directEvent(messageJson: string, trade: Keys): RustEvent {
    const node = PublicKey.parse(this.nodePk);
    let content: string;
    if (this.fullPrivacy) {
      content = `[${messageJson},null,null]`;
    } else {
      const tradePk = trade.publicKey.toHex();
      const proof = this.sig(`mostro-transport-v2-identity:${tradePk}:${messageJson}`, this.identity);
      content = `[${messageJson},"${this.sig(messageJson, trade)}",["${this.identity.publicKey.toHex()}","${proof}"]]`;
    }
    const encrypted = nip44Encrypt(trade.secretKey, node, content, NIP44Version.V2);
    return new EventBuilder(new Kind(14), encrypted).tags([Tag.publicKey(node)]).signWithKeys(trade);
  }

  /** Gift-wrap `messageJson` to the node as mostro-cli does and publish it. */
  async send(messageJson: string, trade: Keys): Promise<void> {
    let content: string;
    let wrap: RustEvent;
    if (this.v2) {
      wrap = this.directEvent(messageJson, trade);
    } else if (this.fullPrivacy) {
      content = `[${messageJson},null]`;
      const rumor = EventBuilder.textNote(content).build(trade.publicKey);
      wrap = await EventBuilder.giftWrap(NostrSigner.keys(trade), PublicKey.parse(this.nodePk), rumor, []);
    } else {
      const sig = this.sig(messageJson, trade);
      content = `[${messageJson},"${sig}"]`;
      const rumor = EventBuilder.textNote(content).build(trade.publicKey);
      const seal = (await EventBuilder.seal(NostrSigner.keys(this.identity), PublicKey.parse(this.nodePk), rumor)).signWithKeys(this.identity);
      wrap = EventBuilder.giftWrapFromSeal(PublicKey.parse(this.nodePk), seal, []);
    }
    const out = await this.client.sendEvent(wrap);
    if (out.success.length === 0) throw new Error(`relay refused the wrap: ${JSON.stringify(out.failed)}`);
  }

  private async onEvent(event: RustEvent): Promise<void> {
    const eventKind = event.kind.asU16();
    if (eventKind !== 1059 && eventKind !== 14) return;
    const id = event.id.toHex();
    if (this.seen.has(id)) return;
    this.seen.add(id);
    const p = (JSON.parse(event.asJson()) as { tags: string[][] }).tags.find((t) => t[0] === 'p')?.[1];
    const key = p === undefined ? undefined : this.tradeKeys.get(p);
    if (key === undefined || p === undefined) return;
    if (eventKind === 14) {
      try {
        if (!event.verify() || event.author.toHex() !== this.nodePk) {
          this.rejected++;
          return;
        }
        const plain = nip44Decrypt(key.secretKey, event.author, event.content);
        const tuple = JSON.parse(plain) as [Record<string, RustReply['kind']>, unknown, unknown];
        if (tuple.length !== 3 || tuple[1] !== null || tuple[2] !== null) throw new Error('not a node tuple');
        const wrapper = Object.keys(tuple[0])[0];
        const kind = wrapper === undefined ? undefined : tuple[0][wrapper];
        if (wrapper === undefined || kind === undefined) throw new Error('empty message');
        this.replies.push({ to: p, eventKind, wrapper, kind, raw: plain });
      } catch {
        this.rejected++;
      }
      return;
    }
    try {
      const ug = await UnwrappedGift.fromGiftWrap(NostrSigner.keys(key), event);
      if (ug.sender.toHex() !== this.nodePk) {
        this.rejected++;
        return;
      }
      const [message] = JSON.parse(ug.rumor.content) as [Record<string, RustReply['kind']>, unknown];
      const wrapper = Object.keys(message)[0];
      const kind = wrapper === undefined ? undefined : message[wrapper];
      if (wrapper === undefined || kind === undefined) throw new Error('empty message');
      this.replies.push({ to: p, eventKind, wrapper, kind, raw: ug.rumor.content });
    } catch {
      this.rejected++;
    }
  }

  /** The next reply to `key` with `action` not returned before. */
  async waitFor(key: Keys, action: string, timeoutMs = 15_000): Promise<RustReply> {
    const pk = key.publicKey.toHex();
    const start = Date.now();
    for (;;) {
      const r = this.replies.find((x) => x.to === pk && x.kind.action === action && !this.taken.has(x));
      if (r !== undefined) {
        this.taken.add(r);
        return r;
      }
      if (Date.now() - start > timeoutMs) {
        throw new Error(`rust trader: no ${action} to ${pk.slice(0, 8)} within ${timeoutMs} ms; got ${JSON.stringify(this.replies.map((x) => x.kind.action))}`);
      }
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  private readonly taken = new Set<RustReply>();

  /** Every reply received so far (for transport assertions). */
  allReplies(): RustReply[] {
    return [...this.replies];
  }

  async fetchNodeEvents(kind: number): Promise<Array<{ tags: string[][]; content: string }>> {
    const evs = await this.client.fetchEvents(new Filter().kind(new Kind(kind)).author(PublicKey.parse(this.nodePk)), Duration.fromSecs(3));
    return evs.toVec().map((e) => JSON.parse(e.asJson()) as { tags: string[][]; content: string });
  }

  async close(): Promise<void> {
    this.notifications?.abort();
    await this.client.shutdown();
  }
}
