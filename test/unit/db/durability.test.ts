/**
 * The durability barrier (src/db/durability.ts) and the effects it gates.
 *
 * Invariant searched by the seeded model test: an effect asked for after a commit starts only once
 * an fdatasync that began after that commit (and outside any open transaction) has completed — syncs
 * ending in any order; the effects start in the order they were asked for; at most
 * MAX_SYNCS_IN_FLIGHT syncs run at a time; every effect eventually starts (or fails, once a sync
 * failed). And the reason two may run: an effect no running sync covers never waits for a sync
 * start while fewer than MAX_SYNCS_IN_FLIGHT run (unless a transaction is open).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { pino } from 'pino';
import { closeDatabase, durabilityOf, openDatabase } from '../../../src/db/database.js';
import { durabilityFromEnv, MAX_SYNCS_IN_FLIGHT, WalBarrier, type ChangeCounter } from '../../../src/db/durability.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { DurableLightning } from '../../../src/lightning/durable.js';
import type { LightningBackend } from '../../../src/lightning/backend.js';
import { RelayOutbox, type Publisher } from '../../../src/nostr/relay-outbox.js';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { answerWhenDurable } from '../../../src/rpc/server.js';
import { FakeClock } from '../../support/fake-clock.js';
import { signedInvoice } from '../../support/test-context.js';
import { req } from '../../support/trade-fixtures.js';

/** A connection model: committed rows, an open transaction's rows, SQLite's total_changes(). */
class ModelConnection implements ChangeCounter {
  committed = 0;
  open: number | null = null;
  total = 0;
  totalChanges(): number {
    return this.total;
  }
  inTransaction(): boolean {
    return this.open !== null;
  }
  write(rows: number): void {
    this.total += rows;
    if (this.open === null) this.committed = this.total;
    else this.open += rows;
  }
  begin(): void {
    if (this.open === null) this.open = 0;
  }
  commit(): void {
    if (this.open === null) return;
    this.open = null;
    this.committed = this.total;
  }
  rollback(): void {
    // total_changes() keeps counting rolled-back rows; nothing was committed.
    this.open = null;
  }
}

type Op =
  | { t: 'write'; rows: number }
  | { t: 'begin' }
  | { t: 'commit' }
  | { t: 'rollback' }
  | { t: 'effect' }
  /** `i`: which of the running syncs ends (modulo their number): they may end in any order */
  | { t: 'sync-done'; i: number }
  | { t: 'sync-fail'; i: number }
  | { t: 'deferred' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('write' as const), rows: fc.integer({ min: 0, max: 3 }) }), weight: 4 },
  { arbitrary: fc.constant({ t: 'begin' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'commit' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'rollback' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'effect' as const }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('sync-done' as const), i: fc.nat(3) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('sync-fail' as const), i: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.constant({ t: 'deferred' as const }), weight: 2 },
);

interface Effect {
  no: number;
  /** Committed rows when the effect was asked for: what it may depend on. */
  needs: number;
  state: 'waiting' | 'started' | 'failed';
}

