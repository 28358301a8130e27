/**
 * `node:http` and `node:https`, loaded with `require`.
 *
 * Imported as an ES module, `node:http` costs Node 22 and 24 about 2.3 MB of heap and 10-13 MB of
 * RSS for nothing: to build the module namespace, the loader reads every export, and reading
 * `http.WebSocket`, `CloseEvent` or `MessageEvent` (lazy getters since Node 22) loads undici, the
 * engine behind `fetch` (760 KB of source, ~75 modules). `require` returns the module object and
 * leaves those getters alone. The daemon never uses fetch or those classes; a test checks that its
 * module graph loads no undici.
 */
import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import type * as Https from 'node:https';

const require = createRequire(import.meta.url);

export const http = require('node:http') as typeof Http;
export const https = require('node:https') as typeof Https;
