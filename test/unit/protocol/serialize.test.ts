import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildMessage,
  cantDoMessage,
  formatF64,
  serializeMessage,
  serializeRumorContent,
  parseMessageText,
  type SolverDisputeInfo,
} from '../../../src/protocol/index.js';

const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';

void describe('formatF64 (serde_json / ryu)', () => {
  const cases: [number, string][] = [
    [0, '0.0'],
    [-0, '-0.0'],
    [3, '3.0'],
    [4.5, '4.5'],
    [-4.5, '-4.5'],
    [0.1, '0.1'],
    [1 / 3, '0.3333333333333333'],
    [2.6666666666666665, '2.6666666666666665'],
    [50000, '50000.0'],
    [850000000, '850000000.0'],
    [0.001, '0.001'],
    [0.00001, '0.00001'],
    [0.000012, '0.000012'],
    [1e-7, '1e-7'],
    [1.5e-7, '1.5e-7'],
    [1e15, '1000000000000000.0'],
    [123456789012345.6, '123456789012345.6'],
    [1e16, '1e16'],
    [1.2345678901234568e17, '1.2345678901234568e17'],
    [1.5e300, '1.5e300'],
    [5e-324, '5e-324'],
    [Number.MAX_VALUE, '1.7976931348623157e308'],
    [NaN, 'null'],
    [Infinity, 'null'],
    [-Infinity, 'null'],
  ];
  for (const [x, want] of cases) {
    void test(`${String(x)} → ${want}`, () => assert.equal(formatF64(x), want));
  }
});

void describe('serializeMessage', () => {
  void test('string escaping follows serde_json (short escapes, \\u00XX, raw non-ASCII and /)', () => {
    const m = buildMessage({
      action: 'admin-add-solver',
      id: ORDER_ID,
      payload: { text_message: 'a"b\\c\n\t\b\f\r\u0001\u001f/é😀\u2028\u007f' },
    });
    assert.equal(
      serializeMessage(m),
      `{"order":{"version":1,"request_id":null,"trade_index":null,"id":"${ORDER_ID}","action":"admin-add-solver","payload":{"text_message":"a\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u001f/é😀\u2028\u007f"}}}`,
    );
  });

  void test('UserInfo.rating is written as an f64', () => {
    const m = buildMessage({
      action: 'pay-invoice',
      id: ORDER_ID,
      payload: { peer: { pubkey: '', reputation: { rating: 3, reviews: 2n, operating_days: 0n } } },
    });
    assert.equal(
      serializeMessage(m),
      `{"order":{"version":1,"request_id":null,"trade_index":null,"id":"${ORDER_ID}","action":"pay-invoice","payload":{"peer":{"pubkey":"","reputation":{"rating":3.0,"reviews":2,"operating_days":0}}}}}`,
    );
  });

  void test('a rating given as an integer literal is read as f64 and written with .0', () => {
    const text = `{"order":{"version":1,"request_id":null,"trade_index":null,"id":"${ORDER_ID}","action":"fiat-sent-ok","payload":{"peer":{"pubkey":"x","reputation":{"rating":4,"reviews":1,"operating_days":2}}}}}`;
    assert.equal(serializeMessage(parseMessageText(text)), text.replace('"rating":4', '"rating":4.0'));
  });

  void test('SolverDisputeInfo field order and booleans', () => {
    const info: SolverDisputeInfo = {
      id: ORDER_ID,
      kind: 'sell',
      status: 'dispute',
      hash: null,
      preimage: null,
      order_previous_status: 'active',
      initiator_pubkey: 'a',
      buyer_pubkey: 'b',
      seller_pubkey: null,
      initiator_full_privacy: true,
      counterpart_full_privacy: false,
      initiator_info: null,
      counterpart_info: { rating: 0, reviews: 0n, operating_days: 1n },
      premium: -3n,
      payment_method: 'x',
      amount: 1n,
      fiat_amount: 2n,
      fee: 3n,
      routing_fee: 4n,
      buyer_invoice: null,
      invoice_held_at: 5n,
      taken_at: 6n,
      created_at: 7n,
    };
    const m = buildMessage({ wrapper: 'dispute', action: 'admin-took-dispute', id: ORDER_ID, requestId: 9n, payload: { dispute: [ORDER_ID, info] } });
    const text = serializeMessage(m);
    assert.equal(
      text,
      `{"dispute":{"version":1,"request_id":9,"trade_index":null,"id":"${ORDER_ID}","action":"admin-took-dispute","payload":{"dispute":["${ORDER_ID}",{"id":"${ORDER_ID}","kind":"sell","status":"dispute","hash":null,"preimage":null,"order_previous_status":"active","initiator_pubkey":"a","buyer_pubkey":"b","seller_pubkey":null,"initiator_full_privacy":true,"counterpart_full_privacy":false,"initiator_info":null,"counterpart_info":{"rating":0.0,"reviews":0,"operating_days":1},"premium":-3,"payment_method":"x","amount":1,"fiat_amount":2,"fee":3,"routing_fee":4,"buyer_invoice":null,"invoice_held_at":5,"taken_at":6,"created_at":7}]}}}`,
    );
    assert.equal(serializeMessage(parseMessageText(text)), text);
  });

  void test('serializeRumorContent wraps as [message, sig|null]', () => {
    const m = buildMessage({ action: 'rate', id: ORDER_ID });
    assert.equal(serializeRumorContent(m, null), `[${serializeMessage(m)},null]`);
    assert.equal(serializeRumorContent(m, 'ab'), `[${serializeMessage(m)},"ab"]`);
  });
});

void describe('builders', () => {
  void test('buildMessage defaults: wrapper order, version 1, nulls', () => {
    assert.equal(
      serializeMessage(buildMessage({ action: 'released', id: ORDER_ID })),
      `{"order":{"version":1,"request_id":null,"trade_index":null,"id":"${ORDER_ID}","action":"released","payload":null}}`,
    );
    assert.equal(
      serializeMessage(buildMessage({ wrapper: 'restore', action: 'last-trade-index', requestId: 3876325412n, tradeIndex: 7n })),
      '{"restore":{"version":1,"request_id":3876325412,"trade_index":7,"action":"last-trade-index","payload":null}}',
    );
  });

  void test('cantDoMessage matches the §4.6 examples', () => {
    assert.equal(
      serializeMessage(cantDoMessage('not_allowed_by_status', { id: ORDER_ID, requestId: 3876325412n })),
      `{"cant-do":{"version":1,"request_id":3876325412,"trade_index":null,"id":"${ORDER_ID}","action":"cant-do","payload":{"cant_do":"not_allowed_by_status"}}}`,
    );
    assert.equal(
      serializeMessage(cantDoMessage('invalid_trade_index', {})),
      '{"cant-do":{"version":1,"request_id":null,"trade_index":null,"action":"cant-do","payload":{"cant_do":"invalid_trade_index"}}}',
    );
  });
});
