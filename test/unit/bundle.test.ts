/**
 * The daemon as shipped: dist/main.js and its two worker entry points bundled by
 * scripts/bundle.mjs (`npm run build`), described by dist/bundle.json. What the bundle does at run
 * time is the e2e tests' part (they all run dist/main.js); this checks what it is made of.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';

const ROOT = new URL('../../', import.meta.url);
const MANIFEST = new URL('dist/bundle.json', ROOT);

interface BundleInfo {
  bytes: number;
  packages: Record<string, number>;
  loads: string[];
  imports: string[];
  sources: string[];
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

const ENTRIES = ['main.js', 'crypto-worker.js', 'wal-checkpoint-worker.js'];

void test('the three entry points are bundled, each from its own source', () => {
  const m = manifest();
  assert.deepEqual(Object.keys(m.bundles).sort(), [...ENTRIES].sort());
  assert.ok(m.bundles['main.js']!.sources.includes('src/main.ts'));
  assert.ok(m.bundles['main.js']!.sources.includes('src/daemon.ts'));
  assert.ok(m.bundles['crypto-worker.js']!.sources.includes('src/nostr/crypto-worker.ts'));
  assert.ok(m.bundles['wal-checkpoint-worker.js']!.sources.includes('src/db/wal-checkpoint-worker.ts'));
});

void test('no command-line tool is inside the daemon (their entry-point checks would run in it)', () => {
  for (const name of ENTRIES) {
    const tools = manifest().bundles[name]!.sources.filter((s) => s.startsWith('src/tools/'));
    assert.deepEqual(tools, [], `${name} bundles ${tools.join(', ')}: import the library module instead (as ops/backup.ts)`);
  }
});

void test('the crypto worker bundles no zod (the parse runs on the event loop)', () => {
  assert.equal(manifest().bundles['crypto-worker.js']!.packages['zod'], undefined);
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
  for (const name of ENTRIES) {
    const bytes = readFileSync(new URL(`dist/${name}`, ROOT));
    assert.equal(bytes.length, manifest().bundles[name]!.bytes, `${name}: stale manifest`);
    const high = bytes.findIndex((b) => b > 0x7f);
    assert.equal(high, -1, `${name}: a non-ASCII byte at offset ${high}`);
    // An ES module has neither: a bundled CommonJS package that reads them fails when it does.
    const text = bytes.toString('latin1');
    assert.ok(!/\b__(dirname|filename)\b/.test(text), `${name} names __dirname or __filename: make its package external`);
  }
});
