/** Buyer invoice validation (HANDLERS.md §3.5 + #861/#949/HQ-11 fixes) and BOLT11 decoding. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CantDoError } from '../../../src/errors.js';
import { LightningError } from '../../../src/errors.js';
import type { Settings } from '../../../src/config/types.js';
import { decodeBolt11, isLightningAddress, isLnurl, networkOfPaymentRequest, validateBuyerInvoice } from '../../../src/lightning/invoice.js';
import { encodeLnurl, type LnurlResolver } from '../../../src/lightning/lnurl.js';
import { signInvoice } from '../../support/lnd-sim/invoices.js';
import { testSettings } from '../../support/test-context.js';

const NOW = 1_800_000_000;
const settings: Settings = testSettings({
  lightning: { invoice_expiration_window: 3600, max_invoice_final_cltv_delta: 144 },
  mostro: { min_payment_amount: 100 },
});

class RecordingLnurl implements LnurlResolver {
  readonly checks: Array<{ target: string; amountSats: number | undefined }> = [];
  constructor(private readonly ok = true) {}
  check(target: string, amountSats?: number): Promise<void> {
    this.checks.push({ target, amountSats });
    return this.ok ? Promise.resolve() : Promise.reject(new Error('unreachable'));
  }
  resolveInvoice(): Promise<string> {
    return Promise.reject(new Error('not used'));
  }
}

function inv(o: Parameters<typeof signInvoice>[0] = {}): string {
  return signInvoice({ timestamp: NOW, expirySeconds: 7200, ...o }).paymentRequest;
}

async function validate(pr: string, expectedSats: number | null, extra: { nodeNetwork?: string | null; lnurl?: LnurlResolver } = {}) {
  return validateBuyerInvoice({
    paymentRequest: pr,
    expectedSats,
    settings,
    nodeNetwork: extra.nodeNetwork === undefined ? 'regtest' : extra.nodeNetwork,
    now: NOW,
    lnurl: extra.lnurl ?? new RecordingLnurl(),
  });
}

function invalid(err: unknown): boolean {
  assert.ok(err instanceof CantDoError, String(err));
  assert.equal(err.reason, 'invalid_invoice');
  return true;
}

void describe('validateBuyerInvoice: BOLT11 table', () => {
  const cases: Array<{ name: string; pr: () => string; expected: number | null; ok: boolean; nodeNetwork?: string | null }> = [
    { name: 'exact amount', pr: () => inv({ sats: 9900 }), expected: 9900, ok: true },
    { name: 'wrong amount', pr: () => inv({ sats: 9901 }), expected: 9900, ok: false },
    { name: 'amountless accepted', pr: () => inv({ sats: null }), expected: 9900, ok: true },
    { name: 'amount not checked when expected is null', pr: () => inv({ sats: 12345 }), expected: null, ok: true },
    { name: 'market order (expected 0) refuses fixed amounts', pr: () => inv({ sats: 500 }), expected: 0, ok: false },
    { name: 'market order (expected 0) accepts amountless', pr: () => inv({ sats: null }), expected: 0, ok: true },
    { name: 'negative expected (amount − fee underflow)', pr: () => inv({ sats: null }), expected: -1, ok: false },
    { name: 'below min_payment_amount', pr: () => inv({ sats: 99 }), expected: 99, ok: false },
    { name: 'at min_payment_amount', pr: () => inv({ sats: 100 }), expected: 100, ok: true },
    { name: 'msat not whole sats', pr: () => inv({ amountMsat: 9_900_500n }), expected: 9900, ok: false },
    { name: 'expired', pr: () => inv({ sats: 9900, timestamp: NOW - 7200, expirySeconds: 3600 }), expected: 9900, ok: false },
    { name: 'expires inside the window', pr: () => inv({ sats: 9900, expirySeconds: 3599 }), expected: 9900, ok: false },
    { name: 'expires exactly at the window', pr: () => inv({ sats: 9900, expirySeconds: 3600 }), expected: 9900, ok: true },
    { name: 'network mismatch (mainnet invoice, regtest node)', pr: () => inv({ sats: 9900, network: 'mainnet' }), expected: 9900, ok: false },
    { name: 'testnet invoice on a testnet4 node', pr: () => inv({ sats: 9900, network: 'testnet' }), expected: 9900, ok: true, nodeNetwork: 'testnet4' },
    { name: 'signet invoice on a signet node', pr: () => inv({ sats: 9900, network: 'signet' }), expected: 9900, ok: true, nodeNetwork: 'signet' },
    { name: 'network not checked when unknown', pr: () => inv({ sats: 9900, network: 'mainnet' }), expected: 9900, ok: true, nodeNetwork: null },
    { name: 'cltv at cap', pr: () => inv({ sats: 9900, minFinalCltv: 144 }), expected: 9900, ok: true },
    { name: 'cltv above cap', pr: () => inv({ sats: 9900, minFinalCltv: 145 }), expected: 9900, ok: false },
    { name: 'garbage', pr: () => 'lnbcrt1notaninvoice', expected: 9900, ok: false },
    { name: 'empty', pr: () => '', expected: null, ok: false },
    { name: 'corrupted checksum', pr: () => {
        const good = inv({ sats: 9900 });
        return good.slice(0, -1) + (good.endsWith('q') ? 'p' : 'q'); // a different last character
      }, expected: 9900, ok: false },
  ];
  for (const c of cases) {
    void test(c.name, async () => {
      const pr = c.pr();
      if (c.ok) {
        const r = await validate(pr, c.expected, { nodeNetwork: c.nodeNetwork });
        assert.equal(r.kind, 'bolt11');
        if (r.kind === 'bolt11') assert.equal(r.decoded.hash.length, 64);
      } else {
        await assert.rejects(validate(pr, c.expected, { nodeNetwork: c.nodeNetwork }), invalid);
      }
    });
  }
});

void describe('validateBuyerInvoice: Lightning address and LNURL', () => {
  void test('address is checked with the expected amount', async () => {
    const lnurl = new RecordingLnurl();
    const r = await validate('Alice@example.com', 9900, { lnurl });
    assert.deepEqual(r, { kind: 'lnaddress', target: 'Alice@example.com' });
    assert.deepEqual(lnurl.checks, [{ target: 'Alice@example.com', amountSats: 9900 }]);
  });

  void test('lnurl1 is checked; no amount when unknown or zero', async () => {
    const lnurl = new RecordingLnurl();
    const target = encodeLnurl('https://example.com/.well-known/lnurlp/alice');
    assert.deepEqual(await validate(target, null, { lnurl }), { kind: 'lnurl', target });
    await validate(target, 0, { lnurl });
    assert.deepEqual(lnurl.checks.map((c) => c.amountSats), [undefined, undefined]);
  });

  void test('unreachable target → invalid_invoice', async () => {
    await assert.rejects(validate('bob@example.com', 1000, { lnurl: new RecordingLnurl(false) }), invalid);
  });
});

void describe('decodeBolt11 and classification', () => {
  void test('decodes hash, amount, expiry, cltv, network and payee', () => {
    const s = signInvoice({ sats: 1234, timestamp: NOW, expirySeconds: 900, minFinalCltv: 40, network: 'testnet', description: 'hi' });
    const d = decodeBolt11(s.paymentRequest);
    assert.deepEqual(d, {
      hash: s.hash,
      amountMsat: 1_234_000n,
      timestamp: NOW,
      expirySeconds: 900,
      minFinalCltvExpiry: 40,
      network: 'testnet',
      payee: s.payee,
      description: 'hi',
    });
  });

  void test('defaults: expiry 3600, min_final_cltv 18 when the tags are absent', async () => {
    const bolt11 = (await import('bolt11')).default;
    const { bolt11NetworkOf } = await import('../../../src/lightning/bolt11.js');
    const unsigned = bolt11.encode(
      { network: bolt11NetworkOf('regtest'), timestamp: NOW, satoshis: 10, tags: [{ tagName: 'payment_hash', data: 'ab'.repeat(32) }, { tagName: 'description', data: '' }] },
      false,
    );
    const d = decodeBolt11(bolt11.sign(unsigned, '22'.repeat(32)).paymentRequest!);
    assert.equal(d.expirySeconds, 3600);
    assert.equal(d.minFinalCltvExpiry, 18);
  });

  void test('invalid input throws LightningError(invalid)', () => {
    for (const bad of ['', 'hello', 'lnbc1xyz', 'lnxx1234']) {
      assert.throws(() => decodeBolt11(bad), (e: unknown) => e instanceof LightningError && e.code === 'invalid');
    }
  });

  void test('network detection from the hrp', () => {
    assert.equal(networkOfPaymentRequest('lnbc10u1xxxx'), 'mainnet');
    assert.equal(networkOfPaymentRequest('lnbcrt1xxxx'), 'regtest');
    assert.equal(networkOfPaymentRequest('lnbcrt2500n1xxxx'), 'regtest');
    assert.equal(networkOfPaymentRequest('lntb1xxxx'), 'testnet');
    assert.equal(networkOfPaymentRequest('lntbs100m1xxxx'), 'signet');
    assert.equal(networkOfPaymentRequest('LNSB1XXXX'), 'simnet');
    assert.equal(networkOfPaymentRequest('lnxyz1xxxx'), null);
  });

  void test('isLightningAddress / isLnurl', () => {
    assert.equal(isLightningAddress('MostroP2P@localhost'), true);
    assert.equal(isLightningAddress('alice@example.com'), true);
    assert.equal(isLightningAddress('a.b+c@sub.example.co:8080'), true);
    assert.equal(isLightningAddress('alice@'), false);
    assert.equal(isLightningAddress('@example.com'), false);
    assert.equal(isLightningAddress('lnbc1...'), false);
    assert.equal(isLightningAddress('a b@example.com'), false);
    const l = encodeLnurl('https://example.com/lnurlp/x?y=1');
    assert.equal(isLnurl(l), true);
    assert.equal(isLnurl(l.toUpperCase()), true);
    assert.equal(isLnurl('lnurl1abc'), false);
    assert.equal(isLnurl(inv({ sats: 1 })), false);
  });
});
