// The daemon's production build: src/main.ts and its two worker entry points bundled into
// dist/main.js, dist/crypto-worker.js and dist/wal-checkpoint-worker.js (over tsc's main.js; the
// rest of dist/ stays tsc's output, which the tools run), with the code they share or load later
// in dist/chunk-<hash>.js files. A few scripts instead of ~400 modules: V8 keeps no per-module
// records or scopes, and the source is ASCII without comments, so it is held one byte per
// character. docs/PERFORMANCE.md (session 24) has the figures.
//
// Split, not one file per entry point: what main.ts imports dynamically (settings, logger, daemon)
// stays in chunks loaded by that import(), so main.js itself loads nothing but Node's built-ins and
// the V8 heap sizing (src/v8-memory-boot.ts) runs before any package is loaded. In one file, the
// packages loaded from node_modules (imported statically) loaded before it, and on Node 22 about
// 2 starts in 5 then kept a grown young generation (≈ +25 MB RSS).
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * Loaded at run time from node_modules, not bundled: native addons and WASM (their files sit
 * beside their JavaScript), packages that start threads from their own files (piscina, pino's
 * transports, pino-pretty), the gRPC packages (@grpc/reflection reads its .proto files from beside
 * its own code and loads @grpc/grpc-js and proto-loader itself; src/lightning/lnd/proto-subset.ts
 * requires proto-loader's util.js: one copy of each, from node_modules) and protobufjs, and ws'
 * optional native helpers. test/unit/bundle.test.ts checks that nothing bundled names __dirname.
 */
export const EXTERNAL = [
  'better-sqlite3',
  'better-sqlite3-node20',
  'secp256k1',
  'tiny-secp256k1',
  'nostr-wasm',
  'piscina',
  'pino',
  'pino-pretty',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  'protobufjs',
  'bufferutil',
  'utf-8-validate',
];

// Chunks of an earlier build (their names change with their content).
for (const f of readdirSync('dist', { withFileTypes: true })) {
  if (f.isFile() && /^chunk-[A-Z0-9]+\.js(\.map)?$/.test(f.name)) rmSync(`dist/${f.name}`);
}

const result = await build({
  entryPoints: {
    main: 'src/main.ts',
    'crypto-worker': 'src/nostr/crypto-worker.ts',
    'wal-checkpoint-worker': 'src/db/wal-checkpoint-worker.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  // Beside the entry points: a chunk's import.meta.url resolves the worker files as theirs does.
  chunkNames: 'chunk-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  charset: 'ascii',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  sourcemap: 'linked',
  external: EXTERNAL,
  // The CommonJS packages inside call require() for Node's built-ins.
  banner: { js: 'import{createRequire as __mostrodCreateRequire}from"node:module";const require=__mostrodCreateRequire(import.meta.url);' },
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length > 0) process.exit(1);

/**
 * dist/bundle.json: per output (entry point or chunk), its size, the entry point it is made for (or
 * null), the packages inside it (bytes of each), our source files in it, the chunks it imports
 * statically (`chunks`) and what it loads from outside at run time (`loads`: Node's built-ins and
 * EXTERNAL; `imports`: those of them loaded as ES modules). test/unit/bundle.test.ts checks it
 * against package.json: every package loaded at run time must be a dependency (kept by
 * `npm prune --omit=dev`).
 */
const bundles = {};
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith('.js')) continue;
  const packages = {};
  const sources = [];
  for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    if (m === null) sources.push(input);
    const key = m ? m[1] : 'src';
    packages[key] = (packages[key] ?? 0) + bytesInOutput;
  }
  const external = out.imports.filter((i) => i.external);
  const unique = (list) => [...new Set(list.map((i) => i.path.replace(/^dist\//, '')))].sort();
  bundles[file.replace(/^dist\//, '')] = {
    bytes: out.bytes,
    entry: out.entryPoint ?? null,
    packages,
    sources: sources.sort(),
    chunks: unique(out.imports.filter((i) => !i.external && i.kind === 'import-statement')),
    loads: unique(external),
    imports: unique(external.filter((i) => i.kind !== 'require-call')),
  };
}
writeFileSync('dist/bundle.json', `${JSON.stringify({ external: EXTERNAL, bundles }, null, 1)}\n`);
