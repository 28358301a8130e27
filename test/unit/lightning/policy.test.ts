/** SSRF address policy, LNURL endpoint construction, routing fee limit. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isForbiddenAddress } from '../../../src/lightning/ip-policy.js';
import { decodeLnurl, encodeLnurl, lnurlEndpoint, LnurlError } from '../../../src/lightning/lnurl.js';
import { routingFeeLimit } from '../../../src/lightning/routing-fee.js';

void describe('isForbiddenAddress', () => {
  const forbidden = [
    '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '100.127.255.254', '0.0.0.0', '224.0.0.1', '239.1.2.3', '255.255.255.255', '192.0.2.1', '198.18.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1',
    '64:ff9b::a00:1', '2001:db8::1', 'not-an-ip',
  ];
  const allowed = ['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];
  for (const a of forbidden) void test(`forbidden ${a}`, () => assert.equal(isForbiddenAddress(a), true));
  for (const a of allowed) void test(`allowed ${a}`, () => assert.equal(isForbiddenAddress(a), false));
});

void describe('lnurlEndpoint', () => {
  void test('address → https well-known URL, user lowercased', () => {
    assert.equal(lnurlEndpoint('Alice@Example.com', false).href, 'https://example.com/.well-known/lnurlp/alice');
  });
  void test('http only for local hosts when private hosts are allowed', () => {
    assert.equal(lnurlEndpoint('a@127.0.0.1:8080', true).href, 'http://127.0.0.1:8080/.well-known/lnurlp/a');
    assert.equal(lnurlEndpoint('a@localhost:8080', true).href, 'http://localhost:8080/.well-known/lnurlp/a');
    assert.equal(lnurlEndpoint('a@localhost:8080', false).href, 'https://localhost:8080/.well-known/lnurlp/a');
    assert.equal(lnurlEndpoint('a@example.com', true).href, 'https://example.com/.well-known/lnurlp/a');
  });
  void test('lnurl1 round trip', () => {
    const url = 'https://service.example/api/pay?q=1&r=2';
    assert.equal(decodeLnurl(encodeLnurl(url)).href, url);
    assert.equal(lnurlEndpoint(encodeLnurl(url).toUpperCase(), false).href, url);
  });
  void test('not a target', () => {
    assert.throws(() => lnurlEndpoint('hello', false), (e: unknown) => e instanceof LnurlError && e.code === 'parse');
    assert.throws(() => decodeLnurl(encodeLnurl('ftp://x/y')), (e: unknown) => e instanceof LnurlError && e.code === 'parse');
  });
});

void describe('routingFeeLimit (HANDLERS §5.1)', () => {
  const rows: Array<[number, number, number]> = [
    [1, 0.002, 10],
    [500, 0.002, 10],
    [1000, 0.002, 10],
    [1001, 0.002, 2],
    [10_000, 0.002, 20],
    [123_456, 0.002, 246],
    [100_000, 0.01, 1000],
    [99_999, 0.001, 99],
  ];
  for (const [amount, max, want] of rows) {
    void test(`${amount} sats @ ${max} → ${want}`, () => assert.equal(routingFeeLimit(amount, max), want));
  }
});
