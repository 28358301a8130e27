import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const GUARD = fileURLToPath(new URL('../support/hang-guard.mjs', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/hang-guard/${name}`, import.meta.url));

/** The runner as test:all starts it, on one fixture file, with a short guard delay. */
function runFile(file: string): { status: number | null; out: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', GUARD, '--test', '--test-reporter=tap', file], {
    encoding: 'utf8',
    timeout: 60_000,
    // (without this test file's own NODE_TEST_CONTEXT: the nested runner would skip its files)
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), MOSTROD_TEST_HANG_GUARD_MS: '500' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, ms: performance.now() - started };
}

void test('hang guard: a test file that leaves a listener open is failed with its open handles, not waited for', () => {
  const r = runFile(fixture('leaks-a-listener.ts'));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /hang guard: this test file's process is still alive 500 ms after its last test; open handles: [^\n]*TCPServerWrap/);
  assert.match(r.out, /# pass 1\n/, 'the file\'s own test is still reported as passed');
  assert.match(r.out, /# fail 1\n/, 'and the file as failed');
});

void test('hang guard: a file that ends on its own is not held back by the guard', () => {
  const r = runFile(fixture('ends-cleanly.ts'));
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /hang guard/);
  assert.match(r.out, /# pass 1\n/);
  assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
});
