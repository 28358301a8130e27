import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PriceService, RatesSnapshot } from '../../../src/price/types.js';
import { parseRatesContent } from '../../../src/price/providers/nostr.js';
import { priceJobInterval, updatePrices } from '../../../src/scheduler/jobs/update-prices.js';
import { makeTestContext, testSettings } from '../../support/test-context.js';

const NOW = 1_796_000_000;

function servingSnapshot(base: PriceService, snap: RatesSnapshot): PriceService {
  return { price: (c) => base.price(c), refresh: () => Promise.resolve(snap.rates.size), snapshot: () => snap, status: () => base.status() };
}

const PRICE = {
  update_interval_seconds: 120,
  max_price_staleness_seconds: 1800,
  outlier_threshold_pct: 5,
  provider_timeout_seconds: 10,
  provider_failure_threshold: 3,
  provider_failure_cooldown_seconds: 120,
  provider_failure_cooldown_max_seconds: 1800,
  publish_to_nostr: true,
  providers: {},
};

void describe('kind 30078 with many sources', () => {
  void test('content stays {"BTC":{…}} (upstream readers parse it); source = all ids; rate_sources per currency', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { price: PRICE } });
    const snap: RatesSnapshot = {
      rates: new Map([
        ['EUR', 90_000.5],
        ['USD', 100_000],
        ['VES', 12_000_000],
      ]),
      fetchedAt: NOW,
      sources: new Map([
        ['EUR', ['coingecko', 'yadio']],
        ['USD', ['blockchain', 'coingecko', 'yadio']],
        ['VES', ['yadio']],
      ]),
    };
    await updatePrices({ ...ctx, prices: servingSnapshot(ctx.prices, snap) });
    const [ev] = ctx.outbox.eventsOfKind(30078);
    assert.ok(ev);
    assert.equal(ev.content, '{"BTC":{"EUR":90000.5,"USD":100000.0,"VES":12000000.0}}');
    assert.deepEqual(JSON.parse(ev.content), { BTC: { EUR: 90_000.5, USD: 100_000, VES: 12_000_000 } });
    assert.equal(parseRatesContent(ev.content)?.size, 3);
    assert.deepEqual(
      ev.tags.filter((t) => t[0] !== 'y' && t[0] !== 'z'),
      [
        ['d', 'mostro-rates'],
        ['published_at', String(NOW)],
        ['source', 'blockchain,coingecko,yadio'],
        ['expiration', String(NOW + 240)],
        ['rate_sources', 'EUR', 'coingecko,yadio'],
        ['rate_sources', 'USD', 'blockchain,coingecko,yadio'],
        ['rate_sources', 'VES', 'yadio'],
      ],
    );
  });

  void test('one source only: the tags 0.17.1 published, no rate_sources', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const snap: RatesSnapshot = { rates: new Map([['USD', 100_000]]), fetchedAt: NOW, sources: new Map([['USD', ['yadio']]]) };
    await updatePrices({ ...ctx, prices: servingSnapshot(ctx.prices, snap) });
    const [ev] = ctx.outbox.eventsOfKind(30078);
    assert.ok(ev);
    assert.deepEqual(
      ev.tags.filter((t) => t[0] !== 'y' && t[0] !== 'z'),
      [
        ['d', 'mostro-rates'],
        ['published_at', String(NOW)],
        ['source', 'yadio'],
        ['expiration', String(NOW + 600)],
      ],
    );
  });

  void test('[price] publish_to_nostr = false publishes nothing; [price] update_interval_seconds drives the job', async () => {
    const ctx = await makeTestContext({ now: NOW, settings: { price: { ...PRICE, publish_to_nostr: false } } });
    await updatePrices(ctx);
    assert.equal(ctx.outbox.eventsOfKind(30078).length, 0);
    assert.equal(priceJobInterval(testSettings({ price: PRICE })), 120);
    assert.equal(priceJobInterval(testSettings({ price: { ...PRICE, update_interval_seconds: 5 } })), 60);
    assert.equal(priceJobInterval(testSettings({ mostro: { exchange_rates_update_interval_seconds: 300 } })), 300);
  });
});
