import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpGet } from '../../../src/price/http-get.js';
import { PriceFetchError } from '../../../src/price/price-fetch-error.js';
import { YadioProvider } from '../../../src/price/providers/yadio.js';
import { closedPortUrl, PriceServer } from '../../support/price-server.js';

const UA = 'mostro/0.17.1';

/** The provider seen as a plain code → price map (what the tests below assert on). */
class Yadio {
  readonly name = 'yadio';
  private readonly p: YadioProvider;
  constructor(private readonly o: { baseUrl: string; timeoutMs: number; userAgent: string; maxBodyBytes?: number; httpGet?: HttpGet }) {
    this.p = new YadioProvider({
      urls: [o.baseUrl],
      userAgent: o.userAgent,
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
      ...(o.httpGet !== undefined ? { httpGet: o.httpGet } : {}),
    });
  }
  async fetchRates(): Promise<Map<string, number>> {
    const r = await this.p.fetchQuotes({ signal: new AbortController().signal, requestTimeoutMs: this.o.timeoutMs });
    return new Map([...r.quotes].map(([k, q]) => [k, q.value]));
  }
}

async function fetchError(p: Yadio): Promise<PriceFetchError> {
  try {
    await p.fetchRates();
  } catch (err) {
    assert.ok(err instanceof PriceFetchError, `expected PriceFetchError, got ${String(err)}`);
    return err;
  }
  assert.fail('fetchRates resolved');
}

void describe('YadioProvider (GET /exrates/BTC) against a local Yadio-compatible server', () => {
  let server: PriceServer;
  let provider: Yadio;

  before(async () => {
    server = await PriceServer.start();
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.mode = 'ok';
    server.setRates({ USD: 50_000, EUR: 45_000.5 });
    provider = new Yadio({ baseUrl: server.url, timeoutMs: 2000, userAgent: UA });
  });

  void test('parses {"BTC": {...}} into a map, GETs /exrates/BTC with the user agent', async () => {
    const before = server.requests;
    const rates = await provider.fetchRates();
    assert.deepEqual([...rates.entries()].sort(), [
      ['EUR', 45_000.5],
      ['USD', 50_000],
    ]);
    assert.equal(server.requests, before + 1);
    assert.equal(server.paths.at(-1), '/exrates/BTC');
    assert.equal(server.lastUserAgent, UA);
    assert.equal(provider.name, 'yadio');
  });

  void test('a trailing slash in the base URL is tolerated', async () => {
    const p = new Yadio({ baseUrl: `${server.url}/`, timeoutMs: 2000, userAgent: UA });
    assert.equal((await p.fetchRates()).get('USD'), 50_000);
    assert.equal(server.paths.at(-1), '/exrates/BTC');
  });

  void test('codes are exact and case-sensitive; a "BTC": 1 entry passes through', async () => {
    server.setRates({ USD: 50_000, usd: 1, BTC: 1 });
    const rates = await provider.fetchRates();
    assert.equal(rates.get('USD'), 50_000);
    assert.equal(rates.get('usd'), 1);
    assert.equal(rates.get('BTC'), 1);
  });

  void test('null, string, zero, negative, array and object entries are skipped (upstream #748)', async () => {
    server.setRates({ USD: 50_000, VES: null, ARS: '1000', XAF: 0, CUP: -5, MLC: [1], EUR: { v: 1 }, GBP: 40_000 });
    const rates = await provider.fetchRates();
    assert.deepEqual([...rates.keys()].sort(), ['GBP', 'USD']);
  });

  void test('an overflowing number (1e999 → Infinity) and implausible codes are skipped', async () => {
    server.mode = 'raw';
    server.rawBody = '{"BTC":{"USD":50000,"JPY":1e999,"__proto__":5,"":3,"A B":4}}';
    const rates = await provider.fetchRates();
    assert.deepEqual([...rates.entries()], [['USD', 50_000]]);
  });

  void test('a response with no usable price fails (the cache must not be emptied)', async () => {
    server.setRates({ USD: null, EUR: 'n/a' });
    assert.equal((await fetchError(provider)).code, 'empty');
    server.setRates({});
    assert.equal((await fetchError(provider)).code, 'empty');
  });

  void test('garbage body (not JSON) → malformed', async () => {
    server.mode = 'garbage';
    assert.equal((await fetchError(provider)).code, 'malformed');
  });

  void test('wrong shape (missing BTC) → malformed', async () => {
    server.mode = 'wrong-shape';
    assert.equal((await fetchError(provider)).code, 'malformed');
  });

  for (const body of ['', '{', 'null', '[]', '{"BTC": null}', '{"BTC": []}', '{"BTC": 5}', '{"btc": {"USD": 1}}']) {
    void test(`body ${JSON.stringify(body)} → malformed`, async () => {
      server.mode = 'raw';
      server.rawBody = body;
      assert.equal((await fetchError(provider)).code, 'malformed');
    });
  }

  void test('HTTP 500 → http error (0.17.1 ignored the status)', async () => {
    server.mode = 'down';
    const err = await fetchError(provider);
    assert.equal(err.code, 'http');
    assert.match(err.message, /HTTP 500/);
  });

  void test('connection reset → transport error', async () => {
    server.mode = 'reset';
    assert.equal((await fetchError(provider)).code, 'transport');
  });

  void test('connection refused → transport error', async () => {
    const p = new Yadio({ baseUrl: await closedPortUrl(), timeoutMs: 2000, userAgent: UA });
    assert.equal((await fetchError(p)).code, 'transport');
  });

  void test('a server that never answers → timeout', async () => {
    server.mode = 'hang';
    const p = new Yadio({ baseUrl: server.url, timeoutMs: 100, userAgent: UA });
    const err = await fetchError(p);
    assert.equal(err.code, 'timeout');
  });

  void test('a declared body larger than the limit is refused', async () => {
    const big: Record<string, number> = {};
    for (let i = 0; i < 200; i++) big[`C${i}`] = 1000 + i;
    server.setRates(big);
    const p = new Yadio({ baseUrl: server.url, timeoutMs: 2000, userAgent: UA, maxBodyBytes: 512 });
    assert.equal((await fetchError(p)).code, 'too-large');
  });
});

