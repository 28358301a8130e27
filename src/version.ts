import { readFileSync } from 'node:fs';
import { packageFile } from './package-root.js';

/**
 * The daemon's version as published in the info event (`mostro_version`) and by GetVersion.
 * This port speaks mostrod 0.17.1's protocol and keeps its version number (package.json).
 * `MOSTRO_COMMIT_HASH` comes from dist/build-info.json, written by `npm run build` (empty if absent).
 */
function readJson(url: URL): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const pkg = readJson(packageFile('package.json'));
const build = readJson(packageFile('dist/build-info.json'));

export const MOSTRO_VERSION: string = typeof pkg?.['version'] === 'string' ? pkg['version'] : '0.0.0';
export const MOSTRO_COMMIT_HASH: string = typeof build?.['commit'] === 'string' ? build['commit'] : '';
