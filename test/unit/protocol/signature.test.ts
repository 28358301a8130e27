import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as ecc from 'tiny-secp256k1';
import {
  buildMessage,
  parseRumorContent,
  serializeMessage,
  serializeRumorContent,
  signMessage,
  verifyMessageSignature,
} from '../../../src/protocol/index.js';
import { bytesToHex, getPublicKey } from '../../../src/crypto/secp.js';

const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const SK = Uint8Array.from(Buffer.from('7f'.repeat(32), 'hex'));
const PUB = getPublicKey(SK);
const OTHER_PUB = getPublicKey(Uint8Array.from(Buffer.from('11'.repeat(32), 'hex')));

/** Independent signer: libsecp256k1 (tiny-secp256k1 WASM) over node:crypto SHA-256. */
function independentSign(text: string, sk: Uint8Array): string {
  const digest = createHash('sha256').update(text, 'utf8').digest();
  return bytesToHex(ecc.signSchnorr(digest, sk));
}

const takeSell = buildMessage({
  action: 'take-sell',
  id: ORDER_ID,
  requestId: 13747771182625498521n,
  tradeIndex: 3n,
  payload: { amount: 15n },
});

void describe('tuple signature', () => {
  void test('sign → verify round trip, and the signature is BIP-340 over SHA-256 of the canonical JSON', () => {
    const sig = signMessage(takeSell, SK);
    assert.match(sig, /^[0-9a-f]{128}$/);
    assert.ok(verifyMessageSignature(takeSell, sig, PUB));
    const digest = createHash('sha256').update(serializeMessage(takeSell)).digest();
    assert.ok(ecc.verifySchnorr(digest, Buffer.from(PUB, 'hex'), Buffer.from(sig, 'hex')));
  });

  void test('a signature from an independent library verifies', () => {
    const sig = independentSign(serializeMessage(takeSell), SK);
    assert.ok(verifyMessageSignature(takeSell, sig, PUB));
  });

  void test('request_id > 2^53 survives sign → serialize → parse → verify', () => {
    const sig = independentSign(serializeMessage(takeSell), SK);
    const content = serializeRumorContent(takeSell, sig);
    assert.ok(content.includes('"request_id":13747771182625498521'));
    const rc = parseRumorContent(content);
    assert.equal(rc.message.kind.request_id, 13747771182625498521n);
    assert.ok(rc.signature !== null);
    assert.ok(verifyMessageSignature(rc.message, rc.signature, PUB, rc.rawMessageText));
    // The same id rounded through a JS number would be a different message: the signature fails.
    const rounded = buildMessage({ ...takeSellOpts(), requestId: BigInt(Number(13747771182625498521n)) });
    assert.equal(verifyMessageSignature(rounded, rc.signature, PUB), false);
  });

  void test('tampered message, wrong key or malformed inputs fail without throwing', () => {
    const sig = signMessage(takeSell, SK);
    const tampered = buildMessage({ ...takeSellOpts(), payload: { amount: 16n } });
    assert.equal(verifyMessageSignature(tampered, sig, PUB), false);
    assert.equal(verifyMessageSignature(takeSell, sig, OTHER_PUB), false);
    const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    assert.equal(verifyMessageSignature(takeSell, flipped, PUB), false);
    assert.equal(verifyMessageSignature(takeSell, 'zz', PUB), false);
    assert.equal(verifyMessageSignature(takeSell, sig, 'not-a-key'), false);
  });

  void test('lenient path: a signature over the raw, non-canonical text is accepted only with that text', () => {
    const raw = `{"order":{"request_id":13747771182625498521,"version":1,"trade_index":3,"id":"${ORDER_ID.toUpperCase()}","action":"take-sell","payload":{"amount":15}}}`;
    const sig = independentSign(raw, SK);
    const rc = parseRumorContent(`[${raw},"${sig}"]`);
    assert.equal(serializeMessage(rc.message), serializeMessage(takeSell));
    assert.equal(verifyMessageSignature(rc.message, sig, PUB), false, 'canonical check alone fails');
    assert.ok(verifyMessageSignature(rc.message, sig, PUB, rc.rawMessageText));
    assert.equal(verifyMessageSignature(rc.message, sig, OTHER_PUB, rc.rawMessageText), false);
  });
});

function takeSellOpts() {
  return {
    action: 'take-sell' as const,
    id: ORDER_ID,
    requestId: 13747771182625498521n,
    tradeIndex: 3n,
    payload: { amount: 15n },
  };
}
