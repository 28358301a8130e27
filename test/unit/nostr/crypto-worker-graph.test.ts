/**
 * The crypto worker thread's module graph (crypto-worker.ts and what it imports) must not load the
 * Message schema: zod and protocol/schema.ts cost each thread about 4 MB (docs/PERFORMANCE.md,
 * "Memory"); the parse runs on the event-loop thread (complete-open.ts). A fresh `node` imports
 * the module with a resolve hook that records every resolved URL; a second child importing
 * protocol/parse.ts shows the recording does see zod when it is there.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.MODULE_RECORD, r.url + '\\n');
  return r;
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

/** Every module URL resolved while a fresh node imports `module` (a URL), and how the import ended. */
async function moduleGraph(module: URL): Promise<{ urls: string[]; outcome: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mostrod-graph-'));
  const record = join(dir, 'modules.txt');
  try {
    const script = `import(${JSON.stringify(module.href)}).then(() => console.log('loaded'), (e) => console.log(e instanceof Error ? e.message : String(e)));`;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, '--input-type=module', '-e', script],
      { env: { ...process.env, MODULE_RECORD: record }, timeout: 60_000 },
    );
    const urls = [...new Set(readFileSync(record, 'utf8').split('\n').filter((l) => l !== ''))];
    return { urls, outcome: stdout.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SRC = new URL('../../../src/', import.meta.url);
/** What the worker thread must not load. */
const FORBIDDEN = [/\/node_modules\/zod\//, /\/src\/protocol\/schema\.ts$/, /\/node_modules\/(pino|kysely|better-sqlite3|@grpc)\//];

void describe('crypto worker thread: module graph', () => {
  void test('crypto-worker.ts loads no zod, no protocol schema (nor pino, kysely, grpc)', async () => {
    const { urls, outcome } = await moduleGraph(new URL('nostr/crypto-worker.ts', SRC));
    // Outside a worker thread the module refuses to start once its whole graph is loaded.
    assert.match(outcome, /^(loaded|crypto worker started without the node key)$/);
    // The recording saw the graph: the worker's own modules are there.
    for (const m of ['nostr/crypto-tasks.ts', 'nostr/crypto-gates.ts', 'protocol/tuple.ts', 'nostr/gift-wrap.ts', 'crypto/secp.ts']) {
      assert.ok(urls.includes(new URL(m, SRC).href), `${m} recorded`);
    }
    const bad = urls.filter((u) => FORBIDDEN.some((re) => re.test(u)));
    assert.deepEqual(bad, [], 'modules the worker thread must not load');
  });

  void test('the recording sees zod where it is loaded (protocol/parse.ts)', async () => {
    const { urls, outcome } = await moduleGraph(new URL('protocol/parse.ts', SRC));
    assert.equal(outcome, 'loaded');
    assert.ok(urls.some((u) => FORBIDDEN[0]!.test(u)), 'zod recorded');
    assert.ok(urls.includes(new URL('protocol/schema.ts', SRC).href), 'schema.ts recorded');
  });
});
