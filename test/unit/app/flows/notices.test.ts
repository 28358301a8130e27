/**
 * The durable outbox (app/flows/notices.ts, simulation finding F9): notices stored with the mark
 * that says they were sent, delivered by a restarted process when the one that stored them died
 * first — as the same event when it had made one — and sent once per process.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedLock } from '../../../../src/app/locks.js';
import { release } from '../../../../src/app/handlers/release.js';
import { commitWithNotices, NOTICE_MAX_AGE_SECONDS, redeliverNotices } from '../../../../src/app/flows/notices.js';
import { TaskTracker } from '../../../../src/context.js';
import type { NostrEvent } from '../../../../src/crypto/event.js';
import { getNotice, insertNotices, listNotices } from '../../../../src/db/notices.js';
import { casUpdateOrder, getOrder } from '../../../../src/db/orders.js';
import { buildMessage } from '../../../../src/protocol/build.js';
import { parseMessageText } from '../../../../src/protocol/parse.js';
import { bootReconcile } from '../../../../src/scheduler/jobs/boot-reconcile.js';
import { MemoryOutbox } from '../../../support/memory-outbox.js';
import { makeTestContext, type TestContext } from '../../../support/test-context.js';
import { req } from '../../../support/trade-fixtures.js';
import { escrowedTrade } from '../trade-b-fixture.js';

/** A new process on the same database and Lightning node. */
function reboot(ctx: TestContext): TestContext {
  return { ...ctx, locks: new KeyedLock(), tasks: new TaskTracker(), outbox: new MemoryOutbox(ctx.keys.secretKey, ctx.clock) };
}

const USER = 'a'.repeat(64);
const ORDER = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';

function fakeEvent(id: string): NostrEvent {
  return { id, pubkey: USER, created_at: 1, kind: 1059, tags: [], content: 'x', sig: 'f'.repeat(128) };
}