/** Runs a schedule against the barrier; throws on any violation. `failures` off: no sync-fail ops. */
async function runSchedule(ops: Op[]): Promise<void> {
  const conn = new ModelConnection();
  const syncs: Array<{ covers: number; done: () => void; fail: (e: Error) => void }> = [];
  const deferred: Array<() => void> = [];
  let durableOnDisk = 0;
  let fatal = 0;
  const barrier = new WalBarrier({
    counter: conn,
    sync: () => {
      assert.equal(conn.inTransaction(), false, 'a sync started inside a transaction');
      assert.ok(syncs.length < MAX_SYNCS_IN_FLIGHT, `${syncs.length + 1} syncs in flight`);
      // What this sync puts on disk: the rows committed when it started.
      const covers = conn.committed;
      return new Promise<void>((resolve, reject) => {
        syncs.push({
          covers,
          done: () => {
            durableOnDisk = Math.max(durableOnDisk, covers);
            resolve();
          },
          fail: reject,
        });
      });
    },
    onFatal: () => fatal++,
    defer: (fn) => deferred.push(fn),
  });
  const effects: Effect[] = [];
  const startedOrder: number[] = [];
  let failedOnce = false;
  const ask = (): void => {
    const e: Effect = { no: effects.length, needs: conn.committed, state: 'waiting' };
    effects.push(e);
    const start = (): void => {
      assert.ok(durableOnDisk >= e.needs, `effect ${e.no} started with ${durableOnDisk} rows on disk, needs ${e.needs}`);
      e.state = 'started';
      startedOrder.push(e.no);
    };
    const w = barrier.durable();
    if (w === null) start();
    else
      w.then(start, () => {
        e.state = 'failed';
      });
  };
  const settle = () => new Promise<void>((r) => setImmediate(r));
  for (const op of ops) {
    switch (op.t) {
      case 'write':
        conn.write(op.rows);
        break;
      case 'begin':
        conn.begin();
        break;
      case 'commit':
        conn.commit();
        break;
      case 'rollback':
        conn.rollback();
        break;
      case 'effect':
        ask();
        break;
      case 'sync-done':
        if (syncs.length > 0) syncs.splice(op.i % syncs.length, 1)[0]!.done();
        break;
      case 'sync-fail':
        if (syncs.length > 0) {
          failedOnce = true;
          syncs.splice(op.i % syncs.length, 1)[0]!.fail(new Error('EIO'));
        }
        break;
      case 'deferred':
        deferred.shift()?.();
        break;
    }
    await settle();
    // No needless wait: outside a transaction, with no start deferred, a waiting effect is covered
    // by a running sync unless MAX_SYNCS_IN_FLIGHT run.
    if (!failedOnce && !conn.inTransaction() && deferred.length === 0 && syncs.length < MAX_SYNCS_IN_FLIGHT) {
      for (const e of effects) {
        if (e.state === 'waiting') assert.ok(syncs.some((y) => y.covers >= e.needs), `effect ${e.no} waits with no sync covering it and a slot free`);
      }
    }
  }
  // Liveness: close the open transaction, then let every sync and deferred start complete.
  conn.commit();
  for (let guard = 0; guard < 1000 && (syncs.length > 0 || deferred.length > 0); guard++) {
    deferred.shift()?.();
    syncs.shift()?.done();
    await settle();
  }
  for (const e of effects) {
    if (failedOnce) assert.notEqual(e.state, 'waiting', `effect ${e.no} never finished after a failed sync`);
    else assert.equal(e.state, 'started', `effect ${e.no} never started`);
  }
  assert.deepEqual(
    startedOrder,
    [...startedOrder].sort((a, b) => a - b),
    'effects started out of order',
  );
  assert.equal(fatal, failedOnce ? 1 : 0, 'onFatal once per failure');
  const s = barrier.stats();
  assert.ok(s.syncs <= s.waits, `${s.syncs} syncs for ${s.waits} waits`);
  if (failedOnce) await assert.rejects(barrier.durable() ?? Promise.resolve(), /fdatasync of the WAL\) failed: EIO/);
}

