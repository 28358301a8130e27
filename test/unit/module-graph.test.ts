import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Node's built-in modules that importing `modules` (paths under src/, in order) after `statement` loads in a fresh process. */
function builtinsLoadedBy(modules: string[], statement = ''): string[] {
  const script = `
const before = new Set(process.moduleLoadList);
${statement}
for (const m of ${JSON.stringify(modules.map((m) => `${SRC}${m}`))}) await import(m);
process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13))));
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const UNDICI = 'internal/deps/undici/undici';

// Node 22 and 24 load undici (fetch's engine: ~2.3 MB of heap, 10-13 MB of RSS) when node:http is
// imported as an ES module (the namespace reads http.WebSocket & co., lazy getters). src/node-http.ts
// loads http and https with require; nothing the daemon loads may bring undici back.
void test("the daemon's module graph (as main.ts loads it) does not load undici", () => {
  const loaded = builtinsLoadedBy(['config/settings.ts', 'logger.ts', 'daemon.ts']);
  assert.ok(loaded.includes('http') && loaded.includes('https'), `premise: the graph loads http and https (${loaded.join(' ')})`);
  assert.ok(!loaded.includes(UNDICI), 'undici was loaded: an `import ... from "node:http"` (or fetch, WebSocket, Response...) crept in; use src/node-http.ts');
});

void test('node-http.ts gives http and https without undici, where an ES import of node:http loads it (Node >= 22)', () => {
  assert.ok(!builtinsLoadedBy(['node-http.ts']).includes(UNDICI));
  const major = Number(process.versions.node.split('.')[0]);
  const viaImport = builtinsLoadedBy([], "await import('node:http');").includes(UNDICI);
  // The premise of node-http.ts: if a later Node stops doing this, the module is no longer needed.
  if (major >= 22) assert.ok(viaImport, `Node ${process.version} no longer loads undici for an ES import of node:http`);
});
