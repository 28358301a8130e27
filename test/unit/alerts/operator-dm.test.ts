import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nip19 } from 'nostr-tools';
import { parseAdminPubkey } from '../../../src/alerts/admin-key.js';
import { buildOperatorDm } from '../../../src/alerts/operator-dm.js';
import { verifyEvent } from '../../../src/crypto/event.js';
import { unwrapGiftWrap } from '../../../src/nostr/gift-wrap.js';
import { newKeys } from '../../support/test-context.js';

void describe('operator alert DM (NIP-17)', () => {
  void test('kind 14 rumor from the node, sealed by the node key, gift-wrapped to the operator', () => {
    const node = newKeys();
    const admin = newKeys();
    const now = 1_800_000_000;
    const wrap = buildOperatorDm('[n] ALERT: LND unreachable\nhello', admin.pubkey, node, now);
    assert.equal(wrap.kind, 1059);
    assert.ok(verifyEvent(wrap));
    assert.notEqual(wrap.pubkey, node.pubkey, 'the wrap is signed by an ephemeral key');
    assert.deepEqual(wrap.tags, [['p', admin.pubkey]]);
    assert.ok(wrap.created_at <= now && wrap.created_at >= now - 2 * 86400);

    const opened = unwrapGiftWrap(wrap, admin.secretKey);
    assert.ok(opened.ok);
    assert.equal(opened.gift.seal.kind, 13);
    assert.equal(opened.gift.seal.pubkey, node.pubkey);
    assert.deepEqual(opened.gift.seal.tags, []);
    const rumor = opened.gift.rumor;
    assert.equal(rumor.kind, 14);
    assert.equal(rumor.pubkey, node.pubkey);
    assert.equal(rumor.created_at, now);
    assert.deepEqual(rumor.tags, [['p', admin.pubkey]]);
    assert.equal(rumor.content, '[n] ALERT: LND unreachable\nhello');
    assert.equal('sig' in rumor, false, 'the rumor stays unsigned');

    assert.equal(unwrapGiftWrap(wrap, newKeys().secretKey).ok, false, 'nobody else opens it');
  });

  void test('admin_npub accepts an npub or 64 hex characters', () => {
    const k = newKeys();
    assert.equal(parseAdminPubkey(nip19.npubEncode(k.pubkey)), k.pubkey);
    assert.equal(parseAdminPubkey(k.pubkey.toUpperCase()), k.pubkey);
    assert.equal(parseAdminPubkey(` ${k.pubkey} `), k.pubkey);
    assert.equal(parseAdminPubkey(nip19.nsecEncode(k.secretKey)), null);
    assert.equal(parseAdminPubkey('npub1xyz'), null);
    assert.equal(parseAdminPubkey(k.pubkey.slice(2)), null);
  });
});
