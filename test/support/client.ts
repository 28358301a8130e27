/**
 * A test Mostro client: an identity key plus per-trade keys, real gift wraps over real relays,
 * and decoding of the node's replies (only replies sealed by the node key are accepted, as
 * mostro-cli does).
 */
import { pino } from 'pino';
import { systemClock, type Clock } from '../../src/clock.js';
import type { NostrEvent } from '../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../src/crypto/secp.js';
import { TIMESTAMP_BLUR_SECONDS, unwrapGiftWrap, wrapRequest, type WrapRequestOptions } from '../../src/nostr/gift-wrap.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { parseRumorContent } from '../../src/protocol/parse.js';
import type { Action, Message } from '../../src/protocol/types.js';

export interface ClientKey {
  sk: Uint8Array;
  pubkey: string;
  /** trade index (0 = the identity key) */
  index: number;
}

export interface Reply {
  /** which of our keys it was addressed to */
  to: string;
  message: Message;
  signature: string | null;
  rumorCreatedAt: number;
  wrap: NostrEvent;
}

export interface TestClientOptions {
  relays: string[];
  mostroPubkey: string;
  clock?: Clock;
  identitySk?: Uint8Array;
  /** PoW mined on every request wrap */
  pow?: number;
}

export interface SendOptions {
  tradeKey: ClientKey;
  /** seal with the trade key itself (no reputation) */
  fullPrivacy?: boolean;
  signature?: WrapRequestOptions['signature'];
  rawContent?: string;
  rumorCreatedAt?: number;
  pow?: number;
}

type Waiter = { predicate: (r: Reply) => boolean; resolve: (r: Reply) => void };

export class TestClient {
  readonly identity: ClientKey;
  readonly replies: Reply[] = [];
  /** wraps we could not open or that were not sealed by the node */
  rejected = 0;
  private readonly keys = new Map<string, ClientKey>();
  private readonly waiters = new Set<Waiter>();
  private nextIndex = 1;

  private constructor(
    private readonly pool: RelayPool,
    private readonly o: TestClientOptions,
    private readonly clock: Clock,
  ) {
    const sk = o.identitySk ?? generateSecretKey();
    this.identity = { sk, pubkey: getPublicKey(sk), index: 0 };
    this.keys.set(this.identity.pubkey, this.identity);
    pool.onEvent((e) => this.onEvent(e));
  }

  static async connect(o: TestClientOptions): Promise<TestClient> {
    const clock = o.clock ?? systemClock;
    const pool = new RelayPool({
      urls: o.relays,
      clock,
      logger: pino({ level: 'silent' }),
      filter: null,
      maxFrameBytes: 1024 * 1024,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const c = new TestClient(pool, o, clock);
    c.resubscribe();
    pool.start();
    await pool.waitForConnection(5000);
    return c;
  }

  /** A fresh trade key with the next index (random, as the daemon cannot tell anyway). */
  tradeKey(index?: number): ClientKey {
    const sk = generateSecretKey();
    const key: ClientKey = { sk, pubkey: getPublicKey(sk), index: index ?? this.nextIndex++ };
    if (index !== undefined && index >= this.nextIndex) this.nextIndex = index + 1;
    this.keys.set(key.pubkey, key);
    this.resubscribe();
    return key;
  }

  private resubscribe(): void {
    this.pool.setFilter({
      kinds: [1059],
      '#p': [...this.keys.keys()],
      since: this.clock.now() - TIMESTAMP_BLUR_SECONDS - 60,
    });
  }

  /** Gift-wrap `message` like a real client and publish it; resolves with the wrap once a relay accepted it. */
  async send(message: Message, opts: SendOptions): Promise<NostrEvent> {
    const wrap = wrapRequest({
      message,
      tradeSk: opts.tradeKey.sk,
      ...(opts.fullPrivacy === true ? {} : { identitySk: this.identity.sk }),
      recipient: this.o.mostroPubkey,
      now: this.clock.now(),
      pow: opts.pow ?? this.o.pow ?? 0,
      ...(opts.signature !== undefined ? { signature: opts.signature } : {}),
      ...(opts.rawContent !== undefined ? { rawContent: opts.rawContent } : {}),
      ...(opts.rumorCreatedAt !== undefined ? { rumorCreatedAt: opts.rumorCreatedAt } : {}),
    });
    const results = await this.pool.publish(wrap);
    if (!results.some((r) => r.ok)) throw new Error(`no relay accepted the request: ${JSON.stringify(results)}`);
    return wrap;
  }

  private onEvent(e: NostrEvent): void {
    const to = e.tags.find((t) => t[0] === 'p' && t[1] !== undefined && this.keys.has(t[1]))?.[1];
    const key = to === undefined ? undefined : this.keys.get(to);
    if (key === undefined || to === undefined) return;
    const r = unwrapGiftWrap(e, key.sk);
    if (!r.ok || r.gift.seal.pubkey !== this.o.mostroPubkey) {
      this.rejected++;
      return;
    }
    let parsed;
    try {
      parsed = parseRumorContent(r.gift.rumor.content);
    } catch {
      this.rejected++;
      return;
    }
    const reply: Reply = { to, message: parsed.message, signature: parsed.signature, rumorCreatedAt: r.gift.rumor.created_at, wrap: e };
    this.replies.push(reply);
    for (const w of [...this.waiters]) {
      if (w.predicate(reply)) {
        this.waiters.delete(w);
        w.resolve(reply);
      }
    }
  }

  repliesTo(key: ClientKey | string): Reply[] {
    const pk = typeof key === 'string' ? key : key.pubkey;
    return this.replies.filter((r) => r.to === pk);
  }

  actions(key: ClientKey | string): Action[] {
    return this.repliesTo(key).map((r) => r.message.kind.action);
  }

  /** The first reply (already received or future) matching `predicate`. */
  waitFor(predicate: (r: Reply) => boolean, timeoutMs = 5000): Promise<Reply> {
    const have = this.replies.find(predicate);
    if (have !== undefined) return Promise.resolve(have);
    return new Promise<Reply>((resolve, reject) => {
      const w: Waiter = {
        predicate,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no matching reply within ${timeoutMs} ms; got ${JSON.stringify(this.replies.map((r) => r.message.kind.action))}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Shorthand: the next reply to `key` with `action`. */
  waitForAction(key: ClientKey, action: Action, timeoutMs = 5000): Promise<Reply> {
    return this.waitFor((r) => r.to === key.pubkey && r.message.kind.action === action, timeoutMs);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
