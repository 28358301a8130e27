import { existsSync } from 'node:fs';

let root: URL | undefined;

/**
 * The package root: the nearest directory above this module that holds package.json. The same
 * answer from src/ (tests), from dist/ (the tools) and from the bundled daemon (dist/main.js), whose
 * modules no longer sit at their source depth.
 */
export function packageRoot(): URL {
  if (root !== undefined) return root;
  let dir = new URL('./', import.meta.url);
  for (;;) {
    if (existsSync(new URL('package.json', dir))) return (root = dir);
    const up = new URL('../', dir);
    if (up.href === dir.href) throw new Error(`no package.json in any directory above ${import.meta.url}`);
    dir = up;
  }
}

/** A file of the package (`settings.tpl.toml`, `proto/admin.proto`, `migrations/`…) as a file URL. */
export function packageFile(relative: string): URL {
  return new URL(relative, packageRoot());
}
