/**
 * An order's change-log entry (db/order-changes.ts) goes only once a real relay accepted the 38383
 * event that publishes it: a new order (prepared in its transaction) and a status change
 * (publishOrder) through the production outbox and relay pool on a real WebSocket relay. While the
 * relay refuses every event the entries stay, and the republish job publishes those orders again
 * until the relay takes them.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { publishOrder } from '../../../src/app/flows/publish.js';
import { countOrderChanges, getOrderChange } from '../../../src/db/order-changes.js';
import { casUpdateOrder, getOrder } from '../../../src/db/orders.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import { newBookSyncState, republishChangedOrders } from '../../../src/scheduler/jobs/republish-changed-orders.js';
import { startRelay } from '../../support/relay.js';
import { makeTestContext, type TestContext } from '../../support/test-context.js';
import { createOrder, party } from '../../support/trade-fixtures.js';

void describe('order book: a change leaves the log when a relay accepted its event', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  void test('refused: the entries stay and the job republishes them; accepted: they go, and the relay holds the current states', async () => {
    const relay = await startRelay({ mode: 'refuse' });
    closers.push(() => relay.close());
    // Real time: the relay drops NIP-40-expired events.
    const base = await makeTestContext({ now: Math.floor(Date.now() / 1000) });
    const pool = new RelayPool({ urls: [relay.url], clock: base.clock, logger: base.logger, filter: null });
    pool.start();
    await pool.waitForConnection();
    closers.push(() => pool.close());
    const outbox = new RelayOutbox({ pool, keys: base.keys, clock: base.clock, logger: base.logger, publishRetry: { attempts: 2, initialMs: 5, maxMs: 5 } });
    // The trade fixtures only need the context's database and handlers; its outbox is the real one.
    const ctx = { ...base, outbox } as unknown as TestContext;
    const settle = async (): Promise<void> => {
      await outbox.flush();
      await ctx.orderChangeAcks.flush();
    };

    const maker = await party(ctx);
    const fresh = await createOrder(ctx, maker, { amount: 100_000n, fiat_amount: 50n }); // prepared in its transaction
    const second = await createOrder(ctx, maker, { amount: 50_000n, fiat_amount: 25n }, { tradeIndex: 2n });
    assert.ok(await casUpdateOrder(ctx.db, second.id, { status: 'pending' }, { status: 'canceled' }));
    assert.equal(await publishOrder(ctx, { ...second, status: 'canceled' }), 'queued');
    await settle();
    assert.equal(relay.events().length, 0, 'the relay took nothing');
    assert.equal((await getOrderChange(ctx.db, fresh.id))?.status, 'pending');
    assert.equal((await getOrderChange(ctx.db, second.id))?.status, 'canceled');
    assert.equal(ctx.orderChangeAcks.stats().inFlight, 0, 'both given up by the outbox');

    const state = newBookSyncState();
    await republishChangedOrders(ctx, state); // the watermark
    assert.deepEqual(await republishChangedOrders(ctx, state), { republished: 2, cleared: 0, skipped: 0 });
    await settle();
    assert.equal(await countOrderChanges(ctx.db), 2, 'refused again: still lagging');

    relay.setMode('accept');
    assert.deepEqual(await republishChangedOrders(ctx, state), { republished: 2, cleared: 0, skipped: 0 });
    await settle();
    assert.equal(await countOrderChanges(ctx.db), 0, 'accepted: the log is empty');
    for (const [o, s] of [[fresh, 'pending'], [second, 'canceled']] as const) {
      const stored = await relay.query({ kinds: [38383], authors: [ctx.keys.pubkey], '#d': [o.id] } as never);
      assert.equal(stored.length, 1);
      assert.deepEqual(stored[0]!.tags.find((t) => t[0] === 's'), ['s', s]);
      assert.equal((await getOrder(ctx.db, o.id))?.event_id, stored[0]!.id, 'the row names the event the relay holds');
    }
    assert.deepEqual(await republishChangedOrders(ctx, state), { republished: 0, cleared: 0, skipped: 0 }, 'converged');

    // With the relay accepting, a new order's entry goes with the first batch after its OK.
    const third = await createOrder(ctx, maker, { amount: 60_000n, fiat_amount: 30n }, { tradeIndex: 3n });
    await settle();
    assert.equal(await getOrderChange(ctx.db, third.id), undefined);
    assert.equal((await relay.query({ kinds: [38383], '#d': [third.id] } as never)).length, 1);
  });
});
