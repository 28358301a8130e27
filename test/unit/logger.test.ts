import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
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

void test('pino-pretty is loaded only for pretty output, and then prints human-readable lines', () => {
  const logger = fileURLToPath(new URL('../../src/logger.ts', import.meta.url));
  const script = (pretty: boolean): string => `
import { createRequire } from 'node:module';
import { createLogger } from ${JSON.stringify(logger)};
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/pino-pretty/'));
const before = loaded();
createLogger({}, { pretty: ${pretty} }).info({ n: 1 }, 'hello there');
process.stderr.write(JSON.stringify({ before, after: loaded() }));
`;
  const run = (pretty: boolean): { out: string; loaded: { before: boolean; after: boolean } } => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(pretty)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { out: r.stdout, loaded: JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{"before"'))) as { before: boolean; after: boolean } };
  };
  const json = run(false);
  assert.deepEqual(json.loaded, { before: false, after: false });
  assert.equal((JSON.parse(json.out.trim()) as { msg: string }).msg, 'hello there');
  const pretty = run(true);
  assert.deepEqual(pretty.loaded, { before: false, after: true });
  assert.match(pretty.out, /INFO.*hello there/);
  assert.doesNotMatch(pretty.out, /^\{/m);
});
