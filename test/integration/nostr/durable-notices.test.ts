/**
 * The durable outbox on the wire (app/flows/notices.ts): the production outbox and relay pool on a
 * real WebSocket relay and a real migrated SQLite database. A stored notice whose event left
 * before the process "died" (the row's delete lost) is sent again by the next process as the same
 * event: the relay answers `duplicate` and its subscriber gets one copy; the row goes. A notice no
 * relay accepted stays stored and a later redelivery delivers it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { commitWithNotices, redeliverNotices } from '../../../src/app/flows/notices.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { listNotices } from '../../../src/db/notices.js';
import { unwrapGiftWrap } from '../../../src/nostr/gift-wrap.js';
import { RelayOutbox } from '../../../src/nostr/relay-outbox.js';
import { RelayPool } from '../../../src/nostr/relay-pool.js';
import { buildMessage } from '../../../src/protocol/build.js';
import { parseRumorContent } from '../../../src/protocol/index.js';
import { startRelay } from '../../support/relay.js';
import { makeTestContext, type TestContext } from '../../support/test-context.js';

const ORDER = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';

void describe('durable notices through a real relay', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  void test('re-sent after a restart as the same event: one copy at the relay and its subscriber; refused ones wait for a later redelivery', async () => {
    const relay = await startRelay({ mode: 'refuse' });
    closers.push(() => relay.close());
    const base = await makeTestContext({ now: Math.floor(Date.now() / 1000) });
    const user = generateSecretKey();
    const userPub = getPublicKey(user);

    // A subscriber (the client) on the relay: every gift wrap to the user.
    const received: NostrEvent[] = [];
    const client = new RelayPool({ urls: [relay.url], clock: base.clock, logger: base.logger, filter: { kinds: [1059], '#p': [userPub] } as never });
    client.onEvent((e: NostrEvent) => received.push(e));
    client.start();
    await client.waitForConnection();
    closers.push(() => client.close());

    const process = (): { ctx: TestContext; outbox: RelayOutbox; connected: Promise<unknown>; close: () => Promise<void> } => {
      const pool = new RelayPool({ urls: [relay.url], clock: base.clock, logger: base.logger, filter: null });
      pool.start();
      const connected = pool.waitForConnection();
      const outbox = new RelayOutbox({ pool, keys: base.keys, clock: base.clock, logger: base.logger, messageRetry: { attempts: 2, initialMs: 5, maxMs: 5 } });
      const ctx = { ...base, outbox } as unknown as TestContext;
      return { ctx, outbox, connected, close: () => pool.close() };
    };

    // Process 1: the relay refuses; the notice stays stored with its recorded event.
    const p1 = process();
    closers.push(p1.close);
    await p1.connected;
    const m = buildMessage({ action: 'released', id: ORDER, requestId: null });
    assert.equal(await commitWithNotices(p1.ctx, () => Promise.resolve(true), [[userPub, m]]), true);
    await p1.outbox.flush();
    await p1.ctx.tasks.idle();
    const [row] = await listNotices(base.db);
    assert.ok(row !== undefined && row.event !== null, 'kept, with the event it tried to send');
    const recorded = JSON.parse(row.event) as NostrEvent;
    assert.equal(relay.events().length, 0);

    // The relay accepts now; the same process's redelivery sends the recorded event.
    relay.setMode('accept');
    assert.equal((await redeliverNotices(p1.ctx)).sent, 1);
    await p1.outbox.flush();
    await p1.ctx.tasks.idle();
    assert.deepEqual(await listNotices(base.db), [], 'accepted: the row is gone');
    assert.deepEqual(relay.events().map((e) => e.id), [recorded.id]);

    // The process died before the delete reached the disk: the row is back.
    await base.db
      .withTables<{ mostrod_ts_notices: { id: number; order_id: string | null; recipient: string; message: string; queued_at: number; event: string | null } }>()
      .insertInto('mostrod_ts_notices')
      .values({ id: row.id, order_id: ORDER, recipient: userPub, message: row.message, queued_at: row.queued_at, event: row.event })
      .execute();
    const p2 = process();
    closers.push(p2.close);
    await p2.connected;
    assert.equal((await redeliverNotices(p2.ctx)).sent, 1);
    await p2.outbox.flush();
    await p2.ctx.tasks.idle();
    assert.deepEqual(await listNotices(base.db), [], 'the relay answered duplicate (OK): the row is gone');
    assert.deepEqual(relay.events().map((e) => e.id), [recorded.id], 'the relay holds one copy');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(received.map((e) => e.id), [recorded.id], 'the subscriber got it once');
    const opened = unwrapGiftWrap(received[0]!, user);
    assert.ok(opened.ok);
    assert.equal(parseRumorContent(opened.gift.rumor.content).message.kind.action, 'released');
  });
});
