/**
 * Local price APIs for tests, one HTTP server per provider on 127.0.0.1, each answering in its
 * provider's real response format (the shapes of test/fixtures/price/*.json):
 *   yadio        GET /exrates/BTC                       {"BTC": {"USD": …}, "base": "BTC", "timestamp": …}
 *   coingecko    GET /simple/price?ids=bitcoin&…        {"bitcoin": {"usd": …}}
 *   currency_api GET /currencies/btc.min.json           {"date": "…", "btc": {"usd": …, "eth": …}}
 *   blockchain   GET /ticker                            {"USD": {"15m": …, "last": …, "buy": …, "sell": …, "symbol": "USD"}}
 *   eltoque      GET /v1/trmi?date_from=…&date_to=…     {"tasas": {"USD": …, "MLC": …}, "date": …}  (Bearer token)
 * `rates` are fiat per BTC (for eltoque: CUP per unit of each key). Modes simulate outages, a
 * server that never answers, garbage bodies; every request is recorded.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ApiKind = 'yadio' | 'coingecko' | 'currency_api' | 'blockchain' | 'eltoque';
export type ApiMode = 'ok' | 'down' | 'hang' | 'garbage' | 'raw';

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
}

const PATHS: Record<ApiKind, string> = {
  yadio: '/exrates/BTC',
  coingecko: '/simple/price',
  currency_api: '/currencies/btc.min.json',
  blockchain: '/ticker',
  eltoque: '/v1/trmi',
};

const FIXTURE_FILES: Record<ApiKind, string> = {
  yadio: 'yadio.json',
  coingecko: 'coingecko.json',
  currency_api: 'currency-api.json',
  blockchain: 'blockchain.json',
  eltoque: 'eltoque.json',
};

/** The sample response kept in test/fixtures/price for this provider. */
export function fixture(kind: ApiKind): string {
  return readFileSync(new URL(`../fixtures/price/${FIXTURE_FILES[kind]}`, import.meta.url), 'utf8');
}

function lower(rates: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(rates).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The body the real API would send for these rates. */
export function formatBody(kind: ApiKind, rates: Record<string, number>): string {
  switch (kind) {
    case 'yadio':
      return JSON.stringify({ BTC: rates, base: 'BTC', timestamp: 1_796_198_400_000 });
    case 'coingecko':
      return JSON.stringify({ bitcoin: lower(rates) });
    case 'currency_api':
      return JSON.stringify({ date: '2026-12-03', btc: { ...lower(rates), eth: 31.08, '1inch': 410_233.11 } });
    case 'blockchain':
      return JSON.stringify(
        Object.fromEntries(
          Object.entries(rates).map(([k, v]) => [k, { '15m': v, last: v, buy: v * 1.01, sell: v * 0.99, symbol: k }]),
        ),
      );
    case 'eltoque':
      return JSON.stringify({ tasas: rates, date: '2026-12-03', hour: 1, minutes: 30, seconds: 0 });
  }
}

export class PriceApiServer {
  mode: ApiMode = 'ok';
  rates: Record<string, number>;
  rawBody = '';
  /** eltoque: the Bearer token required (401 otherwise) */
  token: string | null = null;
  readonly requests: RecordedRequest[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly kind: ApiKind,
    private readonly server: Server,
    readonly port: number,
    rates: Record<string, number>,
  ) {
    this.rates = rates;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(kind: ApiKind, rates: Record<string, number>): Promise<PriceApiServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new PriceApiServer(kind, server, (server.address() as AddressInfo).port, rates);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ path: req.url ?? '', headers: req.headers });
    if (this.mode === 'hang') return;
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== PATHS[this.kind]) return send(res, 404, '{"error":"not found"}');
    if (this.kind === 'eltoque' && this.token !== null && req.headers.authorization !== `Bearer ${this.token}`) {
      return send(res, 401, '{"detail":"unauthorized"}');
    }
    switch (this.mode) {
      case 'ok':
        return send(res, 200, formatBody(this.kind, this.rates));
      case 'down':
        return send(res, 503, '{"error":"service unavailable"}');
      case 'garbage':
        return send(res, 200, '<html><body>Attention Required! | Cloudflare</body></html>');
      case 'raw':
        return send(res, 200, this.rawBody);
    }
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}
