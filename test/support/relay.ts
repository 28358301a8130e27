/**
 * A real Nostr relay for tests, on @nostr-relay/* (STACK.md §3) with the fixes of STACK.md §8:
 * - EVENT handling is done here: fast id/signature check (our crypto), NIP-40 expiry on arrival,
 *   storage through the sqlite repository (which implements replaceable/addressable rules),
 *   and live fan-out with full NIP-01 matching INCLUDING tag filters (the core ignores "#p");
 * - REQ/CLOSE go to the core for stored queries + EOSE (filterResultCacheTtl 0, 1000 subscriptions
 *   per client); live subscriptions are tracked here;
 * - modes for fault tests: 'accept', 'refuse' (OK false "blocked: …"), 'silent' (no OK at all);
 * - stop() / restart() on the same port, keeping the stored events.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { NostrRelay } from '@nostr-relay/core';
import { EventRepositorySqlite } from '@nostr-relay/event-repository-sqlite';
import BetterSqlite3 from '../../src/db/sqlite-driver.js';
import { Validator } from '@nostr-relay/validator';
import { LogLevel } from '@nostr-relay/common';
import { verifyEvent, type NostrEvent } from '../../src/crypto/event.js';
import type { Filter } from '../../src/nostr/relay-pool.js';

export type RelayMode = 'accept' | 'refuse' | 'silent';

export interface TestRelay {
  url: string;
  port: number;
  /** Every event accepted (not duplicates), in arrival order. */
  events(): NostrEvent[];
  /** Stored events matching a filter (replaceable rules applied), newest first. */
  query(filter: Filter): Promise<NostrEvent[]>;
  setMode(mode: RelayMode): void;
  /** Number of open client connections. */
  connections(): number;
  /** Close the listening socket and every client; the stored events survive. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  /** stop() and release the store. */
  close(): Promise<void>;
}

export interface StartRelayOptions {
  port?: number;
  mode?: RelayMode;
  /** sqlite file for the store (default in memory) */
  file?: string;
}

function matchFilter(e: NostrEvent, f: Filter): boolean {
  if (f.ids !== undefined && !f.ids.includes(e.id)) return false;
  if (f.authors !== undefined && !f.authors.includes(e.pubkey)) return false;
  if (f.kinds !== undefined && !f.kinds.includes(e.kind)) return false;
  if (f.since !== undefined && e.created_at < f.since) return false;
  if (f.until !== undefined && e.created_at > f.until) return false;
  for (const [key, values] of Object.entries(f)) {
    if (!key.startsWith('#') || !Array.isArray(values)) continue;
    const name = key.slice(1);
    if (!e.tags.some((t) => t[0] === name && t[1] !== undefined && (values as string[]).includes(t[1]))) return false;
  }
  return true;
}

function isEphemeral(kind: number): boolean {
  return kind >= 20000 && kind < 30000;
}

export async function startRelay(opts: StartRelayOptions = {}): Promise<TestRelay> {
  // Our driver build for this Node.js (the repository's own `require('better-sqlite3')` is 13, which
  // segfaults on Node 20): hand it an open database instead of a file name.
  const repo = new EventRepositorySqlite(new BetterSqlite3(opts.file ?? ':memory:'));
  await repo.init();
  const core = new NostrRelay(repo, {
    logLevel: LogLevel.ERROR,
    filterResultCacheTtl: 0,
    eventHandlingResultCacheTtl: 0,
    maxSubscriptionsPerClient: 1000,
  });
  const validator = new Validator({ maxContentLength: 512 * 1024 });
  const accepted: NostrEvent[] = [];
  const live = new Map<WebSocket, Map<string, Filter[]>>();
  let mode: RelayMode = opts.mode ?? 'accept';
  let port = opts.port ?? 0;
  let wss: WebSocketServer | null = null;

  const send = (ws: WebSocket, msg: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };

  const broadcast = (e: NostrEvent) => {
    for (const [ws, subs] of live) {
      for (const [subId, filters] of subs) {
        if (filters.some((f) => matchFilter(e, f))) send(ws, ['EVENT', subId, e]);
      }
    }
  };

  const onEvent = async (ws: WebSocket, e: NostrEvent) => {
    if (mode === 'silent') return;
    if (mode === 'refuse') return send(ws, ['OK', e.id, false, 'blocked: refused by test relay']);
    if (!verifyEvent(e as unknown)) return send(ws, ['OK', e.id, false, 'invalid: bad id or signature']);
    const exp = e.tags.find((t) => t[0] === 'expiration');
    if (exp !== undefined && Number(exp[1]) < Math.floor(Date.now() / 1000)) {
      return send(ws, ['OK', e.id, false, 'invalid: event is expired']);
    }
    if (e.kind === 5) {
      await repo.deleteByDeletionRequest(e as never);
    }
    let duplicate = false;
    if (!isEphemeral(e.kind)) {
      duplicate = (await repo.upsert(e as never)).isDuplicate ?? false;
    }
    send(ws, ['OK', e.id, true, duplicate ? 'duplicate: the event already exists' : '']);
    if (!duplicate) {
      accepted.push(e);
      broadcast(e);
    }
  };

  const onConnection = (ws: WebSocket) => {
    core.handleConnection(ws as never);
    live.set(ws, new Map());
    ws.on('message', async (data) => {
      try {
        const msg = (await validator.validateIncomingMessage(data as never)) as unknown as unknown[];
        const type = msg[0];
        if (type === 'EVENT') return await onEvent(ws, msg[1] as NostrEvent);
        if (type === 'REQ') {
          const subId = msg[1] as string;
          const filters = msg.slice(2) as Filter[];
          live.get(ws)?.set(subId, filters);
          if (filters.every((f) => f.limit === 0)) return send(ws, ['EOSE', subId]);
          await core.handleMessage(ws as never, msg as never);
          return;
        }
        if (type === 'CLOSE') {
          live.get(ws)?.delete(msg[1] as string);
          return;
        }
        await core.handleMessage(ws as never, msg as never);
      } catch (err) {
        send(ws, ['NOTICE', (err as Error).message]);
      }
    });
    ws.on('close', () => {
      live.delete(ws);
      core.handleDisconnect(ws as never);
    });
  };

  const listen = async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port });
    server.on('connection', onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', () => resolve());
      server.once('error', reject);
    });
    port = (server.address() as { port: number }).port;
    wss = server;
  };

  const stop = async () => {
    const server = wss;
    if (server === null) return;
    wss = null;
    for (const c of server.clients) c.terminate();
    live.clear();
    await new Promise<void>((r) => server.close(() => r()));
  };

  await listen();
  return {
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    events: () => [...accepted],
    query: async (filter) => (await repo.find(filter as never)) as unknown as NostrEvent[],
    setMode: (m) => {
      mode = m;
    },
    connections: () => wss?.clients.size ?? 0,
    stop,
    restart: async () => {
      if (wss === null) await listen();
    },
    close: async () => {
      await stop();
      await core.destroy();
      await repo.destroy();
    },
  };
}
