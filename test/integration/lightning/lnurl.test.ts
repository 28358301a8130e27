/** HttpLnurlResolver against a local LNURL-pay server (and the SSRF policy without it). */
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { decodeBolt11 } from '../../../src/lightning/bolt11.js';
import { HttpLnurlResolver, LnurlError, encodeLnurl, type LnurlErrorCode } from '../../../src/lightning/lnurl.js';
import { startLnurlServer, type LnurlServer } from '../../support/lnurl-server.js';
import { startLndSim, type LndSim } from '../../support/lnd-sim/sim.js';

const logger = pino({ level: 'silent' });

function rejectsWith(code: LnurlErrorCode, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof LnurlError, `expected LnurlError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

void describe('HttpLnurlResolver against a local LNURL-pay server', () => {
  let server: LnurlServer;
  const resolver = new HttpLnurlResolver({ timeoutMs: 2000, allowPrivateHosts: true, logger });

  before(async () => {
    server = await startLnurlServer();
    for (const [u, m] of [
      ['alice', 'ok'],
      ['mallory', 'wrong-amount'],
      ['netty', 'wrong-network'],
      ['cltv', 'big-cltv'],
      ['withdraw', 'bad-tag'],
      ['broke', 'error-status'],
      ['garbage', 'garbage-pr'],
      ['huge', 'huge'],
      ['misrouted', 'foreign-description-hash'],
      ['plain', 'no-description-hash'],
      ['mute', 'no-metadata'],
      ['stale', 'stale'],
    ] as const) {
      server.setMode(u, m);
    }
  });
  after(() => server.close());

  void test('Lightning address: check passes; resolveInvoice returns an invoice for exactly the amount', async () => {
    await resolver.check(server.address('alice'));
    await resolver.check(server.address('alice'), 5000);
    await resolver.check(`alice@localhost:${server.port}`); // through the guarded DNS lookup
    const pr = await resolver.resolveInvoice(server.address('alice'), 5000, { nodeNetwork: 'regtest', maxFinalCltvDelta: 144 });
    assert.equal(decodeBolt11(pr).amountMsat, 5_000_000n);
    const cb = server.requests.find((r) => r.startsWith('/lnurlp/callback/alice'));
    assert.equal(cb, '/lnurlp/callback/alice?k1=abc&amount=5000000', 'amount appended to an existing query with &');
  });

  void test('bech32 LNURL: check and resolve (payable at payout time, fix of HQ-10)', async () => {
    const lnurl = server.lnurl('alice');
    assert.match(lnurl, /^lnurl1/);
    await resolver.check(lnurl);
    await resolver.check(lnurl.toUpperCase());
    const pr = await resolver.resolveInvoice(lnurl, 777);
    assert.equal(decodeBolt11(pr).amountMsat, 777_000n);
  });

  void test('unknown user, wrong tag, service errors and garbage are refused', async () => {
    await assert.rejects(resolver.check(server.address('nobody')), rejectsWith('http', /404/));
    await assert.rejects(resolver.check(server.address('withdraw')), rejectsWith('protocol', /payRequest/));
    await assert.rejects(resolver.resolveInvoice(server.address('broke'), 1000), rejectsWith('protocol', /no liquidity/));
    await assert.rejects(resolver.resolveInvoice(server.address('garbage'), 1000), rejectsWith('invoice'));
    await assert.rejects(resolver.check(server.address('huge')), rejectsWith('http', /larger than|too large/));
  });

  void test('amount outside min/maxSendable is refused before the callback', async () => {
    const before = server.requests.length;
    await assert.rejects(resolver.check(server.address('alice'), 2_000_000), rejectsWith('amount'));
    await assert.rejects(resolver.resolveInvoice(server.address('alice'), 0), rejectsWith('amount'));
    assert.ok(server.requests.slice(before).every((r) => !r.includes('callback')));
  });

  void test('a malicious server returning another amount, network or a huge CLTV is refused', async () => {
    await assert.rejects(resolver.resolveInvoice(server.address('mallory'), 1000), rejectsWith('amount', /1001000 msat, expected 1000000/));
    await assert.rejects(
      resolver.resolveInvoice(server.address('netty'), 1000, { nodeNetwork: 'regtest' }),
      rejectsWith('invoice', /mainnet, node is on regtest/),
    );
    // without a node network the network is not checked
    await resolver.resolveInvoice(server.address('netty'), 1000);
    await assert.rejects(
      resolver.resolveInvoice(server.address('cltv'), 1000, { maxFinalCltvDelta: 144 }),
      rejectsWith('invoice', /min_final_cltv_expiry 1000 > 144/),
    );
  });

  void test('an invoice that does not commit to the address metadata is refused (LUD-06 step 6; finding F10)', async () => {
    // Another user's invoice (a stale or misrouted answer): the right amount, network and CLTV, but
    // its `h` is the hash of the other user's metadata.
    await assert.rejects(resolver.resolveInvoice(server.address('misrouted'), 1000), rejectsWith('invoice', /not the hash of the service metadata/));
    await assert.rejects(resolver.resolveInvoice(server.address('plain'), 1000), rejectsWith('invoice', /no description hash/));
    // A service without metadata cannot be checked: refused already when the address is given.
    await assert.rejects(resolver.check(server.address('mute')), rejectsWith('protocol', /missing metadata/));
    // The accepted invoice's `h` is sha256 of the metadata the first request served.
    const pr = await resolver.resolveInvoice(server.address('alice'), 1000);
    const first = server.requests.filter((r) => r.startsWith('/.well-known/lnurlp/alice')).length;
    assert.ok(first > 0);
    const meta = JSON.stringify([
      ['text/plain', 'pay alice'],
      ['text/identifier', `alice@127.0.0.1:${server.port}`],
    ]);
    assert.equal(decodeBolt11(pr).descriptionHash, createHash('sha256').update(meta).digest('hex'));
  });

  void test('an invoice issued before the process started is refused when the resolver is told its start (finding F10s)', async () => {
    const started = Math.floor(Date.now() / 1000) - 60;
    const daemon = new HttpLnurlResolver({ timeoutMs: 2000, allowPrivateHosts: true, logger, issuedNotBefore: started });
    await assert.rejects(daemon.resolveInvoice(server.address('stale'), 1000), rejectsWith('invoice', /before this process started/));
    assert.equal(decodeBolt11(await daemon.resolveInvoice(server.address('alice'), 1000)).amountMsat, 1_000_000n, 'a fresh invoice passes');
    // Without a start time (the default) the timestamp is not judged.
    assert.equal(decodeBolt11(await resolver.resolveInvoice(server.address('stale'), 1000)).amountMsat, 1_000_000n);
    // A per-call option overrides the resolver's.
    await assert.rejects(resolver.resolveInvoice(server.address('alice'), 1000, { issuedNotBefore: started + 7200 }), rejectsWith('invoice', /before this process started/));
  });

  void test('a hanging server times out', async () => {
    server.setMode('sloth', 'hang');
    const quick = new HttpLnurlResolver({ timeoutMs: 200, allowPrivateHosts: true, logger });
    const t0 = Date.now();
    await assert.rejects(quick.check(server.address('sloth')), rejectsWith('timeout'));
    assert.ok(Date.now() - t0 < 2000);
  });
});

void describe('SSRF policy (#858)', () => {
  let server: LnurlServer;
  const strict = new HttpLnurlResolver({ timeoutMs: 2000, allowPrivateHosts: false, logger });
  before(async () => {
    server = await startLnurlServer();
    server.setMode('alice', 'ok');
  });
  after(() => server.close());

  void test('loopback targets are refused when private hosts are not allowed, and nothing is fetched', async () => {
    const n = server.requests.length;
    // address on an IP literal → https://127.0.0.1:PORT → refused before connecting
    await assert.rejects(strict.check(server.address('alice')), rejectsWith('policy', /non-public address 127\.0\.0\.1/));
    // a name that resolves to loopback → refused after DNS
    await assert.rejects(strict.check(`alice@localhost:${server.port}`), rejectsWith('policy', /resolves to non-public address/));
    // http LNURL → refused by scheme
    await assert.rejects(strict.check(server.lnurl('alice')), rejectsWith('policy', /https only/));
    // https LNURL to a private address
    await assert.rejects(strict.check(encodeLnurl(`https://10.1.2.3/lnurlp/x`)), rejectsWith('policy', /10\.1\.2\.3/));
    await assert.rejects(strict.check(encodeLnurl(`https://[::1]:${server.port}/x`)), rejectsWith('policy'));
    await assert.rejects(strict.check(encodeLnurl(`https://100.64.0.1/x`)), rejectsWith('policy'));
    assert.equal(server.requests.length, n);
  });

  void test('non-targets are parse errors', async () => {
    await assert.rejects(strict.check('not an address'), rejectsWith('parse'));
    await assert.rejects(strict.check('lnurl1qqqqqq'), rejectsWith('parse'));
  });
});

void describe('LNURL server issuing invoices from the LND simulator', () => {
  let sim: LndSim;
  let server: LnurlServer;
  before(async () => {
    sim = await startLndSim();
    server = await startLnurlServer({ issueInvoice: (msat, _user, h) => sim.createPayeeInvoice({ amountMsat: msat, descriptionHash: h }).paymentRequest });
    server.setMode('bob', 'ok');
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  void test('resolved invoice is for the simulator network and amount', async () => {
    const resolver = new HttpLnurlResolver({ timeoutMs: 2000, allowPrivateHosts: true, logger });
    const pr = await resolver.resolveInvoice(server.address('bob'), 4321, { nodeNetwork: 'regtest', maxFinalCltvDelta: 144 });
    const d = decodeBolt11(pr);
    assert.equal(d.amountMsat, 4_321_000n);
    assert.equal(d.network, 'regtest');
  });
});
