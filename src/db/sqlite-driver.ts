import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type { Database, Statement } from 'better-sqlite3';

/**
 * The better-sqlite3 build for the running Node.js:
 *  - Node >= 22: better-sqlite3 13 (N-API, prebuilt binaries shipped in the package, no compile).
 *    better-sqlite3 12 must not run there: its Statement/Database derive from node::ObjectWrap,
 *    and since Node 24.19 a Statement finalized by a background GC aborts the process
 *    (`Assertion failed: (env) != nullptr` in RemoveEnvironmentCleanupHook).
 *  - Node 20 (end of life, still what some build machines have): better-sqlite3 12.11.1 under the
 *    alias `better-sqlite3-node20`, compiled from source by `npm ci`. 13 segfaults on Node 20.
 * Both builds open the same database files (same SQLite, same API for what mostrod uses).
 */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
export const SQLITE_DRIVER_PACKAGE = NODE_MAJOR >= 22 ? 'better-sqlite3' : 'better-sqlite3-node20';

const require = createRequire(import.meta.url);
const Driver = require(SQLITE_DRIVER_PACKAGE) as typeof BetterSqlite3;

export default Driver;
