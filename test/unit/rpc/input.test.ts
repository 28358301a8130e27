import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CantDoError, SilentError } from '../../../src/errors.js';
import {
  RpcInputError,
  describeFailure,
  parseRequestId,
  parseUuidField,
  peerAddress,
  reasonDebugName,
} from '../../../src/rpc/input.js';

void describe('rpc input validation', () => {
  void test('UUIDs: hyphenated or simple, any case, normalised', () => {
    const id = '550e8400-e29b-41d4-a716-446655440000';
    assert.equal(parseUuidField('order_id', id), id);
    assert.equal(parseUuidField('order_id', ` ${id.toUpperCase()} `), id);
    assert.equal(parseUuidField('order_id', id.replaceAll('-', '')), id);
  });

  void test('malformed UUIDs give a clear error naming the field', () => {
    for (const bad of ['', 'xyz', '550e8400-e29b-41d4-a716-44665544000', '550e8400e29b41d4a716446655440000ff', undefined]) {
      assert.throws(
        () => parseUuidField('dispute_id', bad),
        (err: unknown) => err instanceof RpcInputError && err.message.startsWith('invalid dispute_id'),
      );
    }
  });

  void test('request_id: u64 decimal or null', () => {
    assert.equal(parseRequestId('12345'), 12345n);
    assert.equal(parseRequestId('18446744073709551615'), 18446744073709551615n);
    assert.equal(parseRequestId('18446744073709551616'), null);
    assert.equal(parseRequestId('abc'), null);
    assert.equal(parseRequestId('-1'), null);
    assert.equal(parseRequestId(''), null);
    assert.equal(parseRequestId(undefined), null);
  });

  void test('peer addresses lose their port', () => {
    assert.equal(peerAddress('127.0.0.1:5000'), '127.0.0.1');
    assert.equal(peerAddress('ipv4:127.0.0.1:5000'), '127.0.0.1');
    assert.equal(peerAddress('[::1]:5000'), '::1');
    assert.equal(peerAddress('ipv6:[::1]:5000'), '::1');
    assert.equal(peerAddress(''), null);
    assert.equal(peerAddress(undefined), null);
  });

  void test('error texts follow mostrod', () => {
    assert.equal(reasonDebugName('is_not_your_dispute'), 'IsNotYourDispute');
    assert.equal(
      describeFailure(new CantDoError('dispute_taken_by_admin')),
      'Sending cantDo message to user for DisputeTakenByAdmin',
    );
    assert.equal(
      describeFailure(new CantDoError('not_allowed_by_status', 'lightning node unavailable')),
      'Sending cantDo message to user for NotAllowedByStatus (lightning node unavailable)',
    );
    assert.equal(describeFailure(new SilentError('order x lacks a key')), 'Error caused by order x lacks a key');
    assert.equal(describeFailure(new RpcInputError('invalid order_id "x"')), 'invalid order_id "x"');
  });
});
