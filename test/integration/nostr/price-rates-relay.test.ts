/**
 * The nostr price provider against a real relay holding kind-30078 rate events from a trusted and
 * an untrusted key (test/support/relay.ts), read through RelayRatesReader.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { finalizeEvent, type NostrEvent } from '../../../src/crypto/event.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import { RelayRatesReader } from '../../../src/nostr/rates-query.js';
import { MultiSourcePriceService } from '../../../src/price/price-service.js';
import { PriceFetchError } from '../../../src/price/price-fetch-error.js';
import { NostrProvider, type NostrRatesReader } from '../../../src/price/providers/nostr.js';
import { YadioProvider } from '../../../src/price/providers/yadio.js';
import { FakeClock } from '../../support/fake-clock.js';
import { PriceApiServer } from '../../support/price-apis.js';
import { closedPortUrl } from '../../support/price-server.js';
import { startRelay, type TestRelay } from '../../support/relay.js';
import { newKeys, type TestKeys } from '../../support/test-context.js';

const logger = pino({ level: 'silent' });
const NOW = Math.floor(Date.now() / 1000);

function ratesEvent(k: TestKeys, createdAt: number, rates: Record<string, number>, extraTags: string[][] = []): NostrEvent {
  return finalizeEvent(
    {
      kind: 30078,
      created_at: createdAt,
      tags: [['d', 'mostro-rates'], ['published_at', String(createdAt)], ['source', 'yadio'], ...extraTags],
      content: JSON.stringify({ BTC: rates }),
    },
    k.secretKey,
  );
}

let relay: TestRelay;
let pool: RelayPool;
const trusted = newKeys();
const trustedOld = newKeys();
const trustedExpired = newKeys();
const stranger = newKeys();

async function publish(ev: NostrEvent): Promise<void> {
  const [r] = await pool.publish(ev);
  assert.equal(r?.ok, true, r?.message);
}

before(async () => {
  relay = await startRelay();
  pool = new RelayPool({ urls: [relay.url], clock: new FakeClock(NOW), logger, filter: null });
  pool.start();
  await pool.waitForConnection();
  await publish(ratesEvent(trusted, NOW - 60, { USD: 100_000, VES: 12_000_000, eur: 90_000 }));
  await publish(ratesEvent(stranger, NOW - 5, { USD: 1, VES: 1 }));
  await publish(ratesEvent(trustedOld, NOW - 4000, { USD: 99_000 }));
});
after(async () => {
  await pool.close();
  await relay.close();
});

function provider(keys: TestKeys[], reader: NostrRatesReader = new RelayRatesReader({ urls: [relay.url], logger })): NostrProvider {
  return new NostrProvider({ trustedNodes: keys.map((k) => k.pubkey), reader, clock: new FakeClock(NOW), maxAgeSeconds: 1800 });
}

function poll(p: NostrProvider) {
  return p.fetchQuotes({ signal: new AbortController().signal, requestTimeoutMs: 3000 });
}

async function failure(p: NostrProvider): Promise<string> {
  try {
    await poll(p);
  } catch (err) {
    assert.ok(err instanceof PriceFetchError);
    return err.message;
  }
  assert.fail('resolved');
}

void describe('nostr price provider over a real relay', () => {
  void test('the trusted node’s event is used (the fresher untrusted one is not), dated by its created_at', async () => {
    const r = await poll(provider([trusted]));
    assert.deepEqual(Object.fromEntries([...r.quotes].map(([k, q]) => [k, q.value])), { USD: 100_000, VES: 12_000_000, eur: 90_000 });
    assert.equal(r.asOf, NOW - 60);
  });

  void test('untrusted authors are dropped even when a relay sends them (client-side check)', async () => {
    const everything: NostrRatesReader = {
      fetchRateEvents: async () => relay.query({ kinds: [30078] }),
    };
    const r = await poll(provider([trusted], everything));
    assert.equal(r.quotes.get('USD')?.value, 100_000);
    const msg = await failure(provider([newKeys()], everything));
    assert.match(msg, /untrusted 3/);
  });

  void test('older than max_price_staleness_seconds, or expired (NIP-40): never used', async () => {
    assert.match(await failure(provider([trustedOld])), /stale 1/);
    // the relay drops expired events on arrival; one that was stored before it expired:
    const expired = ratesEvent(trustedExpired, NOW - 30, { USD: 98_000 }, [['expiration', String(NOW - 1)]]);
    const reader: NostrRatesReader = { fetchRateEvents: () => Promise.resolve([expired]) };
    assert.match(await failure(provider([trustedExpired], reader)), /expired 1/);
  });

  void test('a forged signature or a tampered price is refused', async () => {
    const [real] = await relay.query({ kinds: [30078], authors: [trusted.pubkey] });
    assert.ok(real);
    const tampered = { ...real, content: JSON.stringify({ BTC: { USD: 1 } }) };
    const reader: NostrRatesReader = { fetchRateEvents: () => Promise.resolve([tampered]) };
    assert.match(await failure(provider([trusted], reader)), /signature 1/);
  });

  void test('no relay reachable: a transport failure', async () => {
    const reader = new RelayRatesReader({ urls: [(await closedPortUrl()).replace('http', 'ws')], logger });
    assert.match(await failure(provider([trusted], reader)), /no relay answered/);
  });

  void test('a relay that never sends EOSE is given up after the timeout; the other relay still answers', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => silent.once('listening', () => resolve()));
    try {
      const silentUrl = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const reader = new RelayRatesReader({ urls: [silentUrl, relay.url], logger });
      const p = new NostrProvider({ trustedNodes: [trusted.pubkey], reader, clock: new FakeClock(NOW), maxAgeSeconds: 1800 });
      const r = await p.fetchQuotes({ signal: new AbortController().signal, requestTimeoutMs: 500 });
      assert.equal(r.quotes.get('USD')?.value, 100_000);
      const alone = new NostrProvider({
        trustedNodes: [trusted.pubkey],
        reader: new RelayRatesReader({ urls: [silentUrl], logger }),
        clock: new FakeClock(NOW),
        maxAgeSeconds: 1800,
      });
      await assert.rejects(alone.fetchQuotes({ signal: new AbortController().signal, requestTimeoutMs: 300 }), /0 received/);
    } finally {
      for (const c of silent.clients) c.terminate();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  void test('in the service: only fills what HTTP sources did not price; never republished', async () => {
    const yadio = await PriceApiServer.start('yadio', { USD: 101_000 });
    try {
      const clock = new FakeClock(NOW);
      const s = new MultiSourcePriceService({
        providers: [{ provider: new YadioProvider({ urls: [yadio.url], userAgent: 't' }) }, { provider: provider([trusted]) }],
        clock,
        logger,
        maxStalenessSeconds: 1800,
        outlierThresholdPct: 5,
        providerTimeoutMs: 3000,
        breaker: { enabled: true, failureThreshold: 3, cooldownSeconds: 120, maxCooldownSeconds: 1800 },
        fiatAllowList: true,
      });
      await s.refresh();
      assert.deepEqual(s.price('USD'), { price: 101_000, fetchedAt: NOW, sources: ['yadio'] });
      assert.deepEqual(s.price('VES'), { price: 12_000_000, fetchedAt: NOW - 60, sources: ['nostr'] });
      assert.deepEqual([...(s.snapshot()?.rates.keys() ?? [])], ['USD']);
      // the HTTP API is blocked: the trusted node carries USD too, aging from its event
      yadio.mode = 'down';
      await s.refresh();
      assert.deepEqual(s.price('USD'), { price: 101_000, fetchedAt: NOW, sources: ['yadio'] }, 'a newer HTTP price is not replaced by an older relayed one');
      clock.advance(1741);
      assert.equal(s.price('VES'), null, 'a relayed price ages from its created_at');
    } finally {
      await yadio.close();
    }
  });
});
