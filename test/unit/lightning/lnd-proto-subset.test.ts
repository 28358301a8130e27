import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LND_CLIENT_METHODS, loadLndClientProto, loadLndProto } from '../../../src/lightning/lnd/protos.js';

/** A method's request/response (de)serializers, by service path, from a loaded proto. */
type Def = { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown };
function method(proto: unknown, service: string, name: string): Def | undefined {
  const parts = service.split('.');
  let o = proto as Record<string, unknown>;
  for (const p of parts) o = o[p] as Record<string, unknown>;
  return (o['service'] as Record<string, Def>)[name];
}

const full = loadLndProto();
const subset = loadLndClientProto();

// Messages with nested types, enums, repeated and map fields, oneofs, bytes and 64-bit ints.
const samples: Record<string, { request: unknown; response: unknown }> = {
  'lnrpc.Lightning/GetInfo': {
    request: {},
    response: { identityPubkey: '02ab', alias: 'n', numActiveChannels: 3, blockHeight: 812345, syncedToChain: true, chains: [{ chain: 'bitcoin', network: 'regtest' }], features: { '9': { name: 'tlv-onion', isRequired: false, isKnown: true } }, uris: ['a@b:9735'] },
  },
  'invoicesrpc.Invoices/AddHoldInvoice': {
    request: { memo: 'm', hash: Buffer.alloc(32, 7), value: '1000', valueMsat: '0', expiry: '3600', cltvExpiry: '144', private: true, routeHints: [{ hopHints: [{ nodeId: '02cd', chanId: '123456789', feeBaseMsat: 1000, feeProportionalMillionths: 1, cltvExpiryDelta: 40 }] }] },
    response: { paymentRequest: 'lnbcrt1', addIndex: '5', paymentAddr: Buffer.alloc(32, 1) },
  },
  'invoicesrpc.Invoices/LookupInvoiceV2': {
    request: { paymentHash: Buffer.alloc(32, 2), lookupModifier: 'HTLC_SET_ONLY' },
    response: {
      memo: 'x', rPreimage: Buffer.alloc(32, 3), rHash: Buffer.alloc(32, 2), value: '2000', state: 'ACCEPTED', amtPaidSat: '2000', cltvExpiry: '144',
      htlcs: [{ chanId: '99', htlcIndex: '1', amtMsat: '2000000', acceptHeight: 100, expiryHeight: 244, state: 'ACCEPTED', customRecords: { '65536': Buffer.from('hi') }, mppTotalAmtMsat: '2000000' }],
      features: { '14': { name: 'payment-addr', isRequired: true, isKnown: true } }, isKeysend: false,
    },
  },
  'routerrpc.Router/SendPaymentV2': {
    request: { paymentRequest: 'lnbcrt1', timeoutSeconds: 60, feeLimitSat: '10', outgoingChanIds: ['1', '2'], maxParts: 16, noInflightUpdates: true, destFeatures: ['TLV_ONION_REQ'] },
    response: {
      paymentHash: 'ab', value: '1', status: 'FAILED', failureReason: 'FAILURE_REASON_NO_ROUTE', paymentIndex: '7', valueMsat: '1000', feeMsat: '3',
      htlcs: [{ attemptId: '1', status: 'FAILED', route: { totalTimeLock: 10, hops: [{ chanId: '5', pubKey: '02ef', amtToForwardMsat: '1000', mppRecord: { paymentAddr: Buffer.alloc(32, 9), totalAmtMsat: '1000' } }] }, failure: { code: 'TEMPORARY_CHANNEL_FAILURE', channelUpdate: { chanId: '5', baseFee: 1 }, failureSourceIndex: 1 } }],
    },
  },
};

void describe('LND client protos: the subset of LND\'s files the daemon loads', () => {
  void test('has exactly the methods the client calls', () => {
    for (const [service, names] of Object.entries(LND_CLIENT_METHODS)) {
      for (const n of names) assert.ok(method(subset, service, n), `${service}/${n}`);
    }
    assert.equal(method(subset, 'lnrpc.Lightning', 'ListChannels'), undefined);
    assert.ok(method(full, 'lnrpc.Lightning', 'ListChannels'));
  });

  void test('encodes and decodes byte for byte as LND\'s whole files (both directions)', () => {
    let checked = 0;
    for (const [service, names] of Object.entries(LND_CLIENT_METHODS)) {
      for (const n of names) {
        const f = method(full, service, n)!;
        const s = method(subset, service, n)!;
        const sample = samples[`${service}/${n}`] ?? { request: {}, response: {} };
        for (const [ser, de, v] of [
          ['requestSerialize', 'requestDeserialize', sample.request],
          ['responseSerialize', 'responseDeserialize', sample.response],
        ] as const) {
          const a = f[ser](v);
          const b = s[ser](v);
          assert.deepEqual(b, a, `${service}/${n} ${ser}`);
          assert.deepEqual(s[de](a), f[de](a), `${service}/${n} ${de}`);
          if (Object.keys(v as object).length > 0) assert.ok(a.length > 0, `${service}/${n} ${ser}: the sample encodes to something`);
          checked++;
        }
      }
    }
    assert.equal(checked, 16);
  });
});
