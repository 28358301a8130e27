/** The simulator as a separate process, driven through its HTTP control port (as e2e tests do). */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { systemClock } from '../../../src/clock.js';
import type { InvoiceUpdate } from '../../../src/lightning/backend.js';
import { createLndBackend } from '../../../src/lightning/lnd/index.js';
import { bytesToHex, sha256 } from '../../../src/crypto/secp.js';
import { LndSimClient } from '../../support/lnd-sim/control.js';

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

void test('lnd-sim main.ts: ready line, gRPC + control channel', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lnd-sim-proc-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/lnd-sim/main.ts', '--port', '0', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`lnd-sim exited with ${code}`)));
    });
    const ready = JSON.parse(line) as { grpcHost: string; controlPort: number; certPath: string; macaroonPath: string };
    assert.equal(ready.certPath, path.join(dir, 'tls.cert'));
    const control = new LndSimClient(`http://127.0.0.1:${ready.controlPort}`);
    const ln = createLndBackend({
      host: ready.grpcHost,
      certPath: ready.certPath,
      macaroonPath: ready.macaroonPath,
      logger: pino({ level: 'silent' }),
      clock: systemClock,
      reconnect: { minMs: 50, maxMs: 200 },
    });
    try {
      await waitFor('up', () => ln.state === 'up', 10_000);
      const preimage = randomBytes(32);
      const hash = bytesToHex(sha256(preimage));
      await ln.addHoldInvoice({ hash, amountSats: 2500, memo: 'e2e', cltvExpiry: 144, expirySeconds: 900 });
      const updates: InvoiceUpdate[] = [];
      ln.watchInvoice(hash, (u) => updates.push(u));
      await waitFor('open', () => updates.length === 1);
      await control.payHoldInvoice(hash);
      await waitFor('accepted', () => updates.some((u) => u.state === 'accepted'));
      await ln.settleHoldInvoice(preimage.toString('hex'));
      const payee = await control.createPayeeInvoice({ sats: 1000 });
      assert.equal((await ln.sendPayment({ paymentRequest: payee.paymentRequest, feeLimitSats: 10, timeoutSeconds: 60 })).state, 'succeeded');
      const state = await control.state();
      assert.deepEqual(state.settles, [hash]);
      assert.equal(state.payments.length, 1);
      assert.equal(state.payments[0]?.hash, payee.hash);
      const add = state.calls.find((c) => c.method === 'Invoices.AddHoldInvoice');
      assert.equal((add?.request as { hash: string }).hash, hash, 'call log carries requests with bytes as hex');
      await assert.rejects(control.payHoldInvoice('00'.repeat(32)), /no hold invoice/);
    } finally {
      await ln.close();
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
