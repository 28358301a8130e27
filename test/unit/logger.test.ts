import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, logLevelFromEnv } from '../../src/logger.js';

function sink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

void test('level: MOSTROD_LOG_LEVEL, then LOG_LEVEL, default info; invalid falls back to info', () => {
  assert.deepEqual(logLevelFromEnv({}), { level: 'info' });
  assert.deepEqual(logLevelFromEnv({ LOG_LEVEL: 'warn' }), { level: 'warn' });
  assert.deepEqual(logLevelFromEnv({ LOG_LEVEL: 'warn', MOSTROD_LOG_LEVEL: 'DEBUG' }), { level: 'debug' });
  assert.deepEqual(logLevelFromEnv({ MOSTROD_LOG_LEVEL: 'loud' }), { level: 'info', invalid: 'loud' });
});

void test('JSON lines, level filtering and a warning for an invalid level', () => {
  const s = sink();
  const log = createLogger({ MOSTROD_LOG_LEVEL: 'nope' }, { destination: s.stream });
  log.debug('hidden');
  log.info({ orderId: 'x' }, 'shown');
  const lines = s.lines();
  assert.equal(lines.length, 2);
  assert.match(String(lines[0]?.['msg']), /unknown log level "nope"/);
  assert.equal(lines[1]?.['msg'], 'shown');
  assert.equal(lines[1]?.['orderId'], 'x');
  assert.equal(lines.some((l) => l['msg'] === 'hidden'), false);
});

void test('secrets are redacted', () => {
  const s = sink();
  const log = createLogger({}, { destination: s.stream });
  log.info({ nsec: 'nsec1secret', order: { preimage: 'p'.repeat(64) }, settings: { nostr: { nsec_privkey: 'k' } } }, 'x');
  const out = JSON.stringify(s.lines());
  assert.doesNotMatch(out, /nsec1secret|pppp|"k"/);
  assert.match(out, /\[redacted\]/);
});
