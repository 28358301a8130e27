/**
 * MultiSourcePriceService against one local HTTP server per provider, each answering in its real
 * format (test/support/price-apis.ts), with a fake clock for breaker cooldowns and staleness.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { newOrder } from '../../../src/app/handlers/new-order.js';
import { dispatch } from '../../../src/app/router.js';
import { toProtocolV1 } from '../../../src/protocol/v1-compat.js';
import { takeSell } from '../../../src/app/handlers/take-sell.js';
import type { AppContext } from '../../../src/context.js';
import { findOrders, getOrder } from '../../../src/db/orders.js';
import { buildPriceService } from '../../../src/price/build-price-service.js';
import { effectivePriceConfig } from '../../../src/price/price-config.js';
import type { MultiSourcePriceService } from '../../../src/price/price-service.js';
import type { PriceSettings } from '../../../src/config/types.js';
import { FakeClock } from '../../support/fake-clock.js';
import { PriceApiServer, type ApiKind } from '../../support/price-apis.js';
import { makeTestContext, testSettings } from '../../support/test-context.js';
import { assertCantDo, createOrder, party, req, smallOrder } from '../../support/trade-fixtures.js';

const NOW = 1_796_000_000;
const KINDS = ['yadio', 'coingecko', 'currency_api', 'blockchain'] as const;
const USD: Record<(typeof KINDS)[number], number> = { yadio: 100_000, coingecko: 100_300, currency_api: 99_900, blockchain: 100_100 };

let servers: Record<ApiKind, PriceApiServer>;

before(async () => {
  const entries = await Promise.all(
    (['yadio', 'coingecko', 'currency_api', 'blockchain', 'eltoque'] as const).map(
      async (k) => [k, await PriceApiServer.start(k, {})] as const,
    ),
  );
  servers = Object.fromEntries(entries) as Record<ApiKind, PriceApiServer>;
});
after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
});
beforeEach(() => {
  for (const k of KINDS) {
    servers[k].mode = 'ok';
    servers[k].rates = { USD: USD[k], EUR: USD[k] * 0.9 };
  }
  servers.yadio.rates = { ...servers.yadio.rates, VES: 12_000_000, CUP: 40_000_000, XAU: 38 };
  servers.currency_api.rates = { ...servers.currency_api.rates, CUP: 2_400_000 };
  servers.eltoque.mode = 'ok';
  servers.eltoque.token = 'tok';
  servers.eltoque.rates = { USD: 410, MLC: 250 };
});

function priceSettings(over: Partial<PriceSettings> = {}, enabled: readonly ApiKind[] = KINDS): PriceSettings {
  const providers: PriceSettings['providers'] = {};
  for (const k of enabled) {
    providers[k] = { enabled: true, url: servers[k].url, fallback_urls: [], trusted_nodes: [], ...(k === 'eltoque' ? { token: 'tok' } : {}) };
  }
  return {
    update_interval_seconds: 300,
    max_price_staleness_seconds: 1800,
    outlier_threshold_pct: 5,
    provider_timeout_seconds: 1,
    provider_failure_threshold: 2,
    provider_failure_cooldown_seconds: 120,
    provider_failure_cooldown_max_seconds: 600,
    publish_to_nostr: true,
    providers,
    ...over,
  };
}

function service(clock: FakeClock, price: PriceSettings | null = priceSettings()): MultiSourcePriceService {
  const settings = testSettings({ price, mostro: { bitcoin_price_api_url: servers.yadio.url } });
  return buildPriceService(effectivePriceConfig(settings), {
    clock,
    logger: pino({ level: 'silent' }),
    userAgent: 'mostro/test',
    nostrReader: null,
  });
}

function source(s: MultiSourcePriceService, id: string) {
  const st = s.status().sources.find((x) => x.id === id);
  assert.ok(st, id);
  return st;
}

void describe('price service: many sources', () => {
  void test('all up: per-currency median, sources listed, allow-list drops XAU, currency_api CUP scoped out', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    assert.equal(await s.refresh(), 4); // USD EUR VES CUP
    // USD from 4 sources: 99 900, 100 000, 100 100, 100 300 → median 100 050
    assert.deepEqual(s.price('USD'), { price: 100_050, fetchedAt: NOW, sources: ['blockchain', 'coingecko', 'currency_api', 'yadio'] });
    assert.equal(s.price('usd')?.price, 100_050, 'codes are matched case-insensitively');
    assert.equal(s.price('XAU'), null);
    assert.deepEqual(s.price('CUP')?.sources, ['yadio'], "currency_api's official CUP never mixes in");
    for (const k of KINDS) assert.equal(source(s, k).lastSuccessAt, NOW);
  });

  void test('one down: the others carry every currency; the failure is visible', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    servers.coingecko.mode = 'down';
    await s.refresh();
    assert.equal(s.price('USD')?.price, 100_000); // 99 900, 100 000, 100 100
    assert.deepEqual(s.price('USD')?.sources, ['blockchain', 'currency_api', 'yadio']);
    const cg = source(s, 'coingecko');
    assert.equal(cg.lastSuccessAt, null);
    assert.match(cg.lastError ?? '', /HTTP 503/);
    assert.equal(cg.consecutiveFailures, 1);
  });

  void test('one slow past the timeout: the poll ends without it', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    servers.blockchain.mode = 'hang';
    await s.refresh();
    assert.deepEqual(s.price('USD')?.sources, ['coingecko', 'currency_api', 'yadio']);
    assert.match(source(s, 'blockchain').lastError ?? '', /timed out/);
  });

  void test('one returning garbage: ignored, the rest aggregate', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    servers.currency_api.mode = 'garbage';
    await s.refresh();
    assert.deepEqual(s.price('USD')?.sources, ['blockchain', 'coingecko', 'yadio']);
    assert.equal(s.price('USD')?.price, 100_100);
    assert.match(source(s, 'currency_api').lastError ?? '', /not JSON/);
  });

  void test('one an outlier: left out of the median', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    servers.blockchain.rates = { USD: 160_000, EUR: 90_090 };
    await s.refresh();
    assert.deepEqual(s.price('USD'), { price: 100_000, fetchedAt: NOW, sources: ['coingecko', 'currency_api', 'yadio'] });
    assert.deepEqual(s.price('EUR')?.sources, ['blockchain', 'coingecko', 'currency_api', 'yadio']);
    assert.deepEqual(s.status().currencies.find((c) => c.code === 'USD')?.outliers, ['blockchain']);
  });

  void test('two sources far apart (an official rate beside the street rate): their mean, and a warning naming them', async () => {
    const clock = new FakeClock(NOW);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const settings = testSettings({ price: priceSettings() });
    const s = buildPriceService(effectivePriceConfig(settings), { clock, logger, userAgent: 't', nostrReader: null });
    servers.currency_api.rates = { ...servers.currency_api.rates, VES: 8_000_000 };
    await s.refresh();
    assert.deepEqual(s.price('VES'), { price: 10_000_000, fetchedAt: NOW, sources: ['currency_api', 'yadio'] });
    const warn = lines.find((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('price sources far apart'));
    assert.deepEqual(warn && { currency: warn['currency'], providers: warn['providers'], spreadPct: warn['spreadPct'] }, {
      currency: 'VES',
      providers: ['currency_api', 'yadio'],
      spreadPct: 20,
    });
    await s.refresh();
    assert.equal(lines.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('price sources far apart')).length, 1, 'said once');
  });

  void test('a currency only one source knows is priced from it', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    await s.refresh();
    assert.deepEqual(s.price('VES'), { price: 12_000_000, fetchedAt: NOW, sources: ['yadio'] });
  });

  void test('all down, then one back: breaker opens after the threshold, cooldown doubles, last-known-good until stale', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    await s.refresh();
    for (const k of KINDS) servers[k].mode = 'down';
    clock.advance(300);
    await assert.rejects(s.refresh(), /every price source failed/);
    assert.equal(s.price('USD')?.price, 100_050, 'last-known-good is served');
    assert.equal(s.price('USD')?.fetchedAt, NOW);
    clock.advance(300);
    await assert.rejects(s.refresh());
    const y = source(s, 'yadio');
    assert.equal(y.breaker, 'open');
    assert.equal(y.retryAt, NOW + 600 + 120);
    // cooling down: not even asked
    const before = servers.yadio.requests.length;
    clock.advance(60);
    await assert.rejects(s.refresh());
    assert.equal(servers.yadio.requests.length, before);
    // past the cooldown: a trial poll, still down → cooldown doubles to 240
    clock.advance(60);
    assert.equal(source(s, 'yadio').breaker, 'half-open');
    await assert.rejects(s.refresh());
    assert.equal(source(s, 'yadio').retryAt, NOW + 720 + 240);
    // staleness: 1800 s after the last good poll, nothing is served
    clock.set(NOW + 1801);
    assert.equal(s.price('USD'), null);
    assert.equal(s.status().currencies.find((c) => c.code === 'USD')?.stale, true);
    // Yadio comes back; its breaker lets the trial through after the cooldown
    servers.yadio.mode = 'ok';
    await s.refresh();
    assert.deepEqual(s.price('USD'), { price: 100_000, fetchedAt: NOW + 1801, sources: ['yadio'] });
    assert.equal(source(s, 'yadio').breaker, 'closed');
    assert.equal(source(s, 'coingecko').breaker, 'open');
  });

  void test('El Toque: CUP and MLC from the informal CUP per USD, resolved with this poll’s USD median', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock, priceSettings({}, [...KINDS, 'eltoque']));
    await s.refresh();
    // USD median 100 050; El Toque CUP = 410 × 100 050; Yadio CUP 40 000 000 → mean of two
    assert.equal(s.price('CUP')?.price, (410 * 100_050 + 40_000_000) / 2);
    assert.deepEqual(s.price('CUP')?.sources, ['blockchain', 'coingecko', 'currency_api', 'eltoque', 'yadio']);
    assert.equal(s.price('MLC')?.price, (410 / 250) * 100_050);
    // every USD source down: El Toque alone cannot price CUP
    for (const k of KINDS) servers[k].mode = 'down';
    clock.advance(300);
    await assert.rejects(s.refresh());
    assert.equal(source(s, 'eltoque').lastSuccessAt, NOW + 300);
    assert.equal(s.price('CUP')?.fetchedAt, NOW, 'CUP stays last-known-good');
  });

  void test('without [price]: Yadio alone from bitcoin_price_api_url, its codes as before, no breaker', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock, null);
    await s.refresh();
    assert.deepEqual(s.status().sources.map((x) => x.id), ['yadio']);
    assert.equal(s.price('XAU')?.price, 38, 'no allow-list in Yadio-only mode');
    servers.yadio.mode = 'down';
    for (let i = 0; i < 5; i++) {
      clock.advance(300);
      await assert.rejects(s.refresh());
    }
    assert.equal(source(s, 'yadio').breaker, 'closed');
    assert.equal(servers.yadio.requests.at(-1)?.path, '/exrates/BTC');
  });

  void test('snapshot for 30078: this poll’s rates and their sources', async () => {
    const clock = new FakeClock(NOW);
    const s = service(clock);
    await s.refresh();
    const snap = s.snapshot();
    assert.ok(snap);
    assert.deepEqual([...snap.rates.keys()], ['CUP', 'EUR', 'USD', 'VES']);
    assert.deepEqual(snap.sources?.get('VES'), ['yadio']);
  });
});

void describe('stale prices everywhere: market orders refused, fixed-sats orders still trade', () => {
  void test('new-order and take of market orders → price_too_stale (invalid_amount for v1 clients); a fixed-sats order is created and taken', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { mostro: { fee: 0.006 } } });
    const clock = ctx.clock;
    const prices = buildPriceService(effectivePriceConfig(testSettings({ price: priceSettings() })), {
      clock,
      logger: pino({ level: 'silent' }),
      userAgent: 'mostro/test',
      nostrReader: null,
    });
    const app: AppContext = { ...ctx, prices };
    await prices.refresh();
    const seller = await party(ctx);
    const buyer = await party(ctx);
    const requests = (): number => KINDS.reduce((n, k) => n + servers[k].requests.length, 0);
    const polled = requests();
    // market orders made and taken while prices are fresh: priced from the cache, no price API asked
    const other = await party(ctx);
    const buyer2 = await party(ctx);
    const fresh = await createOrder(ctx, other, { amount: 0n, fiat_amount: 50n });
    await takeSell(app, req('take-sell', { id: fresh.id, requestId: 3n, tradeIndex: 1n, payload: null }), buyer.inbound);
    assert.equal((await getOrder(ctx.db, fresh.id))?.amount, Math.trunc((50 / 100_050) * 1e8), '50 USD at the median 100 050');
    await newOrder(app, req('new-order', { requestId: 1n, tradeIndex: 1n, payload: { order: smallOrder({ amount: 0n, fiat_amount: 50n }) } }), seller.inbound);
    const marketOrder = (await findOrders(ctx.db, {})).find((o) => o.id !== fresh.id);
    assert.ok(marketOrder);
    assert.equal(requests(), polled, 'pricing orders asks no price API');
    clock.set(NOW + 1801); // every source's price is now older than 1800 s
    for (const k of KINDS) servers[k].mode = 'down';
    await assert.rejects(prices.refresh());
    assert.equal(prices.price('USD'), null);
    await assertCantDo(
      newOrder(app, req('new-order', { requestId: 2n, tradeIndex: 2n, payload: { order: smallOrder({ amount: 0n, fiat_amount: 50n }) } }), seller.inbound),
      'price_too_stale',
    );
    // a currency that never had a price: invalid_amount, as before
    await assertCantDo(
      newOrder(app, req('new-order', { requestId: 2n, tradeIndex: 2n, payload: { order: smallOrder({ amount: 0n, fiat_amount: 50n, fiat_code: 'ARS' }) } }), seller.inbound),
      'invalid_amount',
    );
    // what the router answers, and what a 0.8-era (protocol v1) client receives of it
    const before = ctx.outbox.sent.length;
    await dispatch(app, req('new-order', { requestId: 9n, tradeIndex: 2n, payload: { order: smallOrder({ amount: 0n, fiat_amount: 50n }) } }), seller.inbound);
    const reply = ctx.outbox.sent[before]!.message;
    assert.deepEqual(reply.kind.payload, { cant_do: 'price_too_stale' });
    assert.deepEqual(toProtocolV1(reply)?.kind.payload, { cant_do: 'invalid_amount' });
    await assertCantDo(
      takeSell(app, req('take-sell', { id: marketOrder.id, requestId: 4n, tradeIndex: 1n, payload: null }), buyer2.inbound),
      'price_too_stale',
    );
    assert.equal((await getOrder(ctx.db, marketOrder.id))?.status, 'pending');
    const fixed = await createOrder(ctx, seller, { amount: 100_000n, fiat_amount: 50n }, { tradeIndex: 3n });
    await takeSell(app, req('take-sell', { id: fixed.id, requestId: 5n, tradeIndex: 2n, payload: null }), buyer2.inbound);
    assert.equal((await getOrder(ctx.db, fixed.id))?.status, 'waiting-buyer-invoice');
  });
});