void describe('durable notices', () => {
  void test('stored in the transaction of the mark: a lost compare-and-set stores and sends nothing', async () => {
    const ctx = await makeTestContext();
    const m = buildMessage({ action: 'released', id: ORDER, requestId: null });
    assert.equal(await commitWithNotices(ctx, () => Promise.resolve(false), [[USER, m]]), false);
    assert.equal(ctx.outbox.sent.length, 0);
    assert.deepEqual(await listNotices(ctx.db), []);
    // A failing write rolls the notices back with it.
    await assert.rejects(
      commitWithNotices(ctx, () => Promise.reject(new Error('boom')), [[USER, m]]),
      /boom/,
    );
    assert.deepEqual(await listNotices(ctx.db), []);
    assert.equal(await commitWithNotices(ctx, () => Promise.resolve(true), [[USER, m]]), true);
    assert.deepEqual(ctx.outbox.sent.map((s) => [s.to, s.message.kind.action]), [[USER, 'released']]);
    await ctx.tasks.idle();
    assert.deepEqual(await listNotices(ctx.db), [], 'accepted by a relay: the row is gone');
  });

  void test('a process that dies with its notices in flight: the next one sends them, the recorded event as is', async () => {
    const ctx = await makeTestContext();
    ctx.outbox.holdNotices = true;
    const m1 = buildMessage({ action: 'released', id: ORDER, requestId: null });
    const m2 = buildMessage({ action: 'rate', id: ORDER, requestId: 7n });
    await commitWithNotices(ctx, () => Promise.resolve(true), [[USER, m1], [USER, m2]]);
    const [n1, n2] = ctx.outbox.heldNotices;
    assert.ok(n1 !== undefined && n2 !== undefined);
    // The first was wrapped (and may have left); the second never got that far.
    await n1.wrapped(fakeEvent('1'.repeat(64)));
    await assert.rejects(n1.wrapped(fakeEvent('2'.repeat(64))), /already has an event/, 'an event is recorded once');
    // The same process does not hand out a notice it has in flight.
    assert.deepEqual(await redeliverNotices(ctx), { sent: 0, inFlight: 2, expired: 0, unreadable: 0 });
    assert.equal(ctx.outbox.sent.length, 2);

    const next = reboot(ctx);
    next.outbox.holdNotices = true;
    assert.deepEqual(await redeliverNotices(next), { sent: 2, inFlight: 0, expired: 0, unreadable: 0 });
    assert.deepEqual(next.outbox.sent.map((s) => s.message), [m1, m2], 'same messages, in order (request id kept)');
    const [r1, r2] = next.outbox.heldNotices;
    assert.equal(r1?.event?.id, '1'.repeat(64), 'the event that may have left is sent again as is');
    assert.equal(r2?.event, null, 'never wrapped: wrapped anew');
    r1!.done();
    r1!.done(); // idempotent
    await next.tasks.idle();
    assert.deepEqual((await listNotices(next.db)).map((r) => r.id), [r2!.id]);
    // Released (no relay accepted it): sent again by the next redelivery of this process.
    r2!.released();
    assert.deepEqual(await redeliverNotices(next), { sent: 1, inFlight: 0, expired: 0, unreadable: 0 });
  });

  void test('a notice no relay accepted for a week is dropped with an error', async () => {
    const ctx = await makeTestContext();
    ctx.outbox.holdNotices = true;
    await commitWithNotices(ctx, () => Promise.resolve(true), [[USER, buildMessage({ action: 'released', id: ORDER, requestId: null })]]);
    const held = ctx.outbox.heldNotices[0]!;
    ctx.clock.advance(NOTICE_MAX_AGE_SECONDS + 1);
    assert.equal((await redeliverNotices(ctx)).expired, 0, 'in flight: left alone');
    held.released();
    assert.deepEqual(await redeliverNotices(ctx), { sent: 0, inFlight: 0, expired: 1, unreadable: 0 });
    assert.equal(await getNotice(ctx.db, held.id), undefined);
  });

  void test('a row that cannot be read is kept for the operator, not sent', async () => {
    const ctx = await makeTestContext();
    const [row] = await insertNotices(ctx.db, [{ orderId: ORDER, recipient: USER, message: 'not a message' }], ctx.clock.now());
    assert.deepEqual(await redeliverNotices(ctx), { sent: 0, inFlight: 0, expired: 0, unreadable: 1 });
    assert.equal(ctx.outbox.sent.length, 0);
    assert.ok((await getNotice(ctx.db, row!.id)) !== undefined);
  });

  void test('release: a crash after the mark loses no notice, and the restart sends each once (F9)', async () => {
    const ctx = await makeTestContext();
    const t = await escrowedTrade(ctx, { status: 'fiat-sent' });
    ctx.outbox.holdNotices = true; // the process dies before any relay accepted them
    await release(ctx, req('release', { id: t.order.id, requestId: 5n }), t.seller.inbound);
    const o = await getOrder(ctx.db, t.order.id);
    assert.equal(o?.status, 'settled-hold-invoice');
    assert.notEqual(o?.payout_claimed_at, null, 'the payout-started mark');
    assert.deepEqual(
      (await listNotices(ctx.db)).map((r) => [r.recipient === t.buyer.trade.pubkey ? 'buyer' : 'seller', parseMessageText(r.message).kind.action]),
      [['buyer', 'released'], ['seller', 'hold-invoice-payment-settled'], ['seller', 'rate']],
      'stored with the mark',
    );
    // Make the payout wait so that the reboot sees the order as the crash left it.
    await casUpdateOrder(ctx.db, t.order.id, { status: 'settled-hold-invoice' }, {});
    const next = reboot(ctx);
    await bootReconcile(next);
    const to = (who: string) => next.outbox.sent.filter((s) => s.to === who).map((s) => s.message.kind.action);
    assert.deepEqual(to(t.buyer.trade.pubkey).filter((a) => a === 'released'), ['released']);
    assert.deepEqual(to(t.seller.trade.pubkey).filter((a) => a !== 'purchase-completed'), ['hold-invoice-payment-settled', 'rate']);
    assert.equal(next.outbox.sent.find((s) => s.message.kind.action === 'hold-invoice-payment-settled')?.message.kind.request_id, 5n);
    await next.tasks.idle();
    const sentBefore = next.outbox.sent.length;
    await bootReconcile(next);
    await next.tasks.idle();
    assert.equal(next.outbox.sent.filter((s) => ['released', 'hold-invoice-payment-settled'].includes(s.message.kind.action)).length, 2, 'a second boot sends them no more');
    assert.ok(next.outbox.sent.length >= sentBefore);
    assert.deepEqual(await listNotices(next.db), []);
  });
});
