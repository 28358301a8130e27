import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpGet } from '../../../src/price/http-get.js';
import { PriceFetchError } from '../../../src/price/price-fetch-error.js';
import { BlockchainProvider } from '../../../src/price/providers/blockchain.js';
import { CoinGeckoProvider } from '../../../src/price/providers/coingecko.js';
import { CurrencyApiProvider } from '../../../src/price/providers/currency-api.js';
import { ElToqueProvider } from '../../../src/price/providers/eltoque.js';
import { YadioProvider } from '../../../src/price/providers/yadio.js';
import type { PriceProvider, Quote } from '../../../src/price/types.js';
import { FakeClock } from '../../support/fake-clock.js';
import { fixture, PriceApiServer, type ApiKind } from '../../support/price-apis.js';
import { closedPortUrl } from '../../support/price-server.js';

const UA = 'mostro/test';
const servers: PriceApiServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(kind: ApiKind, body: string): Promise<PriceApiServer> {
  const s = await PriceApiServer.start(kind, {});
  s.mode = 'raw';
  s.rawBody = body;
  servers.push(s);
  return s;
}

function fetchOnce(p: PriceProvider, timeoutMs = 2000) {
  return p.fetchQuotes({ signal: new AbortController().signal, requestTimeoutMs: timeoutMs });
}

function perBtc(quotes: Map<string, Quote>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, q] of quotes) if (q.kind === 'per-btc') out[k] = q.value;
  return out;
}

async function failure(p: PriceProvider): Promise<PriceFetchError> {
  try {
    await fetchOnce(p);
  } catch (err) {
    assert.ok(err instanceof PriceFetchError, String(err));
    return err;
  }
  assert.fail('fetch resolved');
}

