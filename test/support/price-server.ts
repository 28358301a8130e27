/**
 * A local Yadio-compatible price API for tests: `GET /exrates/BTC` on 127.0.0.1 with a random port.
 * Rates are settable (any JSON values, so tests can serve nulls and strings); modes simulate an
 * outage or a broken body; every request is counted.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type PriceServerMode =
  /** serve `{"BTC": rates, "base": "BTC", "timestamp": …}` */
  | 'ok'
  /** HTTP 500 with a JSON error body */
  | 'down'
  /** destroy the connection without answering (the client sees a transport error) */
  | 'reset'
  /** 200 with a body that is not JSON */
  | 'garbage'
  /** 200 with JSON of the wrong shape (no BTC object) */
  | 'wrong-shape'
  /** accept the request and never answer (for client timeouts) */
  | 'hang'
  /** serve `rawBody` verbatim with status 200 */
  | 'raw';

export class PriceServer {
  mode: PriceServerMode = 'ok';
  /** The BTC map served in mode "ok". Values are arbitrary JSON on purpose. */
  rates: Record<string, unknown>;
  /** Body served in mode "raw". */
  rawBody = '';
  /** Number of requests received (any path, any mode). */
  requests = 0;
  /** Paths requested, in order. */
  readonly paths: string[] = [];
  /** User-Agent header of the last request. */
  lastUserAgent: string | undefined;

  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    rates: Record<string, unknown>,
  ) {
    this.rates = rates;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Base URL (what `bitcoin_price_api_url` holds), without a trailing slash. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(rates: Record<string, unknown> = { USD: 50_000, EUR: 45_000 }): Promise<PriceServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new PriceServer(server, (server.address() as AddressInfo).port, rates);
  }

  setRates(rates: Record<string, unknown>): void {
    this.rates = rates;
  }

  /** Stop listening and drop every open connection (hanging requests included). */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests += 1;
    this.paths.push(req.url ?? '');
    this.lastUserAgent = req.headers['user-agent'];
    if (this.mode === 'hang') return;
    if (this.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (req.method !== 'GET' || req.url !== '/exrates/BTC') {
      send(res, 404, '{"error":"not found"}');
      return;
    }
    switch (this.mode) {
      case 'ok':
        send(res, 200, JSON.stringify({ BTC: this.rates, base: 'BTC', timestamp: 1_700_000_000_000 }));
        return;
      case 'down':
        send(res, 500, '{"error":"internal server error"}');
        return;
      case 'garbage':
        send(res, 200, '<html>Bad gateway</html>');
        return;
      case 'wrong-shape':
        send(res, 200, JSON.stringify({ base: 'BTC', rates: this.rates }));
        return;
      case 'raw':
        send(res, 200, this.rawBody);
        return;
    }
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

/** A base URL on which nothing listens (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
