import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseNodeSecretKey } from './node-key.js';
import { settingsSchema } from './settings-schema.js';
import type { Settings } from './types.js';
import { packageFile } from '../package-root.js';

export { parseNodeSecretKey } from './node-key.js';

export const SETTINGS_FILE = 'settings.toml';
export const DATABASE_FILE = 'mostro.db';
/** Overrides `[nostr] nsec_privkey` when set (keeps the key out of the settings file). */
export const NSEC_ENV = 'MOSTRO_NSEC_PRIVKEY';

/** The settings template shipped with the package (settings.tpl.toml at the package root). */
export function templateText(): string {
  return readFileSync(packageFile('settings.tpl.toml'), 'utf8');
}

export function settingsPath(dir: string): string {
  return join(dir, SETTINGS_FILE);
}

/** The database always lives next to settings.toml; `[database] url` is ignored (as in mostrod). */
export function databasePath(dir: string): string {
  return join(dir, DATABASE_FILE);
}

/** Create `dir` if needed; write the template as settings.toml (mode 0600) if there is none. */
export function ensureSettingsFile(dir: string): 'created' | 'exists' {
  mkdirSync(dir, { recursive: true });
  const file = settingsPath(dir);
  if (existsSync(file)) return 'exists';
  writeFileSync(file, templateText(), { mode: 0o600, flag: 'wx' });
  return 'created';
}

/** What to print after ensureSettingsFile returned 'created' (the daemon then exits 0). */
export function firstRunMessage(dir: string): string {
  return (
    `Created settings file from template at ${settingsPath(dir)} for Mostro - Edit it to configure your Mostro instance:\n` +
    '  [lightning] lnd_cert_file, lnd_macaroon_file, lnd_grpc_host (your LND node)\n' +
    `  [nostr] nsec_privkey (Mostro's private key; or set ${NSEC_ENV}) and relays\n` +
    '  [mostro] fee and the other trading limits\n' +
    'then start mostrod again.'
  );
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a table';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

function formatIssue(raw: unknown, issue: z.core.$ZodIssue): string {
  const [section, ...rest] = issue.path.map((p) => String(p));
  const value = valueAt(raw, issue.path);
  const where = rest.length === 0 ? `[${section ?? '?'}]` : `[${section}] ${rest.join('.')}`;
  if (rest.length === 0 && value === undefined) return `[${section}] section is missing`;
  if (issue.code === 'invalid_type') {
    if (value === undefined) return `${where}: missing (required key)`;
    return `${where}: expected ${issue.expected}, got ${describe(value)}`;
  }
  return `${where}: ${issue.message}`;
}

/**
 * Parse and validate settings TOML text. `env` may override the Nostr key (MOSTRO_NSEC_PRIVKEY).
 * Throws ConfigError listing every problem as "[section] key: what is wrong".
 */
export function parseSettings(text: string, env: NodeJS.ProcessEnv, source = SETTINGS_FILE): Settings {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`${source}: invalid TOML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const envKey = env[NSEC_ENV];
  if (envKey !== undefined && envKey !== '') {
    const nostr = raw['nostr'];
    if (nostr !== null && typeof nostr === 'object' && !Array.isArray(nostr)) {
      (nostr as Record<string, unknown>)['nsec_privkey'] = envKey;
    } else if (nostr === undefined) {
      raw['nostr'] = { nsec_privkey: envKey };
    }
  }
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => formatIssue(raw, i));
    throw new ConfigError(`${source}: invalid settings:\n  ${[...new Set(lines)].join('\n  ')}`);
  }
  const s = parsed.data;
  try {
    parseNodeSecretKey(s.nostr.nsec_privkey);
  } catch (e) {
    const from = envKey ? `${NSEC_ENV} (overrides [nostr] nsec_privkey)` : '[nostr] nsec_privkey';
    throw new ConfigError(`${source}: invalid settings:\n  ${from}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { ...s, expiration: s.expiration ?? null, price: s.price ?? null };
}

/**
 * Load DIR/settings.toml (DAEMON.md §1.3). `[database] url` is replaced by `sqlite://DIR/mostro.db`
 * (the only database location, as in mostrod). Throws ConfigError.
 */
export function loadSettings(dir: string, env: NodeJS.ProcessEnv): Settings {
  const file = settingsPath(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const s = parseSettings(text, env, file);
  return { ...s, database: { url: `sqlite://${databasePath(dir)}` } };
}

/** A copy safe to log: the private key and price API keys/tokens are replaced. */
export function redactSettings(s: Settings): Settings {
  const price =
    s.price === null
      ? null
      : {
          ...s.price,
          providers: Object.fromEntries(
            Object.entries(s.price.providers).map(([id, p]) => [
              id,
              {
                ...p,
                ...(p.api_key !== undefined ? { api_key: '[redacted]' } : {}),
                ...(p.token !== undefined ? { token: '[redacted]' } : {}),
              },
            ]),
          ),
        };
  return { ...s, nostr: { ...s.nostr, nsec_privkey: '[redacted]' }, price };
}
