/**
 * Helpers shared by the H6 handler/flow tests (requests, assertions, order creation through the
 * real new-order handler).
 */
import assert from 'node:assert/strict';
import type { Event } from 'nostr-tools/pure';
import type { Inbound } from '../../src/app/inbound.js';
import { newOrder } from '../../src/app/handlers/new-order.js';
import { getOrder, findOrders } from '../../src/db/orders.js';
import { insertUser } from '../../src/db/users.js';
import type { OrderRow } from '../../src/db/types.js';
import { CantDoError } from '../../src/errors.js';
import { buildMessage } from '../../src/protocol/build.js';
import type { Action, Message, Payload, SmallOrder } from '../../src/protocol/types.js';
import { inboundFor, newKeys, type TestContext, type TestKeys } from './test-context.js';

export interface Party {
  identity: TestKeys;
  trade: TestKeys;
  inbound: Inbound;
}

/** A reputation-mode user with a users row (as intake creates it) — or full privacy. */
export async function party(ctx: TestContext, opts: { fullPrivacy?: boolean; lastTradeIndex?: number } = {}): Promise<Party> {
  const identity = newKeys();
  const trade = opts.fullPrivacy === true ? identity : newKeys();
  if (opts.fullPrivacy !== true) {
    await insertUser(ctx.db, {
      pubkey: identity.pubkey,
      created_at: ctx.clock.now(),
      last_trade_index: opts.lastTradeIndex ?? 0,
    });
  }
  return { identity, trade, inbound: inboundFor(identity, trade, ctx.clock.now()) };
}

export interface RequestOptions {
  id?: string;
  requestId?: bigint | null;
  tradeIndex?: bigint | null;
  payload?: Payload | null;
}

/** A request as a client would send it (protocol version 1, wrapper `order`). */
export function req(action: Action, opts: RequestOptions = {}): Message {
  return buildMessage({
    action,
    ...(opts.id !== undefined ? { id: opts.id } : {}),
    requestId: opts.requestId ?? null,
    tradeIndex: opts.tradeIndex ?? null,
    payload: opts.payload ?? null,
  });
}

export function smallOrder(fields: Partial<SmallOrder> = {}): SmallOrder {
  return {
    kind: 'sell',
    status: 'pending',
    amount: 0n,
    fiat_code: 'USD',
    min_amount: null,
    max_amount: null,
    fiat_amount: 100n,
    payment_method: 'face to face,bank transfer',
    premium: 0n,
    created_at: 0n,
    expires_at: null,
    ...fields,
  };
}

export async function assertCantDo(p: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CantDoError, `expected CantDoError(${reason}), got ${String(err)}`);
    assert.equal(err.reason, reason);
    return true;
  });
}

/** Create an order through the real new-order handler; returns the stored row. */
export async function createOrder(
  ctx: TestContext,
  maker: Party,
  fields: Partial<SmallOrder>,
  opts: { tradeIndex?: bigint | null; requestId?: bigint } = {},
): Promise<OrderRow> {
  const before = new Set((await findOrders(ctx.db, {})).map((o) => o.id));
  await newOrder(
    ctx,
    req('new-order', {
      requestId: opts.requestId ?? 1n,
      tradeIndex: opts.tradeIndex === undefined ? 1n : opts.tradeIndex,
      payload: { order: smallOrder(fields) },
    }),
    maker.inbound,
  );
  const created = (await findOrders(ctx.db, {})).filter((o) => !before.has(o.id));
  assert.equal(created.length, 1, 'new-order created exactly one order');
  return created[0]!;
}

export async function reload(ctx: TestContext, id: string): Promise<OrderRow> {
  const o = await getOrder(ctx.db, id);
  assert.ok(o !== undefined, `order ${id} exists`);
  return o;
}

export function tag(ev: Event, name: string): string[] | undefined {
  return ev.tags.find((t) => t[0] === name)?.slice(1);
}

/** Last published 38383 for an order id. */
export function lastOrderEvent(ctx: TestContext, orderId: string): Event | undefined {
  return ctx.outbox.eventsOfKind(38383).filter((e) => tag(e, 'd')?.[0] === orderId).at(-1);
}

/** The single message sent to `to` (asserts there is exactly one). */
export function onlyMessage(ctx: TestContext, to: string): Message {
  const msgs = ctx.outbox.messagesTo(to);
  assert.equal(msgs.length, 1, `exactly one message to ${to.slice(0, 8)}: ${msgs.map((m) => m.kind.action).join(',')}`);
  return msgs[0]!;
}

export function orderPayload(m: Message): SmallOrder {
  const p = m.kind.payload;
  assert.ok(p !== null && 'order' in p, `payload is an order (${m.kind.action})`);
  return p.order;
}
