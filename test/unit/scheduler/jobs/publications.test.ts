import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rateUser } from '../../../../src/app/handlers/rate-user.js';
import { countQueuedEvents, enqueueEvent, listClaimableEvents } from '../../../../src/db/event-queue.js';
import { buildRatingEvent } from '../../../../src/nostr/events.js';
import type { EventTemplate } from '../../../../src/nostr/outbox.js';
import type { PriceService } from '../../../../src/price/types.js';
import { publishInfo } from '../../../../src/scheduler/jobs/publish-info.js';
import { publishMetadata } from '../../../../src/scheduler/jobs/publish-metadata.js';
import { publishQueuedEvents, QUEUE_CLAIM_STALE_SECONDS } from '../../../../src/scheduler/jobs/publish-queued-events.js';
import { publishRelayList } from '../../../../src/scheduler/jobs/publish-relay-list.js';
import { priceJobInterval, updatePrices } from '../../../../src/scheduler/jobs/update-prices.js';
import { MOSTRO_VERSION } from '../../../../src/version.js';
import { MemoryOutbox } from '../../../support/memory-outbox.js';
import { makeTestContext, testSettings, type TestContext } from '../../../support/test-context.js';
import { req, tag } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../../app/trade-b-fixture.js';

const NOW = 1_700_000_000;

function ratingTemplate(ctx: TestContext, d: string): EventTemplate & { created_at: number } {
  const ev = buildRatingEvent({
    d,
    total_reviews: 1,
    total_rating: 2.5,
    last_rating: 5,
    max_rate: 5,
    min_rate: 5,
    days: 0,
    settings: ctx.settings,
    now: ctx.clock.now(),
  });
  return { ...ev, created_at: ctx.clock.now() };
}

/** An outbox whose publish fails (signing/queueing error). */
class FailingOutbox extends MemoryOutbox {
  fail = true;
  override publish(event: EventTemplate): Promise<string> {
    if (this.fail) return Promise.reject(new Error('outbox unavailable'));
    return super.publish(event);
  }
}

void describe('queued rating events (DAEMON §4.5; Q26 fixed: persisted)', () => {
  void test('rate-user queues the 38384 in its transaction and publishes it at once; the queue is empty after', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'success' });
    await rateUser(ctx, req('rate-user', { id: t.order.id, payload: { rating_user: 4 } }), t.buyer.inbound);
    assert.equal(ctx.outbox.eventsOfKind(38384).length, 1);
    assert.equal(await countQueuedEvents(ctx.db), 0);
  });

  void test('a rating whose immediate publication failed survives in the DB and the job publishes it', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const t = await escrowedTrade(ctx, { status: 'success' });
    const failing = new FailingOutbox(ctx.keys.secretKey, ctx.clock);
    const down = { ...ctx, outbox: failing };
    await rateUser(down, req('rate-user', { id: t.order.id, payload: { rating_user: 4 } }), t.buyer.inbound);
    assert.equal(failing.published.length, 0);
    assert.equal(failing.actions(t.buyer.trade.pubkey).join(), 'rate-received', 'the rater is still answered');
    assert.equal(await countQueuedEvents(ctx.db), 1, 'kept in the DB (a restart loses nothing)');

    await publishQueuedEvents(down); // still failing: kept
    assert.equal(await countQueuedEvents(ctx.db), 1);

    // "After a restart": another context on the same DB.
    ctx.clock.advance(3600);
    await publishQueuedEvents(ctx);
    const ev = ctx.outbox.eventsOfKind(38384);
    assert.equal(ev.length, 1);
    assert.deepEqual(tag(ev[0]!, 'd'), [t.buyer.trade.pubkey]);
    assert.equal(ev[0]!.created_at, NOW, 'keeps the rating time');
    assert.equal(await countQueuedEvents(ctx.db), 0);
    await publishQueuedEvents(ctx);
    assert.equal(ctx.outbox.eventsOfKind(38384).length, 1, 'published once');
  });

  void test('a claim left by a dead publisher is taken again only after it went stale', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const id = await enqueueEvent(ctx.db, ratingTemplate(ctx, 'ab'.repeat(32)), NOW);
    await ctx.db
      .withTables<{ mostrod_ts_event_queue: { id: number; claimed_at: number | null } }>()
      .updateTable('mostrod_ts_event_queue')
      .set({ claimed_at: NOW })
      .where('id', '=', id)
      .execute();
    await publishQueuedEvents(ctx);
    assert.equal(ctx.outbox.published.length, 0);
    ctx.clock.advance(QUEUE_CLAIM_STALE_SECONDS + 1);
    assert.equal((await listClaimableEvents(ctx.db, ctx.clock.now() - QUEUE_CLAIM_STALE_SECONDS)).length, 1);
    await publishQueuedEvents(ctx);
    assert.equal(ctx.outbox.eventsOfKind(38384).length, 1);
    assert.equal(await countQueuedEvents(ctx.db), 0);
  });
});

