#!/usr/bin/env node
/**
 * mostrod readiness probe (the Docker HEALTHCHECK):
 *
 *   node dist/tools/readyz-probe.js [-d DIR]
 *
 * Reads `[http]` from DIR/settings.toml (default ~/.mostro), asks the daemon's `/readyz` on that
 * listener (0.0.0.0 / :: are asked on loopback) and exits 0 when it answers 200, 1 otherwise,
 * printing the JSON body (which names what is not ready). Needs no curl or wget in the image.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { httpSchema } from '../config/settings-schema.js';
import { settingsPath } from '../config/settings.js';

/** The URL of /readyz for the `[http]` section of `settingsText`, or an error message. */
export function readyzUrl(settingsText: string): { url: string } | { error: string } {
  let doc: Record<string, unknown>;
  try {
    doc = parse(settingsText) as Record<string, unknown>;
  } catch (err) {
    return { error: `settings.toml: ${err instanceof Error ? err.message : String(err)}` };
  }
  const http = httpSchema.safeParse(doc['http'] ?? {});
  if (!http.success) return { error: `[http]: ${http.error.issues.map((i) => i.message).join('; ')}` };
  if (!http.data.enabled) return { error: '[http] enabled = false: no /readyz to probe' };
  let host = http.data.listen_address.replace(/^\[(.*)\]$/, '$1');
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${http.data.port}/readyz` };
}

async function main(argv: string[]): Promise<number> {
  const i = argv.findIndex((a) => a === '-d' || a === '--dir');
  const dir = i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : join(homedir(), '.mostro');
  let text: string;
  try {
    text = readFileSync(settingsPath(dir), 'utf8');
  } catch (err) {
    process.stderr.write(`readyz-probe: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const target = readyzUrl(text);
  if ('error' in target) {
    process.stderr.write(`readyz-probe: ${target.error}\n`);
    return 1;
  }
  try {
    const res = await fetch(target.url, { signal: AbortSignal.timeout(5000) });
    process.stdout.write(await res.text());
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`readyz-probe: ${target.url}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
