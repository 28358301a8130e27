import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { MAX_REDIRECTS, nodeHttpGet, type HttpGetRequest } from '../../../src/price/http-get.js';
import { PriceFetchError } from '../../../src/price/price-fetch-error.js';

const TLS = fileURLToPath(new URL('../../fixtures/tls/', import.meta.url));
const HTTP_GET = fileURLToPath(new URL('../../../src/price/http-get.ts', import.meta.url));

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function request(headers: Record<string, string> = {}): HttpGetRequest {
  return { headers: { 'user-agent': 'mostro/test', accept: 'application/json', ...headers }, signal: new AbortController().signal, maxBodyBytes: 10_000 };
}

void describe('nodeHttpGet (node:http, no fetch)', () => {
  const seen: Seen[] = [];
  let handler: RequestListener = (_req, res) => res.end();
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  let port = 0;
  before(async () => {
    port = await listen(server);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  void test('a 2xx answer gives its status and body; a non-2xx answer its status only', async () => {
    handler = (req, res) => {
      if (req.url === '/ok') res.writeHead(203).end('{"a":1}');
      else res.writeHead(503).end('busy, try later');
    };
    assert.deepEqual(await nodeHttpGet(`http://127.0.0.1:${port}/ok`, request()), { status: 203, body: '{"a":1}' });
    assert.deepEqual(await nodeHttpGet(`http://127.0.0.1:${port}/down`, request()), { status: 503, body: '' });
  });

  void test('follows a redirect on the same origin with every header', async () => {
    seen.length = 0;
    handler = (req, res) => {
      if (req.url === '/old') res.writeHead(301, { location: '/new?x=1' }).end();
      else res.writeHead(200).end('moved here');
    };
    const r = await nodeHttpGet(`http://127.0.0.1:${port}/old`, request({ 'x-cg-pro-api-key': 'secret' }));
    assert.deepEqual(r, { status: 200, body: 'moved here' });
    assert.deepEqual(
      seen.map((s) => [s.path, s.headers['x-cg-pro-api-key']]),
      [
        ['/old', 'secret'],
        ['/new?x=1', 'secret'],
      ],
    );
  });

  void test('a redirect to another origin keeps user-agent and accept and drops the rest (an API key)', async () => {
    seen.length = 0;
    handler = (req, res) => {
      if (req.url === '/old') res.writeHead(302, { location: `http://localhost:${port}/elsewhere` }).end();
      else res.writeHead(200).end('{}');
    };
    await nodeHttpGet(`http://127.0.0.1:${port}/old`, request({ 'x-cg-pro-api-key': 'secret' }));
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.path, '/elsewhere');
    assert.equal(seen[1]!.headers['x-cg-pro-api-key'], undefined);
    assert.equal(seen[1]!.headers['user-agent'], 'mostro/test');
    assert.equal(seen[1]!.headers['accept'], 'application/json');
  });

  void test(`stops after ${MAX_REDIRECTS} redirects with an http PriceFetchError`, async () => {
    seen.length = 0;
    handler = (req, res) => res.writeHead(307, { location: `${req.url ?? '/'}x` }).end();
    await assert.rejects(nodeHttpGet(`http://127.0.0.1:${port}/loop`, request()), (err: unknown) => {
      assert.ok(err instanceof PriceFetchError);
      assert.equal(err.code, 'http');
      assert.match(err.message, /redirects/);
      return true;
    });
    assert.equal(seen.length, MAX_REDIRECTS + 1);
  });

  void test('a 3xx without Location is an answer (the caller turns it into an HTTP error)', async () => {
    handler = (_req, res) => res.writeHead(304).end();
    assert.deepEqual(await nodeHttpGet(`http://127.0.0.1:${port}/`, request()), { status: 304, body: '' });
  });

  void test('a declared body over the limit is refused before it is read', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-length': '20000' }).end('x'.repeat(20_000));
    await assert.rejects(nodeHttpGet(`http://127.0.0.1:${port}/big`, request()), (err: unknown) => err instanceof PriceFetchError && err.code === 'too-large');
  });

  void test('the signal aborts a request that gets no answer', async () => {
    handler = () => undefined;
    const ac = new AbortController();
    const pending = nodeHttpGet(`http://127.0.0.1:${port}/hang`, { ...request(), signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(pending, (err: unknown) => err instanceof Error && err.name === 'AbortError');
  });
});

void describe('nodeHttpGet over TLS', () => {
  type ChildResult = { status?: number; body?: string; error?: string; code?: string };
  // A child process, so that NODE_EXTRA_CA_CERTS makes it trust the fixture certificate.
  async function getInChild(url: string): Promise<ChildResult> {
    const script = `
import { nodeHttpGet } from ${JSON.stringify(HTTP_GET)};
try {
  const r = await nodeHttpGet(${JSON.stringify(url)}, { headers: {}, signal: new AbortController().signal, maxBodyBytes: 10000 });
  process.stdout.write(JSON.stringify(r));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: err.name, code: err.code }));
}`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: `${TLS}tls.cert` },
    });
    return JSON.parse(stdout) as ChildResult;
  }

  void test('an https GET works, and a redirect from https to http is refused', async () => {
    const hits: string[] = [];
    const tls = createTlsServer({ cert: readFileSync(`${TLS}tls.cert`), key: readFileSync(`${TLS}tls.key`) }, (req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/ok') res.writeHead(200).end('{"BTC":{"USD":1}}');
      else res.writeHead(302, { location: 'http://localhost:9/plain' }).end();
    });
    const port = await listen(tls);
    try {
      assert.deepEqual(await getInChild(`https://localhost:${port}/ok`), { status: 200, body: '{"BTC":{"USD":1}}' });
      assert.deepEqual(await getInChild(`https://localhost:${port}/down`), { error: 'PriceFetchError', code: 'http' });
      assert.deepEqual(hits, ['/ok', '/down']);
    } finally {
      tls.closeAllConnections();
      await new Promise((r) => tls.close(r));
    }
  });
});
