/**
 * One-shot NIP-01 queries for kind-30078 rate events (the nostr price provider): per poll, one
 * short connection per configured relay — REQ, collect until EOSE or the timeout, CLOSE, close.
 * Separate from the daemon's long-lived RelayPool subscription on purpose: the pool's single
 * subscription carries the trade intake, and a price poll every few minutes must not disturb it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { NostrRatesReader } from '../price/providers/nostr.js';
import { EXCHANGE_RATES_D, EXCHANGE_RATES_KIND } from '../price/providers/nostr.js';
import { wsSocketFactory, type SocketFactory } from './relay-socket.js';

export interface RelayRatesReaderOptions {
  urls: readonly string[];
  logger: Logger;
  socketFactory?: SocketFactory;
  /** most events kept per relay (default 64) */
  maxEvents?: number;
}

export class RelayRatesReader implements NostrRatesReader {
  private readonly socketFactory: SocketFactory;

  constructor(private readonly o: RelayRatesReaderOptions) {
    this.socketFactory = o.socketFactory ?? wsSocketFactory(1024 * 1024);
  }

  async fetchRateEvents(authors: readonly string[], opts: { timeoutMs: number; signal: AbortSignal }): Promise<unknown[]> {
    if (this.o.urls.length === 0) throw new Error('no relays configured');
    const results = await Promise.all(this.o.urls.map((url) => this.queryOne(url, authors, opts)));
    for (const r of results) {
      this.o.logger.debug({ relay: r.url, reached: r.reached, events: r.events.length, err: r.error }, 'rates query');
    }
    const reached = results.filter((r) => r.reached);
    if (reached.length === 0) {
      throw new Error(`no relay answered (${results.map((r) => `${r.url}: ${r.error ?? 'no answer'}`).join('; ')})`);
    }
    const seen = new Set<string>();
    const out: unknown[] = [];
    for (const r of reached) {
      for (const e of r.events) {
        const id = typeof e === 'object' && e !== null ? (e as { id?: unknown }).id : undefined;
        if (typeof id === 'string') {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        out.push(e);
      }
    }
    return out;
  }

  private queryOne(
    url: string,
    authors: readonly string[],
    opts: { timeoutMs: number; signal: AbortSignal },
  ): Promise<{ url: string; reached: boolean; events: unknown[]; error: string | null }> {
    const subId = `rates-${randomBytes(6).toString('hex')}`;
    const maxEvents = this.o.maxEvents ?? 64;
    const filter = { kinds: [EXCHANGE_RATES_KIND], authors: [...authors], '#d': [EXCHANGE_RATES_D], limit: maxEvents };
    return new Promise((resolve) => {
      const events: unknown[] = [];
      let reached = false;
      let error: string | null = null;
      let done = false;
      let socket: ReturnType<SocketFactory> | null = null;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', finish);
        if (socket !== null) {
          if (reached) socket.send(JSON.stringify(['CLOSE', subId]));
          socket.close();
        }
        resolve({ url, reached, events, error });
      };
      const timer = setTimeout(() => {
        error ??= `timed out after ${opts.timeoutMs} ms`;
        finish();
      }, opts.timeoutMs);
      timer.unref();
      opts.signal.addEventListener('abort', finish);
      try {
        socket = this.socketFactory(url, {
          onOpen: () => {
            reached = true;
            socket?.send(JSON.stringify(['REQ', subId, filter]));
          },
          onMessage: (data) => {
            let msg: unknown;
            try {
              msg = JSON.parse(data.toString('utf8'));
            } catch {
              return;
            }
            if (!Array.isArray(msg) || msg[1] !== subId) return;
            if (msg[0] === 'EVENT') {
              events.push(msg[2]);
              if (events.length >= maxEvents) finish();
            } else if (msg[0] === 'EOSE' || msg[0] === 'CLOSED') {
              finish();
            }
          },
          onClose: (code) => {
            error ??= `closed (${code})`;
            finish();
          },
          onError: (err) => {
            error = err.message;
          },
          onPong: () => undefined,
        });
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        finish();
      }
      if (opts.signal.aborted) finish();
    });
  }
}