void describe('info event 38385 (DAEMON §4.7)', () => {
  void test('published with fresh lnd_* tags; skipped while LND is down', async () => {
    const ctx = await makeTestContext({ now: NOW });
    ctx.lightning.setState('down');
    await publishInfo(ctx);
    assert.equal(ctx.outbox.published.length, 0);
    ctx.lightning.setState('up');
    await publishInfo(ctx);
    const ev = ctx.outbox.eventsOfKind(38385);
    assert.equal(ev.length, 1);
    assert.deepEqual(tag(ev[0]!, 'd'), [ctx.keys.pubkey]);
    assert.deepEqual(tag(ev[0]!, 'mostro_version'), [MOSTRO_VERSION]);
    assert.deepEqual(tag(ev[0]!, 'lnd_networks'), ['regtest']);
    assert.deepEqual(tag(ev[0]!, 'lnd_node_alias'), ['fake-lnd']);
    assert.equal(tag(ev[0]!, 'expiration'), undefined, 'no NIP-40 expiration on 38385');
    assert.ok(ctx.lightning.callsOf('getInfo').length >= 1);
  });
});

void describe('relay list 10002 (DAEMON §4.8)', () => {
  void test('one r tag per connected relay; none connected → nothing published', async () => {
    const ctx = await makeTestContext({ now: NOW });
    await publishRelayList(ctx, { connectedRelays: () => ['wss://a.example', 'wss://b.example'] });
    await publishRelayList(ctx, { connectedRelays: () => [] });
    const ev = ctx.outbox.eventsOfKind(10002);
    assert.deepEqual(ev[0]!.tags, [['r', 'wss://a.example'], ['r', 'wss://b.example']]);
    // none connected: nothing published (an empty list would replace the good one)
    assert.equal(ev.length, 1);
  });
});

void describe('prices + 30078 (DAEMON §4.9, §6.5)', () => {
  void test('interval is max(60, configured)', () => {
    assert.equal(priceJobInterval(testSettings({ mostro: { exchange_rates_update_interval_seconds: 10 } })), 60);
    assert.equal(priceJobInterval(testSettings({ mostro: { exchange_rates_update_interval_seconds: 300 } })), 300);
  });

  void test('refresh then publish the snapshot; no event when disabled or when the refresh failed', async () => {
    const ctx = await makeTestContext({ now: NOW, prices: { USD: 50_000, EUR: 45_000 } });
    await updatePrices(ctx);
    const ev = ctx.outbox.eventsOfKind(30078);
    assert.equal(ev.length, 1);
    assert.deepEqual(tag(ev[0]!, 'd'), ['mostro-rates']);
    assert.deepEqual(tag(ev[0]!, 'expiration'), [String(NOW + 600)]);
    assert.deepEqual(JSON.parse(ev[0]!.content), { BTC: { USD: 50_000, EUR: 45_000 } });

    let refreshed = 0;
    const failing: PriceService = {
      price: () => null,
      refresh: () => {
        refreshed += 1;
        return Promise.reject(new Error('yadio down'));
      },
      snapshot: () => ctx.prices.snapshot(),
      status: () => ctx.prices.status(),
    };
    await updatePrices({ ...ctx, prices: failing });
    assert.equal(refreshed, 1);
    assert.equal(ctx.outbox.eventsOfKind(30078).length, 1, 'nothing published after a failed refresh');

    const off = await makeTestContext({ now: NOW, settings: { mostro: { publish_exchange_rates_to_nostr: false } } });
    await updatePrices(off);
    assert.equal(off.outbox.published.length, 0);
  });
});

void describe('kind 0 metadata (DAEMON §8.7)', () => {
  void test('published once with the set fields; nothing when none is set', async () => {
    const none = await makeTestContext({ now: NOW });
    assert.equal(await publishMetadata(none), false);
    assert.equal(none.outbox.published.length, 0);

    const ctx = await makeTestContext({
      now: NOW,
      settings: { mostro: { name: 'Mostro P2P', website: 'https://mostro.network', picture: 'not a url' } },
    });
    assert.equal(await publishMetadata(ctx), true);
    const ev = ctx.outbox.eventsOfKind(0);
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.content, '{"name":"Mostro P2P","website":"https://mostro.network/"}');
  });
});