void describe('price providers parse their API sample response (test/fixtures/price)', () => {
  void test('yadio: {"BTC": {...}}; null entries skipped', async () => {
    const s = await server('yadio', fixture('yadio'));
    const r = await fetchOnce(new YadioProvider({ urls: [s.url], userAgent: UA }));
    assert.deepEqual(perBtc(r.quotes), { USD: 101250.5, EUR: 91120.25, ARS: 131500000, CUP: 40100000, VES: 12150000, XAU: 38.2, BTC: 1 });
    assert.equal(s.requests[0]!.path, '/exrates/BTC');
    assert.equal(s.requests[0]!.headers['user-agent'], UA);
  });

  void test('coingecko: {"bitcoin": {"usd": …}} with every vs_currency requested; api key as header, never in the URL', async () => {
    const s = await server('coingecko', fixture('coingecko'));
    const r = await fetchOnce(new CoinGeckoProvider({ urls: [s.url], userAgent: UA, apiKey: 'CG-secret' }));
    assert.equal(perBtc(r.quotes)['usd'], 101180);
    assert.equal(perBtc(r.quotes)['kwd'], 31012.4);
    const req = s.requests[0]!;
    assert.match(req.path, /^\/simple\/price\?ids=bitcoin&vs_currencies=usd,eur,/);
    assert.ok(!req.path.includes('CG-secret'));
    assert.equal(req.headers['x-cg-demo-api-key'], 'CG-secret');
  });

  void test('coingecko: a pro-api base sends the pro header; errors never carry the key', async () => {
    let seen: Record<string, string> | undefined;
    const httpGet: HttpGet = (_url, req) => {
      seen = req.headers;
      return Promise.resolve({ status: 401, body: '{"error":"bad key"}' });
    };
    const p = new CoinGeckoProvider({ urls: ['https://pro-api.coingecko.com/api/v3'], userAgent: UA, apiKey: 'CG-pro', httpGet });
    const err = await failure(p);
    assert.equal(seen?.['x-cg-pro-api-key'], 'CG-pro');
    assert.ok(!err.message.includes('CG-pro'));
    assert.match(err.message, /HTTP 401/);
  });

  void test('currency_api: {"btc": {"usd": …}} (lower case, crypto included — the service filters)', async () => {
    const s = await server('currency_api', fixture('currency_api'));
    const r = await fetchOnce(new CurrencyApiProvider({ urls: [s.url], userAgent: UA }));
    const q = perBtc(r.quotes);
    assert.equal(q['usd'], 101195.4478);
    assert.equal(q['eth'], 31.0876);
    assert.equal(s.requests[0]!.path, '/currencies/btc.min.json');
  });

  void test('currency_api: fallback_urls are tried in order when the base fails', async () => {
    const down = await PriceApiServer.start('currency_api', { USD: 1 });
    down.mode = 'down';
    servers.push(down);
    const mirror = await server('currency_api', fixture('currency_api'));
    const p = new CurrencyApiProvider({ urls: [await closedPortUrl(), down.url, mirror.url], userAgent: UA });
    assert.equal(p.attempts, 3);
    const r = await fetchOnce(p);
    assert.equal(perBtc(r.quotes)['usd'], 101195.4478);
    assert.equal(down.requests.length, 1);
    assert.equal(mirror.requests.length, 1);
    // every mirror failing: one error naming each
    mirror.mode = 'garbage';
    const err = await failure(p);
    assert.match(err.message, /ECONNREFUSED|fetch failed/);
    assert.match(err.message, /HTTP 503/);
    assert.match(err.message, /not JSON/);
  });

  void test('blockchain: {"USD": {"last": …, "buy": …, "sell": …}} → last (mid-market)', async () => {
    const s = await server('blockchain', fixture('blockchain'));
    const r = await fetchOnce(new BlockchainProvider({ urls: [s.url], userAgent: UA }));
    assert.deepEqual(perBtc(r.quotes), { EUR: 91090.12, GBP: 78025.4, USD: 101210 });
    assert.equal(s.requests[0]!.path, '/ticker');
  });

  void test('eltoque: Bearer token, a <24 h UTC window, CUP per USD and MLC per USD as cross quotes', async () => {
    const s = await server('eltoque', fixture('eltoque'));
    s.token = 'tok-123';
    const clock = new FakeClock(Date.UTC(2026, 11, 3, 1, 20, 0) / 1000);
    const r = await fetchOnce(new ElToqueProvider({ urls: [s.url], userAgent: UA, token: 'tok-123', clock }));
    assert.deepEqual(r.quotes.get('CUP'), { kind: 'per-base', base: 'USD', value: 400 });
    assert.deepEqual(r.quotes.get('MLC'), { kind: 'per-base', base: 'USD', value: 1.6 });
    assert.equal(r.quotes.size, 2);
    const req = s.requests[0]!;
    assert.equal(req.headers.authorization, 'Bearer tok-123');
    const q = new URL(req.path, 'http://x').searchParams;
    assert.equal(q.get('date_to'), '2026-12-03 01:20:00');
    assert.equal(q.get('date_from'), '2026-12-02 02:20:00');
    // a wrong token is an HTTP failure that does not show the token
    const bad = new ElToqueProvider({ urls: [s.url], userAgent: UA, token: 'wrong', clock });
    const err = await failure(bad);
    assert.match(err.message, /HTTP 401/);
    assert.ok(!err.message.includes('wrong'));
  });

  for (const kind of ['yadio', 'coingecko', 'currency_api', 'blockchain', 'eltoque'] as const) {
    void test(`${kind}: garbage, wrong shape and no usable value are failures, never an empty map`, async () => {
      const s = await server(kind, '<html>blocked</html>');
      const clock = new FakeClock(1_796_263_200);
      const http = { urls: [s.url], userAgent: UA };
      const p: PriceProvider =
        kind === 'yadio'
          ? new YadioProvider(http)
          : kind === 'coingecko'
            ? new CoinGeckoProvider(http)
            : kind === 'currency_api'
              ? new CurrencyApiProvider(http)
              : kind === 'blockchain'
                ? new BlockchainProvider(http)
                : new ElToqueProvider({ ...http, token: 't', clock });
      assert.equal((await failure(p)).code, 'malformed');
      s.rawBody = '[1,2,3]';
      assert.equal((await failure(p)).code, 'malformed');
      s.rawBody = kind === 'blockchain' ? '{"USD":{"last":null}}' : kind === 'eltoque' ? '{"tasas":{"USD":0}}' : '{"BTC":{},"bitcoin":{},"btc":{}}';
      assert.equal((await failure(p)).code, 'empty');
    });
  }
});
