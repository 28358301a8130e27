/**
 * CPU profiles of the bundled daemon (scripts/bundle.mjs): every frame of its code and of the
 * bundled packages is in dist/main.js, dist/crypto-worker.js or a dist/chunk-*.js. `unbundle` gives
 * each such frame back the file and line it came from (src/…, node_modules/…) from the source map
 * beside it.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const BUNDLE = /\/dist\/(main|crypto-worker|wal-checkpoint-worker|chunk-[A-Z0-9]+)\.js$/;
const sourceMaps = new Map<string, SourceMap | null>();

/** Rewrites the bundle's frames of `p` to their original files and lines (in place). */
export function unbundle(p: CpuProfile): void {
  for (const n of p.nodes) {
    const f = n.callFrame;
    if (!BUNDLE.test(f.url)) continue;
    let map = sourceMaps.get(f.url);
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(f.url)}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = null;
      }
      sourceMaps.set(f.url, map);
    }
    const e = map?.findEntry(f.lineNumber, f.columnNumber);
    if (e === undefined || !('originalSource' in e)) continue;
    f.url = pathToFileURL(path.resolve(path.dirname(fileURLToPath(f.url)), e.originalSource)).href;
    f.lineNumber = e.originalLine;
  }
}

/** A frame's file for a table: `kysely/dist/…`, `src/db/…` (or `dist/…`). */
export function shortUrl(u: string): string {
  return u.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '$1/');
}
