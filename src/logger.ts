import { createRequire } from 'node:module';
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

/**
 * pino-pretty and its 40-odd modules are loaded only for a terminal: a daemon under systemd or in a
 * container writes JSON and keeps their source and code out of its heap.
 */
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

/**
 * Root logger (pino). JSON lines on stdout by default; human-readable (pino-pretty, no worker
 * thread) when stdout is a TTY. Level from MOSTROD_LOG_LEVEL, else LOG_LEVEL, else "info"
 * (mostrod forced `mostro=info`, DAEMON.md §9.1; honouring a variable is a documented deviation).
 * Secrets are redacted wherever they appear under these keys.
 */
export const REDACT_PATHS = [
  'nsec',
  'nsec_privkey',
  'preimage',
  'secret_key',
  'macaroon',
  '*.nsec',
  '*.nsec_privkey',
  '*.preimage',
  '*.secret_key',
  '*.macaroon',
  '*.*.nsec_privkey',
  '*.*.preimage',
];

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export interface CreateLoggerOptions {
  /** Write here instead of stdout (tests). */
  destination?: DestinationStream;
  /** Force pretty output on/off (default: stdout is a TTY and no destination given). */
  pretty?: boolean;
  /** Force a level (overrides the environment). */
  level?: string;
}

export function logLevelFromEnv(env: NodeJS.ProcessEnv): { level: string; invalid?: string } {
  const v = (env['MOSTROD_LOG_LEVEL'] ?? env['LOG_LEVEL'] ?? '').trim().toLowerCase();
  if (v === '') return { level: 'info' };
  if (LEVELS.has(v)) return { level: v };
  return { level: 'info', invalid: v };
}

export function createLogger(env: NodeJS.ProcessEnv, opts: CreateLoggerOptions = {}): Logger {
  const fromEnv = logLevelFromEnv(env);
  const level = opts.level ?? fromEnv.level;
  const usePretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  const options = { level, base: { name: 'mostrod' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  const dest: DestinationStream =
    opts.destination ?? (usePretty ? loadPretty()({ colorize: true, translateTime: 'SYS:standard' }) : pino.destination(1));
  const logger = pino(options, dest);
  if (fromEnv.invalid !== undefined && opts.level === undefined) {
    logger.warn(`unknown log level ${JSON.stringify(fromEnv.invalid)} in MOSTROD_LOG_LEVEL/LOG_LEVEL; using info`);
  }
  return logger;
}
