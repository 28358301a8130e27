import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from './package-root.js';

/**
 * Command line of mostrod (DAEMON.md §1.1): one option `-d/--dirsettings <DIR>` (default
 * ~/.mostro), `-h/--help`, `-V/--version`. Anything else is a usage error (exit 2, like clap).
 * `{exit, output}` results are printed by the caller: stdout when exit is 0, stderr otherwise.
 */
export type CliResult = { dir: string } | { exit: number; output: string };

const ABOUT = 'A P2P lightning exchange over Nostr';

function version(): string {
  const pkg = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export function usageText(): string {
  return [
    ABOUT,
    '',
    'Usage: mostrod [OPTIONS]',
    '',
    'Options:',
    '  -d, --dirsettings <DIR>  Directory with settings.toml and mostro.db [default: ~/.mostro]',
    '  -h, --help               Print help',
    '  -V, --version            Print version',
    '',
    'Environment:',
    '  MOSTRO_NSEC_PRIVKEY      Overrides [nostr] nsec_privkey',
    '  MOSTROD_LOG_LEVEL        Log level: trace, debug, info (default), warn, error, fatal, silent (LOG_LEVEL also accepted)',
    '',
  ].join('\n');
}

function usageError(msg: string): CliResult {
  return { exit: 2, output: `error: ${msg}\n\nUsage: mostrod [OPTIONS]\n\nFor more information, try '--help'.\n` };
}

export function parseCli(argv: string[], home: () => string = homedir): CliResult {
  let dir: string | undefined;
  const setDir = (v: string | undefined, flag: string): CliResult | undefined => {
    if (v === undefined || v === '') return usageError(`a value is required for '${flag} <DIR>' but none was supplied`);
    if (dir !== undefined) return usageError(`the argument '--dirsettings <DIR>' cannot be used multiple times`);
    dir = v;
    return undefined;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    let err: CliResult | undefined;
    if (a === '-h' || a === '--help') return { exit: 0, output: usageText() };
    if (a === '-V' || a === '--version') return { exit: 0, output: `mostro p2p ${version()} (mostrod-ts)\n` };
    if (a === '-d' || a === '--dirsettings') {
      err = setDir(argv[i + 1], a === '-d' ? '-d' : '--dirsettings');
      i++;
    } else if (a.startsWith('--dirsettings=')) {
      err = setDir(a.slice('--dirsettings='.length), '--dirsettings');
    } else if (a.startsWith('-d') && !a.startsWith('--')) {
      err = setDir(a.slice(a[2] === '=' ? 3 : 2), '-d');
    } else if (a.startsWith('-')) {
      err = usageError(`unexpected argument '${a}' found`);
    } else {
      err = usageError(`unexpected argument '${a}' found`);
    }
    if (err) return err;
  }
  if (dir !== undefined) return { dir };
  const h = home();
  if (!h) return { exit: 1, output: 'Error: Could not find home directory\n' };
  return { dir: join(h, '.mostro') };
}