void describe('YadioProvider (GET /exrates/BTC): the body limit on a streamed answer', () => {
  void test('a chunked body without content-length is cut at the limit', async () => {
    let writes = 0;
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => {
        writes += 1;
        if (writes > 1000) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(' '.repeat(1000));
      }, 1);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const p = new Yadio({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 5000, userAgent: UA, maxBodyBytes: 10_000 });
      assert.equal((await fetchError(p)).code, 'too-large');
      assert.ok(writes < 100, `the server wrote ${writes} chunks before the client hung up`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

void describe('YadioProvider (GET /exrates/BTC) with an injected GET', () => {
  void test('asks the injected GET for the expected URL with the expected headers and body limit', async () => {
    const calls: Array<{ url: string; ua: string | undefined; max: number }> = [];
    const httpGet: HttpGet = (url, req) => {
      calls.push({ url, ua: req.headers['user-agent'], max: req.maxBodyBytes });
      return Promise.resolve({ status: 200, body: JSON.stringify({ BTC: { USD: 61_000 } }) });
    };
    const p = new Yadio({ baseUrl: 'https://api.yadio.io', timeoutMs: 2000, userAgent: UA, httpGet });
    assert.deepEqual([...(await p.fetchRates()).entries()], [['USD', 61_000]]);
    assert.deepEqual(calls, [{ url: 'https://api.yadio.io/exrates/BTC', ua: UA, max: 2 * 1024 * 1024 }]);
  });

  void test('a transport rejection becomes a transport PriceFetchError with the cause kept', async () => {
    const cause = new Error('socket hang up');
    const p = new Yadio({
      baseUrl: 'http://x.invalid',
      timeoutMs: 2000,
      userAgent: UA,
      httpGet: () => Promise.reject(cause),
    });
    const err = await fetchError(p);
    assert.equal(err.code, 'transport');
    assert.equal(err.cause, cause);
  });
});
