import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nip19 } from 'nostr-tools';
import { adminAddSolver, parseSolverKey } from '../../../../src/app/handlers/admin-add-solver.js';
import { getUser, insertUser } from '../../../../src/db/users.js';
import { SilentError } from '../../../../src/errors.js';
import { inboundFor, makeTestContext, newKeys } from '../../../support/test-context.js';
import { assertCantDo, onlyMessage, req } from '../../../support/trade-fixtures.js';
import { admin } from './dispute-fixture.js';

const NOW = 1_700_000_000;
const ANY_ID = '9c3a8d4e-2b1f-4c6a-8e7d-1f2a3b4c5d6e';

function addReq(text: string | null, requestId: bigint | null = 12n) {
  return req('admin-add-solver', {
    id: ANY_ID,
    requestId,
    payload: text === null ? null : { text_message: text },
  });
}

void describe('admin-add-solver (HANDLERS §4.12, PROTOCOL §5.14)', () => {
  void test('the admin adds a new npub: solver row and the admin-add-solver reply to the trade key', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const boss = admin(ctx);
    const who = newKeys();
    await adminAddSolver(ctx, addReq(nip19.npubEncode(who.pubkey)), boss.inbound);
    const u = await getUser(ctx.db, who.pubkey);
    assert.equal(u?.is_solver, 1);
    assert.equal(u?.is_admin, 0);
    assert.equal(u?.created_at, NOW);
    const m = onlyMessage(ctx, boss.trade.pubkey);
    assert.equal(m.wrapper, 'dispute');
    assert.equal(m.kind.action, 'admin-add-solver');
    assert.equal(m.kind.id, undefined);
    assert.equal(m.kind.request_id, 12n);
    assert.equal(m.kind.trade_index, null);
    assert.equal(m.kind.payload, null);
  });

  void test('an existing user is promoted, keeping its reputation (HQ-14 fixed)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const who = newKeys();
    await insertUser(ctx.db, { pubkey: who.pubkey, created_at: NOW - 1000, total_reviews: 3, total_rating: 4.5, last_trade_index: 7 });
    await adminAddSolver(ctx, addReq(nip19.npubEncode(who.pubkey)), admin(ctx).inbound);
    const u = await getUser(ctx.db, who.pubkey);
    assert.equal(u?.is_solver, 1);
    assert.equal(u?.total_reviews, 3);
    assert.equal(u?.total_rating, 4.5);
    assert.equal(u?.last_trade_index, 7);
    assert.equal(u?.created_at, NOW - 1000);
    // adding it again is harmless and still answered
    await adminAddSolver(ctx, addReq(nip19.npubEncode(who.pubkey)), admin(ctx).inbound);
    assert.equal(ctx.outbox.sent.filter((s) => s.message.kind.action === 'admin-add-solver').length, 2);
  });

  void test('only the node key may add solvers (silence otherwise)', async () => {
    const ctx = await makeTestContext({ now: NOW });
    const who = newKeys();
    const intruder = newKeys();
    await assert.rejects(
      adminAddSolver(ctx, addReq(nip19.npubEncode(who.pubkey)), inboundFor(intruder, newKeys())),
      SilentError,
    );
    assert.equal(await getUser(ctx.db, who.pubkey), undefined);
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('a malformed key → invalid_pubkey; a missing payload is ignored', async () => {
    const ctx = await makeTestContext({ now: NOW });
    await assertCantDo(adminAddSolver(ctx, addReq('npub1notakey'), admin(ctx).inbound), 'invalid_pubkey');
    await assertCantDo(adminAddSolver(ctx, addReq(nip19.nsecEncode(newKeys().secretKey)), admin(ctx).inbound), 'invalid_pubkey');
    await adminAddSolver(ctx, addReq(null), admin(ctx).inbound);
    assert.equal(ctx.outbox.sent.length, 0);
  });

  void test('parseSolverKey accepts npub and 64-hex', () => {
    const k = newKeys().pubkey;
    assert.equal(parseSolverKey(nip19.npubEncode(k)), k);
    assert.equal(parseSolverKey(k.toUpperCase()), k);
    assert.equal(parseSolverKey(` ${nip19.npubEncode(k)} `), k);
    assert.equal(parseSolverKey('abc'), null);
    assert.equal(parseSolverKey(''), null);
  });
});
