/**
 * The open-* tasks are split: crypto in the worker (crypto-tasks.ts, no zod), the parse and the
 * signature verdicts on the calling thread (complete-open.ts). Over a matrix of tuples — canonical
 * and non-canonical message text, signatures over either text, wrong, missing or malformed, a
 * Message the schema refuses, content that is no tuple — both executors must give exactly the
 * verdict (reason, detail, parsed message) of the gates run in one piece, as before the split:
 * gateParse → gateTupleSignature (v1), gateParseDirect → gateDirectSignatures (v2).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { NostrEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey, schnorrSign, sha256 } from '../../../src/crypto/secp.js';
import { InThreadCrypto, WorkerCrypto, type CryptoExecutor } from '../../../src/nostr/crypto-pool.js';
import type { OpenedRequest } from '../../../src/nostr/crypto-tasks.js';
import { buildDirectRequest, openDirectMessage } from '../../../src/nostr/direct-message.js';
import { unwrapGiftWrap, wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { gateDirectSignatures, gateParse, gateParseDirect, gateTupleSignature, type Drop } from '../../../src/nostr/intake-gates.js';
import { identityProofPayload } from '../../../src/protocol/direct.js';
import { serializeMessage } from '../../../src/protocol/serialize.js';
import { req } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const FRESH = { now: NOW, pastSeconds: 10, futureSeconds: 300 };
const nodeSk = generateSecretKey();
const keys = { secretKey: nodeSk, pubkey: getPublicKey(nodeSk) };

const pool = new WorkerCrypto({ threads: 1, keys, logger: pino({ level: 'silent' }) });
after(() => pool.close());

const message = req('take-sell', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', requestId: 7n, tradeIndex: 3n });
const canonical = serializeMessage(message);
/** The same Message as other JSON (whitespace): valid, not canonical. */
const spaced = canonical.replace('{"order":{', '{ "order" : { ').replace('"action":', '"action" :  ');
const refused = '{"order":{"version":1,"id":null,"request_id":1,"trade_index":null,"action":"no-such-action","payload":null}}';
const BAD_SIG = 'ab'.repeat(64);

type Verdict = OpenedRequest | Drop;

/** v1, the gates in one piece (what the worker did before the split). */
function referenceV1(event: NostrEvent): Verdict {
  const u = unwrapGiftWrap(event, nodeSk);
  assert.ok(u.ok);
  const { identity, tradeKey, rumor } = u.gift;
  const parse = gateParse(rumor.content);
  if (!parse.ok) return parse;
  const tuple = gateTupleSignature(parse.parsed, identity, tradeKey);
  if (!tuple.ok) return tuple;
  return { ok: true, identity, tradeKey, createdAt: rumor.created_at, parsed: parse.parsed };
}

/** v2, the gates in one piece. */
function referenceV2(event: NostrEvent): Verdict {
  const o = openDirectMessage(event, nodeSk);
  assert.ok(o.ok);
  const parse = gateParseDirect(o.plaintext);
  if (!parse.ok) return parse;
  const auth = gateDirectSignatures(parse.parsed, event.pubkey);
  if (!auth.ok) return auth;
  return { ok: true, identity: auth.identity, tradeKey: event.pubkey, createdAt: event.created_at, parsed: parse.parsed };
}

async function verdictOf(ex: CryptoExecutor, event: NostrEvent, direct: boolean): Promise<Verdict> {
  const o = direct
    ? await ex.run({ op: 'open-direct', event, knownAuthor: true, firstContactPow: 0, ...FRESH })
    : await ex.run({ op: 'open-gift-wrap', event, ...FRESH });
  assert.equal(o.signedId, event.id, 'authenticated');
  return o.verdict;
}

function json(v: string | null): string {
  return v === null ? 'null' : JSON.stringify(v);
}

/** v1 cases: rumor contents over both message texts, every kind of signature, both modes. */
function v1Cases(): Array<{ name: string; event: NostrEvent }> {
  const out: Array<{ name: string; event: NostrEvent }> = [];
  for (const [textName, text] of [['canonical', canonical], ['non-canonical', spaced]] as const) {
    for (const mode of ['reputation', 'full privacy'] as const) {
      const tradeSk = generateSecretKey();
      const identitySk = mode === 'reputation' ? generateSecretKey() : tradeSk;
      const sigs: Array<[string, string | null]> = [
        ['signed canonical', schnorrSign(sha256(canonical), tradeSk)],
        ['signed as sent', schnorrSign(sha256(text), tradeSk)],
        ['signed by another key', schnorrSign(sha256(canonical), generateSecretKey())],
        ['wrong', BAD_SIG],
        ['null', null],
        ['upper-case hex', schnorrSign(sha256(text), tradeSk).toUpperCase()],
      ];
      for (const [sigName, sig] of sigs) {
        const rawContent = `[${text},${json(sig)}]`;
        out.push({ name: `${textName}, ${mode}, ${sigName}`, event: wrapRequest({ message, tradeSk, identitySk, recipient: keys.pubkey, now: NOW, rawContent }) });
      }
      out.push({ name: `${textName}, ${mode}, malformed signature`, event: wrapRequest({ message, tradeSk, identitySk, recipient: keys.pubkey, now: NOW, rawContent: `[${text},"xyz"]` }) });
    }
  }
  const tradeSk = generateSecretKey();
  const identitySk = generateSecretKey();
  const junk = [
    `[${refused},${json(BAD_SIG)}]`,
    `[${refused},"xyz"]`,
    `[${refused},${json(schnorrSign(sha256(refused), tradeSk))}]`,
    `[${canonical}]`,
    `[${canonical},null,null]`,
    'not json',
    '{"order":{}}',
    '[]',
  ];
  for (const rawContent of junk) out.push({ name: `junk ${rawContent.slice(0, 30)}`, event: wrapRequest({ message, tradeSk, identitySk, recipient: keys.pubkey, now: NOW, rawContent }) });
  return out;
}