void describe('durability barrier', () => {
  void test('model: no effect before its commits are synced, in order, at most two syncs ending in any order, no needless wait, always progress (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => runSchedule(ops)),
      { seed: 20_261_203, numRuns: Number(process.env.DURABILITY_RUNS ?? 3000) },
    );
  });

  void test('model: a barrier asked inside a transaction waits for a sync after it ends', async () => {
    // Found by thinking, kept as an example: the open transaction's rows are in total_changes().
    await runSchedule([
      { t: 'write', rows: 1 },
      { t: 'effect' },
      { t: 'begin' },
      { t: 'write', rows: 2 },
      { t: 'sync-done', i: 0 }, // nothing in flight yet: the first sync was deferred
      { t: 'deferred' },
      { t: 'commit' },
      { t: 'effect' },
      { t: 'deferred' },
      { t: 'sync-done', i: 0 },
      { t: 'effect' },
    ]);
  });

  void test('the connection closed under a start that waited for a transaction: waiters fail, fatal unless the barrier is closing', async () => {
    for (const closing of [false, true]) {
      let closed = false;
      const conn = new ModelConnection();
      const counter: ChangeCounter = {
        totalChanges: () => {
          if (closed) throw new TypeError('The database connection is not open');
          return conn.totalChanges();
        },
        inTransaction: () => {
          if (closed) throw new TypeError('The database connection is not open');
          return conn.inTransaction();
        },
      };
      const deferred: Array<() => void> = [];
      const fatal: Error[] = [];
      const barrier = new WalBarrier({ counter, sync: () => Promise.resolve(), defer: (fn) => deferred.push(fn), onFatal: (e) => fatal.push(e) });
      conn.write(1);
      conn.begin();
      const wait = barrier.durable();
      assert.ok(wait !== null);
      const done = closing ? barrier.close() : Promise.resolve();
      closed = true;
      deferred.shift()!(); // the start retried after the transaction: the connection is gone
      await assert.rejects(wait, /database sync .* failed: The database connection is not open/);
      await done;
      assert.equal(fatal.length, closing ? 0 : 1);
      assert.equal(barrier.stats().failed, true);
    }
  });

  void test('MOSTROD_DB_SYNC: barrier by default, commit on request, a bad value names the variable', () => {
    assert.equal(durabilityFromEnv({}), 'barrier');
    assert.equal(durabilityFromEnv({ MOSTROD_DB_SYNC: 'Commit' }), 'commit');
    assert.equal(durabilityFromEnv({ MOSTROD_DB_SYNC: 'barrier' }), 'barrier');
    assert.throws(() => durabilityFromEnv({ MOSTROD_DB_SYNC: 'off' }), /MOSTROD_DB_SYNC: expected "barrier" or "commit", got "off"/);
  });

  void test('a real database in barrier mode: synchronous NORMAL, one fdatasync per batch of commits, none when clean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mostrod-durability-'));
    try {
      const db = await openDatabase(join(dir, 'mostro.db'), { durability: 'barrier' });
      const sqlite = (db as unknown as { sqlite: { pragma(p: string, o?: object): unknown } }).sqlite;
      assert.equal(sqlite.pragma('synchronous', { simple: true }), 1);
      const b = durabilityOf(db);
      assert.equal(b.durable(), null, 'nothing written since open');
      await db.insertInto('users').values(userRow('a')).execute();
      await db.insertInto('users').values(userRow('b')).execute();
      const w1 = b.durable();
      const w2 = b.durable();
      assert.ok(w1 !== null && w2 !== null);
      await Promise.all([w1, w2]);
      assert.equal(b.stats().syncs, 1, 'two waits, one sync');
      assert.equal(b.durable(), null, 'synced');
      await db.selectFrom('users').selectAll().execute();
      assert.equal(b.durable(), null, 'a read needs no sync');
      await closeDatabase(db);
      // The default (tools, tests): SQLite syncs every commit, the barrier never waits.
      const plain = await openDatabase(join(dir, 'mostro.db'));
      assert.equal((plain as unknown as { sqlite: { pragma(p: string, o?: object): unknown } }).sqlite.pragma('synchronous', { simple: true }), 2);
      await plain.insertInto('users').values(userRow('c')).execute();
      assert.equal(durabilityOf(plain).durable(), null);
      assert.equal((await plain.selectFrom('users').selectAll().execute()).length, 3);
      await closeDatabase(plain);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function userRow(c: string) {
  return {
    pubkey: c.repeat(64),
    is_admin: 0,
    admin_password: null,
    is_solver: 0,
    is_banned: 0,
    category: 0,
    last_trade_index: 0,
    total_reviews: 0,
    total_rating: 0,
    last_rating: 0,
    max_rating: 0,
    min_rating: 0,
    created_at: 1,
  };
}

/** A barrier the test opens by hand. */
function gate() {
  let open = false;
  let release!: () => void;
  const p = new Promise<void>((r) => (release = r));
  return {
    durable: () => (open ? null : p),
    open: () => {
      open = true;
      release();
    },
  };
}

void describe('effects wait for the barrier', () => {
  void test('relay outbox: nothing is handed to the relays before the sync, then everything in order', async () => {
    const g = gate();
    const calls: NostrEvent[] = [];
    const pub: Publisher = {
      urls: () => ['ws://a'],
      publish: async (event) => {
        calls.push(event);
        return [{ url: 'ws://a', ok: true, message: '' }];
      },
    };
    const node = generateSecretKey();
    const ob = new RelayOutbox({ pool: pub, keys: { secretKey: node, pubkey: getPublicKey(node) }, clock: new FakeClock(), logger: pino({ level: 'silent' }), durable: g.durable });
    const user = getPublicKey(generateSecretKey());
    for (let i = 1; i <= 3; i++) ob.sendMessage(user, req('fiat-sent-ok', { requestId: BigInt(i) }));
    const id = await ob.publish({ kind: 1, tags: [], content: 'x' });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls.length, 0, 'handed off before the commits were durable');
    g.open();
    await ob.flush();
    assert.equal(calls.length, 4);
    assert.ok(calls.some((e) => e.id === id));
    const wraps = calls.filter((e) => e.kind === 1059).map((e) => e.created_at);
    assert.equal(wraps.length, 3);
  });

  void test('lightning: add, settle, cancel and pay wait; reads do not', async () => {
    const g = gate();
    const seen: string[] = [];
    const inner = new Proxy({} as LightningBackend, {
      get: (_t, name) => {
        if (name === 'state') return 'up';
        if (name === 'info' || name === 'lastError') return null;
        return (..._args: unknown[]) => {
          seen.push(String(name));
          if (name === 'trackPayment') return Promise.resolve({ hash: '00', state: 'unknown' });
          return name === 'watchInvoice' || name === 'onStateChange' ? () => {} : Promise.resolve(null);
        };
      },
    });
    const ln = new DurableLightning(inner, g.durable);
    const effects = [
      ln.addHoldInvoice({ amountSats: 1, description: '', expirySeconds: 1, cltvExpiry: 1 } as never),
      ln.settleHoldInvoice('00'),
      ln.cancelHoldInvoice('00'),
      ln.sendPayment({} as never),
    ];
    await ln.lookupInvoice('00');
    await ln.trackPayment('00');
    await ln.decodePaymentRequest('lnbc');
    ln.watchInvoice('00', () => {});
    await ln.getInfo();
    assert.deepEqual(seen, ['lookupInvoice', 'trackPayment', 'decodePaymentRequest', 'watchInvoice', 'getInfo']);
    g.open();
    await Promise.all(effects);
    assert.deepEqual(seen.slice(5), ['addHoldInvoice', 'settleHoldInvoice', 'cancelHoldInvoice', 'sendPayment']);
    assert.equal(ln.state, 'up');
  });

  void test('lightning: a payment whose send waits for the sync (or is under way) is in flight, never unknown, to anyone who asks', async () => {
    const g = gate();
    const hash = 'ab'.repeat(32);
    const pr = signedInvoice({ sats: 1000, now: 1_700_000_000, hash });
    let lndKnows = false;
    let finishSend!: () => void;
    const inner = new Proxy({} as LightningBackend, {
      get: (_t, name) => {
        if (name === 'trackPayment') return () => Promise.resolve({ hash, state: lndKnows ? 'succeeded' : 'unknown' });
        if (name === 'sendPayment')
          return () =>
            new Promise((resolve) => {
              finishSend = () => {
                lndKnows = true;
                resolve({ hash, state: 'succeeded' });
              };
            });
        return () => Promise.resolve(null);
      },
    });
    const ln = new DurableLightning(inner, g.durable);
    assert.equal((await ln.trackPayment(hash)).state, 'unknown', 'nothing sent: LND’s answer stands');
    const sent = ln.sendPayment({ paymentRequest: pr, feeLimitSats: 1, timeoutSeconds: 1 });
    assert.equal((await ln.trackPayment(hash)).state, 'in_flight', 'waiting for the sync: LND does not know it yet, but it will leave');
    assert.equal((await ln.trackPayment(hash.toUpperCase())).state, 'in_flight');
    g.open();
    await new Promise((r) => setTimeout(r, 0));
    assert.equal((await ln.trackPayment(hash)).state, 'in_flight', 'handed to LND, not registered yet');
    finishSend();
    assert.equal((await sent).state, 'succeeded');
    assert.deepEqual(ln.sendsUnderWay(), []);
    assert.equal((await ln.trackPayment(hash)).state, 'succeeded');
    // A send that failed before reaching LND: its end is visible before the caller asks again.
    lndKnows = false;
    const failing = new DurableLightning(
      new Proxy({} as LightningBackend, {
        get: (_t, name) => (name === 'sendPayment' ? () => Promise.reject(new Error('connection refused')) : () => Promise.resolve({ hash, state: 'unknown' })),
      }),
      () => null,
    );
    await assert.rejects(failing.sendPayment({ paymentRequest: pr, feeLimitSats: 1, timeoutSeconds: 1 }).then(() => undefined), /connection refused/);
    assert.equal((await failing.trackPayment(hash)).state, 'unknown');
  });

  void test('admin RPC: the answer leaves after the sync; a failed sync answers INTERNAL', async () => {
    const g = gate();
    const answers: Array<{ err: unknown; value: unknown }> = [];
    const impl = answerWhenDurable(
      {
        DoThing: ((_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { ok: true })) as grpc.UntypedHandleCall,
      },
      g.durable,
    );
    (impl['DoThing'] as grpc.handleUnaryCall<unknown, unknown>)({} as never, (err, value) => answers.push({ err, value }));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(answers.length, 0);
    g.open();
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(answers, [{ err: null, value: { ok: true } }]);
    const failing = answerWhenDurable(
      { DoThing: ((_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { ok: true })) as grpc.UntypedHandleCall },
      () => Promise.reject(new Error('database sync (fdatasync of the WAL) failed: EIO')),
    );
    const got = await new Promise<unknown>((r) => (failing['DoThing'] as grpc.handleUnaryCall<unknown, unknown>)({} as never, (err) => r(err)));
    assert.equal((got as { code: number }).code, grpc.status.INTERNAL);
  });
});
