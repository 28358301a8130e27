import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { conversationKey } from '../../../src/crypto/conversation-key.js';
import { finalizeEvent } from '../../../src/crypto/event.js';
import { generateSecretKey, getPublicKey } from '../../../src/crypto/secp.js';
import { closeDatabase } from '../../../src/db/database.js';
import { dbTradeIndexStore } from '../../../src/db/trade-index-store.js';
import { wrapRequest } from '../../../src/nostr/gift-wrap.js';
import { Intake } from '../../../src/nostr/intake.js';
import { nip44Encrypt } from '../../../src/nostr/nip44.js';
import { serializeMessage } from '../../../src/protocol/index.js';
import { testDb } from '../../support/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { testSettings } from '../../support/test-context.js';
import { req, smallOrder } from '../../support/trade-fixtures.js';

const NOW = 1_700_000_000;
const node = generateSecretKey();
const nodePk = getPublicKey(node);

// deterministic PRNG so a failure can be reproduced
let seed = 0x2545f491;
const rnd = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const ATOMS: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 64, '', 'x', '[]', '{}', [], {}, 1059, 13, '\u0000', 'ff'.repeat(32)];
function randomJson(depth = 0): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.5) return pick(ATOMS);
  if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomJson(depth + 1));
  const o: Record<string, unknown> = {};
  for (const k of ['id', 'pubkey', 'sig', 'kind', 'content', 'tags', 'created_at', 'order', 'action', 'version']) if (rnd() < 0.4) o[k] = randomJson(depth + 1);
  return o;
}

const MESSAGE_TEXTS = [
  serializeMessage(req('new-order', { tradeIndex: 1n, payload: { order: smallOrder() } })),
  serializeMessage(req('take-sell', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842', tradeIndex: 2n })),
  serializeMessage(req('orders', { payload: { ids: [] } })),
];
function mutateText(s: string): string {
  const i = Math.floor(rnd() * s.length);
  switch (Math.floor(rnd() * 4)) {
    case 0:
      return s.slice(0, i) + s.slice(i + 1);
    case 1:
      return s.slice(0, i) + pick(['"', '{', '}', '[', ']', ',', ':', '9', 'null', '\\']) + s.slice(i);
    case 2:
      return s.slice(0, i);
    default:
      return s.replace(/"[a-z_-]+"/, `"${pick(['x', 'payload', 'order', 'id', ''])}"`);
  }
}

const db = await testDb();
after(async () => closeDatabase(db));

void test('Intake.handle never throws and always returns a verdict on malformed input', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  const clock = new FakeClock(NOW);
  const intake = new Intake({
    keys: { secretKey: node, pubkey: nodePk },
    settings: testSettings(),
    clock,
    logger: pino({ level: 'silent' }),
    tradeIndexStore: dbTradeIndexStore(db),
    outbox: new MemoryOutbox(node, clock),
    dispatch: async () => {},
  });
  const valid = wrapRequest({ message: req('fiat-sent', { id: 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842' }), tradeSk: generateSecretKey(), identitySk: generateSecretKey(), recipient: nodePk, now: NOW });
  const inputs: unknown[] = [];
  for (let i = 0; i < 1500; i++) inputs.push(randomJson());
  for (let i = 0; i < 1000; i++) {
    const e: Record<string, unknown> = { ...valid };
    const key = pick(['id', 'pubkey', 'sig', 'kind', 'content', 'tags', 'created_at']);
    e[key] = rnd() < 0.5 ? randomJson() : typeof e[key] === 'string' ? mutateText(e[key] as string) : randomJson();
    inputs.push(e);
  }
  // correctly wrapped and signed, but the inner layers are garbage
  const eph = generateSecretKey();
  const trade = generateSecretKey();
  for (let i = 0; i < 600; i++) {
    const text = mutateText(`[${pick(MESSAGE_TEXTS)},null]`);
    const inner =
      i % 3 === 0
        ? randomBytes(20).toString('hex')
        : i % 3 === 1
          ? JSON.stringify(randomJson())
          : '';
    const content = inner === '' ? text : inner;
    inputs.push(wrapRequest({ message: req('fiat-sent'), tradeSk: trade, recipient: nodePk, now: NOW, rawContent: content }));
    if (i % 10 === 0) {
      const seal = JSON.stringify(randomJson());
      inputs.push(finalizeEvent({ kind: 1059, created_at: NOW, tags: [['p', nodePk]], content: nip44Encrypt(seal.length > 0 ? seal : 'x', conversationKey(eph, nodePk)) }, eph));
    }
  }
  let verdicts = 0;
  for (const input of inputs) {
    const v = await intake.handle(input);
    assert.equal(typeof v.ok, 'boolean');
    verdicts++;
  }
  await intake.idle();
  process.off('unhandledRejection', onUnhandled);
  assert.equal(verdicts, inputs.length);
  assert.deepEqual(unhandled, []);
  const c = intake.counters();
  assert.equal(c['error'], undefined, `internal errors: ${JSON.stringify(c)}`);
  assert.ok((c['parse'] ?? 0) > 100, JSON.stringify(c));
});
