import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nip59 from 'nostr-tools/nip59';
import { ConversationKeyCache, conversationKey } from '../../../src/crypto/conversation-key.js';
import { finalizeEvent, verifyEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { buildGiftWrap, TIMESTAMP_BLUR_SECONDS, unwrapGiftWrap, wrapMessage, wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { nip44Encrypt } from '../../../src/nostr/nip44.js';
import { leadingZeroBits } from '../../../src/nostr/pow.js';
import { parseRumorContent, verifyMessageSignature } from '../../../src/protocol/index.js';
import { req } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const node = generateSecretKey();
const nodePk = getPublicKey(node);
const message = req('take-sell', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 18446744073709551615n, tradeIndex: 3n });

void describe('gift wrap', () => {
  void test('reputation mode: identity seals, trade key authors and signs the tuple', () => {
    const identity = generateSecretKey();
    const trade = generateSecretKey();
    const wrap = wrapRequest({ message, tradeSk: trade, identitySk: identity, recipient: nodePk, now: NOW });
    assert.ok(verifyEvent(wrap));
    assert.equal(wrap.kind, 1059);
    assert.deepEqual(wrap.tags, [['p', nodePk]]);
    assert.ok(wrap.created_at <= NOW && wrap.created_at >= NOW - TIMESTAMP_BLUR_SECONDS);
    const r = unwrapGiftWrap(wrap, node);
    assert.ok(r.ok);
    assert.equal(r.gift.identity, getPublicKey(identity));
    assert.equal(r.gift.tradeKey, getPublicKey(trade));
    assert.equal(r.gift.rumor.created_at, NOW);
    assert.equal(r.gift.rumor.kind, 1);
    const parsed = parseRumorContent(r.gift.rumor.content);
    assert.equal(parsed.message.kind.request_id, 18446744073709551615n);
    assert.ok(parsed.signature !== null);
    assert.ok(verifyMessageSignature(parsed.message, parsed.signature, r.gift.tradeKey));
    // nostr-tools refuses exactly this key split (why we have our own unwrap)
    assert.throws(() => nip59.unwrapEvent(wrap as never, node));
  });

  void test('full privacy: one key for seal and rumor, null signature; nostr-tools agrees', () => {
    const trade = generateSecretKey();
    const wrap = wrapRequest({ message, tradeSk: trade, recipient: nodePk, now: NOW });
    const r = unwrapGiftWrap(wrap, node);
    assert.ok(r.ok);
    assert.equal(r.gift.identity, r.gift.tradeKey);
    assert.equal(parseRumorContent(r.gift.rumor.content).signature, null);
    const theirs = nip59.unwrapEvent(wrap as never, node);
    assert.equal(theirs.content, r.gift.rumor.content);
  });

  void test('node reply: sealed by the node key, [message, null], readable by nostr-tools', () => {
    const user = generateSecretKey();
    const userPk = getPublicKey(user);
    const cache = new ConversationKeyCache(node);
    const reply = wrapMessage(message, userPk, node, { now: NOW, sealKeys: cache, expiration: NOW + 60 });
    assert.deepEqual(reply.tags, [['p', userPk], ['expiration', String(NOW + 60)]]);
    const r = unwrapGiftWrap(reply, user);
    assert.ok(r.ok);
    assert.equal(r.gift.seal.pubkey, nodePk);
    assert.equal(r.gift.rumor.pubkey, nodePk);
    assert.ok(r.gift.seal.created_at <= NOW);
    const parsed = parseRumorContent(r.gift.rumor.content);
    assert.equal(parsed.signature, null);
    assert.deepEqual(parsed.message, message);
    const theirs = nip59.unwrapEvent(reply as never, user);
    assert.equal(theirs.pubkey, nodePk);
    assert.equal(cache.misses, 1);
  });

  void test('PoW on the outer wrap', () => {
    const reply = wrapMessage(message, getPublicKey(generateSecretKey()), node, { now: NOW, pow: 8 });
    assert.ok(leadingZeroBits(reply.id) >= 8);
    assert.ok(verifyEvent(reply));
    assert.ok(reply.tags.some((t) => t[0] === 'nonce'));
  });

  void test('unwrap failures are typed results', () => {
    const other = generateSecretKey();
    const toOther = wrapMessage(message, getPublicKey(other), node, { now: NOW });
    const notForUs = unwrapGiftWrap(toOther, node);
    assert.equal(notForUs.ok, false);
    assert.equal(!notForUs.ok && notForUs.stage, 'wrap-decrypt');

    // a seal whose signature was made by another key than its pubkey claims
    const identity = generateSecretKey();
    const impostor = generateSecretKey();
    const rumor = { pubkey: getPublicKey(impostor), created_at: NOW, kind: 1, tags: [], content: '[]' };
    const realSeal = finalizeEvent({ kind: 13, created_at: NOW, tags: [], content: nip44Encrypt(JSON.stringify(rumor), conversationKey(impostor, nodePk)) }, impostor);
    const forgedSeal = { ...realSeal, pubkey: getPublicKey(identity) };
    const eph = generateSecretKey();
    const wrapForged = finalizeEvent({ kind: 1059, created_at: NOW, tags: [['p', nodePk]], content: nip44Encrypt(JSON.stringify(forgedSeal), conversationKey(eph, nodePk)) }, eph);
    const r = unwrapGiftWrap(wrapForged, node);
    assert.equal(!r.ok && r.stage, 'seal-signature');

    const wrongKind = finalizeEvent({ kind: 14, created_at: NOW, tags: [], content: 'x' }, identity);
    const w2 = finalizeEvent({ kind: 1059, created_at: NOW, tags: [], content: nip44Encrypt(JSON.stringify(wrongKind), conversationKey(eph, nodePk)) }, eph);
    const r2 = unwrapGiftWrap(w2, node);
    assert.equal(!r2.ok && r2.stage, 'seal-kind');

    const w3 = finalizeEvent({ kind: 1059, created_at: NOW, tags: [], content: nip44Encrypt('not json', conversationKey(eph, nodePk)) }, eph);
    const r3 = unwrapGiftWrap(w3, node);
    assert.equal(!r3.ok && r3.stage, 'seal-json');

    const sealNoRumor = finalizeEvent({ kind: 13, created_at: NOW, tags: [], content: nip44Encrypt('{"kind":1}', conversationKey(identity, nodePk)) }, identity);
    const w4 = buildGiftWrapFromSeal(sealNoRumor, eph);
    const r4 = unwrapGiftWrap(w4, node);
    assert.equal(!r4.ok && r4.stage, 'rumor-json');
  });

  void test('buildGiftWrap carries any rumor kind and content', () => {
    const sk = generateSecretKey();
    const w = buildGiftWrap({ pubkey: getPublicKey(sk), created_at: NOW, kind: 14, tags: [['x', 'y']], content: 'plain' }, sk, nodePk, { now: NOW, blur: () => 0 });
    assert.equal(w.created_at, NOW);
    const r = unwrapGiftWrap(w, node);
    assert.ok(r.ok);
    assert.equal(r.gift.rumor.kind, 14);
    assert.equal(r.gift.rumor.content, 'plain');
  });
});

function buildGiftWrapFromSeal(seal: object, eph: Uint8Array) {
  return finalizeEvent({ kind: 1059, created_at: NOW, tags: [['p', nodePk]], content: nip44Encrypt(JSON.stringify(seal), conversationKey(eph, nodePk)) }, eph);
}
