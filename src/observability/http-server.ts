/**
 * The operator HTTP listener (`[http]`, off by default; node:http, no framework):
 *   GET /metrics  Prometheus text exposition (prom-client)
 *   GET /healthz  200 "ok" while the process serves requests (liveness)
 *   GET /readyz   200 / 503 with a JSON body naming each check (readiness)
 * HEAD is answered like GET without a body; other methods get 405, other paths 404.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { http } from '../node-http.js';
import type { Readiness } from './readiness.js';

export interface HttpServerDeps {
  metrics: () => Promise<{ contentType: string; body: string }>;
  readiness: () => Promise<Readiness>;
  logger: Logger;
}

export interface HttpServerHandle {
  /** the bound port (useful with port 0) */
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, head: boolean, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

async function route(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
  if (!known) return send(res, false, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, false, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  const head = req.method === 'HEAD';
  if (path === '/healthz') return send(res, head, 200, 'text/plain; charset=utf-8', 'ok\n');
  if (path === '/readyz') {
    const r = await deps.readiness();
    return send(res, head, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`);
  }
  const m = await deps.metrics();
  return send(res, head, 200, m.contentType, m.body);
}

export async function startHttpServer(deps: HttpServerDeps, listen: { host: string; port: number }): Promise<HttpServerHandle> {
  const server: Server = http.createServer((req, res) => {
    route(deps, req, res).catch((err: unknown) => {
      deps.logger.error({ err, url: req.url }, 'http: request failed');
      if (!res.headersSent) send(res, false, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  const host = listen.host.replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void =>
      reject(new Error(`[http] listener failed to bind ${listen.host}:${listen.port} ([http] listen_address, port): ${err.message}`, { cause: err }));
    server.once('error', fail);
    server.listen(listen.port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  deps.logger.info({ host, port }, `HTTP listener on ${host}:${port} (/metrics /healthz /readyz)`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
