/**
 * The daemon as shipped: dist/main.js and its two worker entry points bundled by
 * scripts/bundle.mjs (`npm run build`, with the code they share or load later in dist/chunk-*.js),
 * described by dist/bundle.json. What the bundle does at run time is the e2e tests' part (they all
 * run dist/main.js); this checks what it is made of.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';

const ROOT = new URL('../../', import.meta.url);
const MANIFEST = new URL('dist/bundle.json', ROOT);

interface BundleInfo {
  bytes: number;
  entry: string | null;
  packages: Record<string, number>;
  sources: string[];
  chunks: string[];
  loads: string[];
  imports: string[];
}
interface Manifest {
  external: string[];
  bundles: Record<string, BundleInfo>;
}

function manifest(): Manifest {
  assert.ok(existsSync(MANIFEST), 'dist/bundle.json is missing: run `npm run build`');
  return JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
}

/** `@grpc/proto-loader/build/x.js` → `@grpc/proto-loader`; `pino` → `pino`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const ENTRIES: Record<string, string> = {
  'main.js': 'src/main.ts',
  'crypto-worker.js': 'src/nostr/crypto-worker.ts',
  'wal-checkpoint-worker.js': 'src/db/wal-checkpoint-worker.ts',
};

/** `name` and the chunks it loads before its own code runs (static imports, transitively). */
function staticClosure(m: Manifest, name: string): BundleInfo[] {
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    const b = m.bundles[n];
    assert.ok(b !== undefined, `${n} is not in dist/bundle.json`);
    for (const c of b.chunks) visit(c);
  };
  visit(name);
  return [...seen].map((n) => m.bundles[n]!);
}

void test('the three entry points are bundled, each from its own source; the daemon is in a chunk', () => {
  const m = manifest();
  for (const [name, entry] of Object.entries(ENTRIES)) {
    assert.equal(m.bundles[name]?.entry, entry, name);
    // Its code may sit in a chunk it shares with another entry point (the checkpoint runs on the
    // crypto thread too).
    assert.ok(staticClosure(m, name).some((b) => b.sources.includes(entry)), name);
  }
  const daemon = Object.entries(m.bundles).filter(([, b]) => b.sources.includes('src/daemon.ts'));
  assert.equal(daemon.length, 1);
  assert.ok(daemon[0]![0].startsWith('chunk-'), 'src/daemon.ts is loaded by main.ts through import()');
});

void test('main.js loads no package before its own code runs (the V8 heap sizing comes first)', () => {
  for (const b of staticClosure(manifest(), 'main.js')) {
    assert.deepEqual(b.loads.filter((s) => !isBuiltin(s)), [], 'main.js or a chunk it imports statically loads a package');
    assert.deepEqual(Object.keys(b.packages).filter((p) => p !== 'src'), [], 'main.js or a chunk it imports statically bundles a package');
  }
});

void test('no command-line tool is inside the daemon (their entry-point checks would run in it)', () => {
  for (const [name, b] of Object.entries(manifest().bundles)) {
    const tools = b.sources.filter((s) => s.startsWith('src/tools/'));
    assert.deepEqual(tools, [], `${name} bundles ${tools.join(', ')}: import the library module instead (as ops/backup.ts)`);
  }
});

void test('the crypto worker loads no zod (the parse runs on the event loop)', () => {
  const m = manifest();
  const closure = staticClosure(m, 'crypto-worker.js');
  assert.ok(closure.some((b) => b.sources.includes('src/nostr/crypto-tasks.ts')), 'premise: the closure holds the tasks');
  for (const b of closure) assert.equal(b.packages['zod'], undefined);
});

void test('what a bundle loads at run time is a Node built-in or an external dependency of package.json', () => {
  const m = manifest();
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { dependencies: Record<string, string> };
  // ws' optional native helpers: required inside try/catch, absent here as in production.
  const optional = new Set(['bufferutil', 'utf-8-validate']);
  for (const [name, b] of Object.entries(m.bundles)) {
    for (const spec of b.loads) {
      if (isBuiltin(spec)) continue;
      const p = packageName(spec);
      assert.ok(m.external.includes(p), `${name} loads ${spec}, which is not in scripts/bundle.mjs EXTERNAL`);
      if (optional.has(p)) continue;
      assert.ok(p in pkg.dependencies, `${name} loads ${p} at run time: it must be a dependency (npm prune --omit=dev removes devDependencies)`);
    }
    for (const external of m.external) {
      assert.equal(b.packages[external], undefined, `${name} bundles ${external}, which is also loaded from node_modules`);
    }
  }
});

void test('no ES import of node:http or node:https (it loads undici on Node 22+: src/node-http.ts)', () => {
  for (const [name, b] of Object.entries(manifest().bundles)) {
    const http = b.imports.filter((s) => /^(node:)?https?$/.test(s));
    assert.deepEqual(http, [], `${name} imports ${http.join(', ')} as an ES module`);
  }
});

void test('the bundles are ASCII (held one byte per character) and name no __dirname / __filename', () => {
  for (const [name, b] of Object.entries(manifest().bundles)) {
    const bytes = readFileSync(new URL(`dist/${name}`, ROOT));
    assert.equal(bytes.length, b.bytes, `${name}: stale manifest`);
    const high = bytes.findIndex((b) => b > 0x7f);
    assert.equal(high, -1, `${name}: a non-ASCII byte at offset ${high}`);
    // An ES module has neither: a bundled CommonJS package that reads them fails when it does.
    const text = bytes.toString('latin1');
    assert.ok(!/\b__(dirname|filename)\b/.test(text), `${name} names __dirname or __filename: make its package external`);
  }
});
