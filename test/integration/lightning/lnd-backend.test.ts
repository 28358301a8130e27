/**
 * The LND backend against the LND simulator: gRPC over TLS with a macaroon, built from LND's own
 * protos on both sides.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { systemClock } from '../../../src/clock.js';
import { LightningError } from '../../../src/errors.js';
import type { InvoiceUpdate, LightningBackend, LinkState } from '../../../src/lightning/backend.js';
import { createLndBackend } from '../../../src/lightning/lnd/index.js';
import { bytesToHex, sha256 } from '../../../src/crypto/secp.js';
import { startLndSim, type LndSim } from '../../support/lnd-sim/sim.js';

const logger = pino({ level: 'silent' });

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function backendFor(sim: LndSim, extra: { macaroonPath?: string; host?: string } = {}): LightningBackend {
  return createLndBackend({
    host: extra.host ?? sim.grpcHost,
    certPath: sim.certPath,
    macaroonPath: extra.macaroonPath ?? sim.macaroonPath,
    logger,
    clock: systemClock,
    reconnect: { minMs: 50, maxMs: 200 },
    healthCheckMs: 200,
    resubscribeDelayMs: 30,
    callTimeoutMs: 3000,
  });
}

function newPreimage(): { preimage: string; hash: string } {
  const preimage = randomBytes(32).toString('hex');
  return { preimage, hash: bytesToHex(sha256(Buffer.from(preimage, 'hex'))) };
}

void describe('LND backend ↔ simulator', () => {
  let sim: LndSim;
  let ln: LightningBackend;

  before(async () => {
    sim = await startLndSim();
    ln = backendFor(sim);
    await waitFor('link up', () => ln.state === 'up');
  });
  after(async () => {
    await ln.close();
    await sim.close();
  });

  void test('GetInfo over TLS with the macaroon', async () => {
    const info = await ln.getInfo();
    assert.equal(info.identityPubkey, sim.nodePubkey);
    assert.deepEqual(info.chains, ['bitcoin']);
    assert.deepEqual(info.networks, ['regtest']);
    assert.equal(info.blockHeight, sim.blockHeight);
    assert.equal(ln.info?.alias, 'lnd-sim');
    const md = sim.calls.filter((c) => c.method === 'Lightning.GetInfo');
    assert.ok(md.length >= 1);
  });

  void test('a wrong macaroon is refused and the link is down', async () => {
    const bad = path.join(sim.dir, 'wrong.macaroon');
    writeFileSync(bad, randomBytes(32));
    const other = backendFor(sim, { macaroonPath: bad });
    try {
      await waitFor('link down', () => other.state === 'down');
      await assert.rejects(other.getInfo(), (err: unknown) => {
        assert.ok(err instanceof LightningError);
        assert.match(err.message, /verification failed: signature mismatch after caveat verification/);
        return true;
      });
    } finally {
      await other.close();
    }
  });

  void test('hold invoice lifecycle: add, watch open → accepted → settled, lookup, settle once', async () => {
    const { preimage, hash } = newPreimage();
    const inv = await ln.addHoldInvoice({ hash, amountSats: 10_100, memo: 'escrow', cltvExpiry: 144, expirySeconds: 900 });
    assert.equal(inv.hash, hash);
    const decoded = await ln.decodePaymentRequest(inv.paymentRequest);
    assert.equal(decoded.hash, hash);
    assert.equal(decoded.amountMsat, 10_100_000n);
    assert.equal(decoded.minFinalCltvExpiry, 144);
    assert.equal(decoded.expirySeconds, 900, 'expiry follows the requested window (0.17.1 ignored it)');
    assert.equal(decoded.network, 'regtest');
    assert.equal(decoded.payee, sim.nodePubkey);

    const updates: InvoiceUpdate[] = [];
    ln.watchInvoice(hash, (u) => updates.push(u));
    await waitFor('open', () => updates.length === 1);
    assert.deepEqual(updates[0], { hash, state: 'open' });

    const open = await ln.lookupInvoice(hash);
    assert.deepEqual(open, { hash, state: 'open', amountSats: 10_100, htlcExpiryHeight: 0 });

    sim.payHoldInvoice(hash);
    await waitFor('accepted', () => updates.length === 2);
    assert.equal(updates[1]?.state, 'accepted');
    const accepted = await ln.lookupInvoice(hash);
    assert.equal(accepted?.state, 'accepted');
    assert.equal(accepted?.htlcExpiryHeight, sim.blockHeight + 144);

    await ln.settleHoldInvoice(preimage);
    await waitFor('settled', () => updates.length === 3);
    assert.equal(updates[2]?.state, 'settled');
    assert.deepEqual(sim.settles.filter((h) => h === hash), [hash]);
    await assert.rejects(ln.settleHoldInvoice(preimage), /already settled/);
    assert.equal(sim.settles.filter((h) => h === hash).length, 1);
  });

  void test('cancel; lookup of an unknown hash is null; malformed hex is an error, not a crash', async () => {
    const { hash } = newPreimage();
    await ln.addHoldInvoice({ hash, amountSats: 500, memo: 'm', cltvExpiry: 100, expirySeconds: 600 });
    await ln.cancelHoldInvoice(hash);
    assert.equal((await ln.lookupInvoice(hash))?.state, 'canceled');
    assert.deepEqual(sim.cancels.filter((h) => h === hash), [hash]);
    assert.equal(await ln.lookupInvoice(newPreimage().hash), null);
    await assert.rejects(ln.settleHoldInvoice('zz'), (e: unknown) => e instanceof LightningError && e.code === 'invalid');
    await assert.rejects(ln.cancelHoldInvoice('abc'), (e: unknown) => e instanceof LightningError && e.code === 'invalid');
  });

  void test('a dropped invoice stream is resubscribed and later changes still arrive', async () => {
    const { hash } = newPreimage();
    await ln.addHoldInvoice({ hash, amountSats: 700, memo: 'm', cltvExpiry: 100, expirySeconds: 600 });
    const updates: InvoiceUpdate[] = [];
    ln.watchInvoice(hash, (u) => updates.push(u));
    await waitFor('open', () => updates.length === 1);
    const subsBefore = sim.calls.filter((c) => c.method === 'Invoices.SubscribeSingleInvoice').length;
    sim.dropStreams();
    await waitFor('resubscribe', () => sim.calls.filter((c) => c.method === 'Invoices.SubscribeSingleInvoice').length > subsBefore);
    sim.payHoldInvoice(hash);
    await waitFor('accepted', () => updates.some((u) => u.state === 'accepted'));
    // and with an errored stream
    sim.dropStreams({ withError: true });
    const subsMid = sim.calls.filter((c) => c.method === 'Invoices.SubscribeSingleInvoice').length;
    await waitFor('resubscribe after error', () => sim.calls.filter((c) => c.method === 'Invoices.SubscribeSingleInvoice').length > subsMid);
    await ln.cancelHoldInvoice(hash);
    await waitFor('canceled', () => updates.some((u) => u.state === 'canceled'));
    assert.deepEqual(
      updates.map((u) => u.state),
      ['open', 'accepted', 'canceled'],
    );
  });

  void test('accepted HTLCs are canceled by the node near expiry (mineBlocks)', async () => {
    const { hash } = newPreimage();
    await ln.addHoldInvoice({ hash, amountSats: 900, memo: 'm', cltvExpiry: 40, expirySeconds: 600 });
    const updates: InvoiceUpdate[] = [];
    ln.watchInvoice(hash, (u) => updates.push(u));
    sim.payHoldInvoice(hash);
    await waitFor('accepted', () => updates.some((u) => u.state === 'accepted'));
    sim.mineBlocks(27); // expiry − 12 not reached yet (40 − 12 = 28)
    assert.equal((await ln.lookupInvoice(hash))?.state, 'accepted');
    sim.mineBlocks(1);
    await waitFor('canceled', () => updates.some((u) => u.state === 'canceled'));
    assert.equal((await ln.getInfo()).blockHeight, sim.blockHeight);
  });

  void test('sendPayment: success reports preimage and fee; fee limit and timeout are sent', async () => {
    const payee = sim.createPayeeInvoice({ sats: 5000 });
    const r = await ln.sendPayment({ paymentRequest: payee.paymentRequest, feeLimitSats: 50, timeoutSeconds: 60 });
    assert.equal(r.state, 'succeeded');
    assert.equal(r.hash, payee.hash);
    assert.equal(r.preimage, payee.preimage);
    assert.equal(r.feeSats, 1);
    const sent = sim.payments.filter((p) => p.hash === payee.hash);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.feeLimitSat, '50');
    assert.equal(sent[0]?.timeoutSeconds, 60);
    assert.equal(sent[0]?.amt, '0');

    // paying the same invoice again never pays twice: LND says "already paid" and we report success
    const again = await ln.sendPayment({ paymentRequest: payee.paymentRequest, feeLimitSats: 50, timeoutSeconds: 60 });
    assert.equal(again.state, 'succeeded');
    assert.equal(sim.payments.filter((p) => p.hash === payee.hash).length, 1);
  });

  void test('sendPayment: amountless invoice carries amt; failure carries the reason', async () => {
    const amountless = sim.createPayeeInvoice({ sats: null });
    const ok = await ln.sendPayment({ paymentRequest: amountless.paymentRequest, amountSats: 1234, feeLimitSats: 10, timeoutSeconds: 60 });
    assert.equal(ok.state, 'succeeded');
    assert.equal(sim.payments.find((p) => p.hash === amountless.hash)?.amt, '1234');
    await assert.rejects(ln.sendPayment({ paymentRequest: sim.createPayeeInvoice({ sats: null }).paymentRequest, feeLimitSats: 10, timeoutSeconds: 60 }));

    const failing = sim.createPayeeInvoice({ sats: 800 });
    sim.setPaymentOutcome(failing.hash, { kind: 'fail', reason: 'FAILURE_REASON_NO_ROUTE' });
    const f = await ln.sendPayment({ paymentRequest: failing.paymentRequest, feeLimitSats: 10, timeoutSeconds: 60 });
    assert.deepEqual(f, { hash: failing.hash, state: 'failed', failureReason: 'FAILURE_REASON_NO_ROUTE' });
    assert.equal((await ln.trackPayment(failing.hash)).state, 'failed');

    const flaky = sim.createPayeeInvoice({ sats: 800 });
    sim.setPaymentOutcome(flaky.hash, { kind: 'fail-then-succeed', failures: 1 });
    assert.equal((await ln.sendPayment({ paymentRequest: flaky.paymentRequest, feeLimitSats: 10, timeoutSeconds: 60 })).state, 'failed');
    assert.equal((await ln.sendPayment({ paymentRequest: flaky.paymentRequest, feeLimitSats: 10, timeoutSeconds: 60 })).state, 'succeeded');
  });

  void test('sendPayment: an RPC refusal before any payment is a definite failure', async () => {
    const p = sim.createPayeeInvoice({ sats: 300 });
    sim.setPaymentOutcome(p.hash, { kind: 'rpc-error', details: 'invoice expired' });
    const r = await ln.sendPayment({ paymentRequest: p.paymentRequest, feeLimitSats: 10, timeoutSeconds: 60 });
    assert.equal(r.state, 'failed');
    assert.match(r.failureReason ?? '', /invoice expired/);
    assert.equal(sim.payments.filter((x) => x.hash === p.hash).length, 0);
  });

  void test('sendPayment: a hanging payment returns in_flight at the bound, trackPayment later sees the outcome', async () => {
    const p = sim.createPayeeInvoice({ sats: 2000 });
    sim.setPaymentOutcome(p.hash, { kind: 'hang' });
    const r = await ln.sendPayment({ paymentRequest: p.paymentRequest, feeLimitSats: 20, timeoutSeconds: 60, waitSeconds: 0.3 });
    assert.deepEqual(r, { hash: p.hash, state: 'in_flight' });
    assert.equal((await ln.trackPayment(p.hash)).state, 'in_flight');
    // a retry while in flight does not start a second payment
    const dup = await ln.sendPayment({ paymentRequest: p.paymentRequest, feeLimitSats: 20, timeoutSeconds: 60, waitSeconds: 0.3 });
    assert.equal(dup.state, 'in_flight');
    assert.equal(sim.payments.filter((x) => x.hash === p.hash).length, 1);
    sim.releasePayment(p.hash, 'succeed');
    const t = await ln.trackPayment(p.hash);
    assert.equal(t.state, 'succeeded');
    assert.equal(t.preimage, p.preimage);
  });

  void test('trackPayment of a hash LND never saw is unknown', async () => {
    const { hash } = newPreimage();
    assert.deepEqual(await ln.trackPayment(hash), { hash, state: 'unknown' });
  });
});

void describe('LND backend link healing', () => {
  void test('down at start, up when LND appears; a watched invoice is reconciled after an outage', async () => {
    const sim = await startLndSim();
    const port = sim.port;
    // an escrow created in an earlier run of the daemon
    const earlier = backendFor(sim);
    await waitFor('earlier up', () => earlier.state === 'up');
    const old = newPreimage();
    await earlier.addHoldInvoice({ hash: old.hash, amountSats: 3000, memo: 'm', cltvExpiry: 144, expirySeconds: 900 });
    await earlier.close();
    await sim.stop();

    const ln = backendFor(sim, { host: `https://localhost:${port}` });
    const states: LinkState[] = [];
    ln.onStateChange((s) => states.push(s));
    try {
      await waitFor('down', () => ln.state === 'down');
      // boot re-watches the escrow while LND is still down; the seller pays meanwhile
      const oldUpdates: InvoiceUpdate[] = [];
      ln.watchInvoice(old.hash, (u) => oldUpdates.push(u));
      sim.payHoldInvoice(old.hash);
      await assert.rejects(ln.addHoldInvoice({ hash: newPreimage().hash, amountSats: 1, memo: '', cltvExpiry: 10, expirySeconds: 10 }), (e: unknown) =>
        e instanceof LightningError,
      );
      await sim.restart();
      assert.equal(sim.port, port);
      await waitFor('up', () => ln.state === 'up');
      assert.deepEqual(states, ['down', 'up']);
      await waitFor('state of the watch registered while down', () => oldUpdates.length > 0);
      assert.deepEqual(oldUpdates[0], { hash: old.hash, state: 'accepted' });

      const { hash } = newPreimage();
      await ln.addHoldInvoice({ hash, amountSats: 4000, memo: 'm', cltvExpiry: 144, expirySeconds: 900 });
      const updates: InvoiceUpdate[] = [];
      ln.watchInvoice(hash, (u) => updates.push(u));
      await waitFor('open', () => updates.length === 1);

      await sim.stop();
      await waitFor('down again', () => ln.state === 'down');
      sim.payHoldInvoice(hash); // the seller pays while we cannot see it
      await sim.restart();
      await waitFor('up again', () => ln.state === 'up');
      await waitFor('accepted delivered after reconnect', () => updates.some((u) => u.state === 'accepted'));
      assert.ok(sim.calls.some((c) => c.method === 'Invoices.LookupInvoiceV2'), 'looked up by hash after reconnect');
      assert.deepEqual(states, ['down', 'up', 'down', 'up']);
    } finally {
      await ln.close();
      await sim.close();
    }
  });

  void test('the periodic health check notices an outage without any call in progress', async () => {
    const sim = await startLndSim();
    const ln = backendFor(sim);
    try {
      await waitFor('up', () => ln.state === 'up');
      await sim.stop();
      await waitFor('down by health check', () => ln.state === 'down');
      await sim.restart();
      await waitFor('up again', () => ln.state === 'up');
      sim.mineBlocks(5);
      await waitFor('block height refreshed by the health check', () => ln.info?.blockHeight === sim.blockHeight);
    } finally {
      await ln.close();
      await sim.close();
    }
  });
});
