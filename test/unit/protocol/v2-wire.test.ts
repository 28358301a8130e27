/**
 * Wire details of the v2 issue that are not intake or outbox: the 38385 tags per transport
 * setting, and mostro-core 0.14's bond_resolution payload (accepted on admin-settle/cancel only).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInfoEvent } from '../../../src/nostr/events.js';
import { parseMessageText } from '../../../src/protocol/parse.js';
import { serializeMessage } from '../../../src/protocol/serialize.js';
import { verifyStructure } from '../../../src/protocol/verify.js';
import type { Settings } from '../../../src/config/types.js';
import { testSettings } from '../../support/test-context.js';

const NODE = 'aa'.repeat(32);
const ID = '308e1272-d5f4-47e6-bd97-3504baea9c23';
const lnd = {
  version: '0.18.4-beta',
  identityPubkey: '02'.padEnd(66, '1'),
  commitHash: 'c',
  alias: 'a',
  chains: ['bitcoin'],
  networks: ['regtest'],
  uris: [],
  blockHeight: 1,
};

function infoTags(mostro: Partial<Settings['mostro']>): string[][] {
  return buildInfoEvent({ settings: testSettings({ mostro }), nodePubkey: NODE, lnd, mostroVersion: '0.17.1', commitHash: 'x', now: 1 }).tags;
}
const tag = (tags: string[][], name: string) => tags.find((t) => t[0] === name);

void describe('38385 info event per transport', () => {
  void test('gift-wrap (a 0.17.1 settings.toml): no new tags, the event is as before', () => {
    const tags = infoTags({ transport: 'gift-wrap', pow: 3, pow_first_contact: 12 });
    assert.equal(tag(tags, 'protocol_version'), undefined);
    assert.equal(tag(tags, 'pow_first_contact'), undefined);
  });

  void test('both / nip44: protocol_version "2" and the enforced first-contact PoW = max(pow, pow_first_contact ?? pow)', () => {
    for (const transport of ['both', 'nip44'] as const) {
      assert.deepEqual(tag(infoTags({ transport, pow: 4, pow_first_contact: 16 }), 'pow_first_contact'), ['pow_first_contact', '16']);
      assert.deepEqual(tag(infoTags({ transport, pow: 4 }), 'pow_first_contact'), ['pow_first_contact', '4']);
      assert.deepEqual(tag(infoTags({ transport, pow: 8, pow_first_contact: 2 }), 'pow_first_contact'), ['pow_first_contact', '8']);
      assert.deepEqual(tag(infoTags({ transport }), 'protocol_version'), ['protocol_version', '2']);
    }
    // right after `pow`, as upstream orders them
    const tags = infoTags({ transport: 'both' }).map((t) => t[0]);
    assert.deepEqual(tags.slice(tags.indexOf('pow'), tags.indexOf('pow') + 3), ['pow', 'pow_first_contact', 'protocol_version']);
  });
});

void describe('bond_resolution (mostro-core 0.14)', () => {
  const text = (action: string) =>
    `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ID}","action":"${action}","payload":{"bond_resolution":{"slash_seller":true,"slash_buyer":false}}}}`;

  void test('parses and round-trips byte-exactly on admin-settle / admin-cancel, which verify', () => {
    for (const action of ['admin-settle', 'admin-cancel']) {
      const m = parseMessageText(text(action));
      assert.deepEqual(m.kind.payload, { bond_resolution: { slash_seller: true, slash_buyer: false } });
      assert.equal(serializeMessage(m), text(action));
      assert.ok(verifyStructure(m.kind));
    }
  });

  void test('refused on any other action; malformed values refused by the parser', () => {
    assert.equal(verifyStructure(parseMessageText(text('release')).kind), false);
    assert.throws(() => parseMessageText(text('admin-settle').replace('true', '1')));
    assert.throws(() => parseMessageText(text('admin-settle').replace(',"slash_buyer":false', '')));
  });
});
