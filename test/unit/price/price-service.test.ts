import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { CachedPriceService } from '../../../src/price/price-service.js';
import { PriceFetchError } from '../../../src/price/price-fetch-error.js';
import type { PriceProvider } from '../../../src/price/types.js';
import { YadioProvider } from '../../../src/price/yadio.js';
import { FakeClock } from '../../support/fake-clock.js';
import { PriceServer } from '../../support/price-server.js';

function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** A provider whose next answers the test scripts. */
class ScriptedProvider implements PriceProvider {
  readonly name = 'scripted';
  readonly queue: Array<Map<string, number> | Error | Promise<Map<string, number>>> = [];
  calls = 0;
  fetchRates(): Promise<Map<string, number>> {
    this.calls += 1;
    const next = this.queue.shift();
    if (next === undefined) return Promise.reject(new Error('no scripted answer'));
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve(next);
  }
}

void describe('CachedPriceService', () => {
  void test('empty before the first refresh', () => {
    const s = new CachedPriceService({
      provider: new ScriptedProvider(),
      clock: new FakeClock(1000),
      logger: pino({ level: 'silent' }),
      maxStalenessSeconds: 900,
    });
    assert.equal(s.price('USD'), null);
    assert.equal(s.snapshot(), null);
  });

  void test('refresh fills the cache, logs the count, and prices carry the fetch time', async () => {
    const clock = new FakeClock(1_700_000_000);
    const provider = new ScriptedProvider();
    provider.queue.push(new Map([['USD', 50_000], ['EUR', 45_000]]));
    const { logger, lines } = captureLogger();
    const s = new CachedPriceService({ provider, clock, logger, maxStalenessSeconds: 900 });
    assert.equal(await s.refresh(), 2);
    assert.deepEqual(s.price('USD'), { price: 50_000, fetchedAt: 1_700_000_000 });
    assert.equal(s.price('usd'), null); // exact, case-sensitive
    assert.equal(s.price('JPY'), null);
    assert.ok(lines.some((l) => l['msg'] === 'Bitcoin prices updated. Got BTC price in 2 fiat currencies'));
  });

  void test('prices older than maxStalenessSeconds are not served (boundary inclusive)', async () => {
    const clock = new FakeClock(1_700_000_000);
    const provider = new ScriptedProvider();
    provider.queue.push(new Map([['USD', 50_000]]));
    const s = new CachedPriceService({ provider, clock, logger: pino({ level: 'silent' }), maxStalenessSeconds: 900 });
    await s.refresh();
    clock.advance(900);
    assert.equal(s.price('USD')?.price, 50_000);
    clock.advance(1);
    assert.equal(s.price('USD'), null);
    // the snapshot (for the kind-30078 event) still exposes the last successful fetch
    assert.equal(s.snapshot()?.fetchedAt, 1_700_000_000);
  });

  void test('a successful refresh replaces the map wholesale', async () => {
    const clock = new FakeClock(1000);
    const provider = new ScriptedProvider();
    provider.queue.push(new Map([['USD', 50_000], ['EUR', 45_000]]), new Map([['USD', 51_000]]));
    const s = new CachedPriceService({ provider, clock, logger: pino({ level: 'silent' }), maxStalenessSeconds: 60 });
    await s.refresh();
    clock.advance(30);
    await s.refresh();
    assert.deepEqual(s.price('USD'), { price: 51_000, fetchedAt: 1030 });
    assert.equal(s.price('EUR'), null); // dropped by the new fetch, not merged
  });

  void test('a failed refresh rethrows and keeps the previous cache', async () => {
    const clock = new FakeClock(1000);
    const provider = new ScriptedProvider();
    const failure = new PriceFetchError('down', 'http');
    provider.queue.push(new Map([['USD', 50_000]]), failure);
    const s = new CachedPriceService({ provider, clock, logger: pino({ level: 'silent' }), maxStalenessSeconds: 600 });
    await s.refresh();
    clock.advance(10);
    await assert.rejects(s.refresh(), (err) => err === failure);
    assert.deepEqual(s.price('USD'), { price: 50_000, fetchedAt: 1000 });
    // ... until it becomes stale: the old map is not served forever (0.17.1 did)
    clock.advance(591);
    assert.equal(s.price('USD'), null);
  });

  void test('a slow older refresh never overwrites a newer one', async () => {
    const clock = new FakeClock(1000);
    let releaseSlow: (m: Map<string, number>) => void = () => undefined;
    const slow = new Promise<Map<string, number>>((resolve) => {
      releaseSlow = resolve;
    });
    const answers = [slow, Promise.resolve(new Map([['USD', 2]]))];
    const provider: PriceProvider = {
      name: 'racy',
      fetchRates: () => answers.shift() ?? Promise.reject(new Error('none')),
    };
    const s = new CachedPriceService({ provider, clock, logger: pino({ level: 'silent' }), maxStalenessSeconds: 600 });
    const first = s.refresh();
    await s.refresh();
    releaseSlow(new Map([['USD', 1]]));
    await first;
    assert.equal(s.price('USD')?.price, 2);
  });

  void test('the snapshot is a copy', async () => {
    const provider = new ScriptedProvider();
    provider.queue.push(new Map([['USD', 50_000]]));
    const s = new CachedPriceService({ provider, clock: new FakeClock(1), logger: pino({ level: 'silent' }), maxStalenessSeconds: 60 });
    await s.refresh();
    s.snapshot()?.rates.set('USD', 1);
    assert.equal(s.price('USD')?.price, 50_000);
  });

  void test('maxStalenessSeconds must be positive', () => {
    assert.throws(
      () => new CachedPriceService({ provider: new ScriptedProvider(), clock: new FakeClock(1), logger: pino({ level: 'silent' }), maxStalenessSeconds: 0 }),
      RangeError,
    );
  });
});

void describe('CachedPriceService over YadioProvider and the local server', () => {
  let server: PriceServer;
  before(async () => {
    server = await PriceServer.start({ USD: 50_000, VES: null, ARS: 1_000_000 });
  });
  after(async () => {
    await server.close();
  });

  void test('end to end: nulls skipped, outage keeps the cache, garbage keeps the cache, recovery replaces it', async () => {
    const clock = new FakeClock(1_700_000_000);
    const provider = new YadioProvider({ baseUrl: server.url, timeoutMs: 2000, userAgent: 'mostro-test' });
    const s = new CachedPriceService({ provider, clock, logger: pino({ level: 'silent' }), maxStalenessSeconds: 900 });
    assert.equal(await s.refresh(), 2);
    assert.equal(s.price('VES'), null);
    assert.equal(s.price('ARS')?.price, 1_000_000);

    server.mode = 'down';
    clock.advance(300);
    await assert.rejects(s.refresh(), PriceFetchError);
    server.mode = 'garbage';
    await assert.rejects(s.refresh(), PriceFetchError);
    assert.deepEqual(s.price('USD'), { price: 50_000, fetchedAt: 1_700_000_000 });

    server.mode = 'ok';
    server.setRates({ USD: 60_000 });
    assert.equal(await s.refresh(), 1);
    assert.deepEqual(s.price('USD'), { price: 60_000, fetchedAt: 1_700_000_300 });
    assert.equal(s.price('ARS'), null);
  });
});