/** v2 cases: trade_sig and identity proof over either text, wrong or absent, and junk. */
function v2Cases(): Array<{ name: string; event: NostrEvent }> {
  const out: Array<{ name: string; event: NostrEvent }> = [];
  for (const [textName, text] of [['canonical', canonical], ['non-canonical', spaced]] as const) {
    const tradeSk = generateSecretKey();
    const tradePk = getPublicKey(tradeSk);
    const idSk = generateSecretKey();
    const idPk = getPublicKey(idSk);
    const trades: Array<[string, string | null]> = [
      ['trade_sig canonical', schnorrSign(sha256(canonical), tradeSk)],
      ['trade_sig as sent', schnorrSign(sha256(text), tradeSk)],
      ['trade_sig wrong', BAD_SIG],
      ['no trade_sig', null],
    ];
    const proofs: Array<[string, string]> = [
      ['proof canonical', `[${json(idPk)},${json(schnorrSign(sha256(identityProofPayload(tradePk, canonical)), idSk))}]`],
      ['proof as sent', `[${json(idPk)},${json(schnorrSign(sha256(identityProofPayload(tradePk, text)), idSk))}]`],
      ['proof for another author', `[${json(idPk)},${json(schnorrSign(sha256(identityProofPayload(getPublicKey(generateSecretKey()), canonical)), idSk))}]`],
      ['proof wrong', `[${json(idPk)},${json(BAD_SIG)}]`],
      ['no proof', 'null'],
      ['malformed proof', `[${json(idPk)}]`],
    ];
    for (const [tn, trade] of trades) {
      for (const [pn, proof] of proofs) {
        const rawContent = `[${text},${json(trade)},${proof}]`;
        out.push({ name: `${textName}, ${tn}, ${pn}`, event: buildDirectRequest({ message, tradeSk, recipient: keys.pubkey, now: NOW, rawContent }) });
      }
    }
  }
  const tradeSk = generateSecretKey();
  const junk = [
    `[${refused},${json(BAD_SIG)},null]`,
    `[${refused},"xyz",[1]]`,
    `[${canonical},null]`,
    'not json',
    '[]',
  ];
  for (const rawContent of junk) out.push({ name: `junk ${rawContent.slice(0, 30)}`, event: buildDirectRequest({ message, tradeSk, recipient: keys.pubkey, now: NOW, rawContent }) });
  return out;
}

void describe('open-* tasks split between the worker and the calling thread', () => {
  for (const [version, cases, reference, direct] of [
    ['v1 (gift wrap)', v1Cases(), referenceV1, false],
    ['v2 (kind 14)', v2Cases(), referenceV2, true],
  ] as const) {
    void test(`${version}: the same verdicts as the gates in one piece, in-thread and on the pool`, async () => {
      const inThread = new InThreadCrypto(keys);
      const reasons = new Set<string>();
      for (const { name, event } of cases) {
        const expected = reference(event);
        reasons.add(expected.ok ? 'ok' : expected.reason);
        assert.deepEqual(await verdictOf(inThread, event, direct), expected, `in-thread: ${name}`);
        assert.deepEqual(await verdictOf(pool, event, direct), expected, `pool: ${name}`);
      }
      const want = direct ? ['ok', 'parse', 'tuple-signature', 'identity-proof'] : ['ok', 'parse', 'tuple-signature'];
      assert.deepEqual([...reasons].sort(), want.sort());
    });
  }

  void test('a signature over the canonical text sent as other JSON is accepted (one more check, on the pool)', async () => {
    const tradeSk = generateSecretKey();
    const rawContent = `[${spaced},${json(schnorrSign(sha256(canonical), tradeSk))}]`;
    const event = wrapRequest({ message, tradeSk, identitySk: generateSecretKey(), recipient: keys.pubkey, now: NOW, rawContent });
    const v = await verdictOf(pool, event, false);
    assert.ok(v.ok);
    assert.equal(v.parsed.rawMessageText, spaced);
    assert.deepEqual(v.parsed.message, message);
  });
});
