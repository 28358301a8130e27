#!/usr/bin/env node
/**
 * mostrod-backup: an online, consistent copy of mostro.db that is safe while the daemon runs
 * (src/ops/backup.ts).
 *
 *   mostrod-backup [-d DIR] [--force] [OUT.db]
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBackup, type BackupOptions } from '../ops/backup.js';

export { runBackup, type BackupOptions, type BackupResult } from '../ops/backup.js';

export type BackupArgs = { opts: BackupOptions } | { exit: number; output: string };

const USAGE = [
  'Online backup of the mostrod database (safe while the daemon runs).',
  '',
  'Usage: mostrod-backup [-d DIR] [--force] [OUT.db]',
  '',
  'Options:',
  '  -d, --dirsettings <DIR>  Directory with settings.toml and mostro.db [default: ~/.mostro]',
  '  -f, --force              Overwrite OUT.db if it exists',
  '  -h, --help               Print help',
  '',
  'OUT.db defaults to DIR/backups/mostro-<UTC timestamp>.db.',
  '',
].join('\n');

export function backupUsage(): string {
  return USAGE;
}

/** Parse the command line (argv without node and script). */
export function parseBackupArgs(argv: string[], home: () => string = homedir): BackupArgs {
  let dir: string | undefined;
  let out: string | undefined;
  let force = false;
  const usageError = (msg: string): BackupArgs => ({
    exit: 2,
    output: `error: ${msg}\n\nUsage: mostrod-backup [-d DIR] [--force] [OUT.db]\n`,
  });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-h' || a === '--help') return { exit: 0, output: USAGE };
    if (a === '-f' || a === '--force') {
      force = true;
    } else if (a === '-d' || a === '--dirsettings' || a.startsWith('--dirsettings=')) {
      const v = a.startsWith('--dirsettings=') ? a.slice('--dirsettings='.length) : argv[++i];
      if (v === undefined || v === '') return usageError(`a value is required for '${a.split('=')[0] ?? a} <DIR>'`);
      if (dir !== undefined) return usageError(`the argument '--dirsettings <DIR>' cannot be used multiple times`);
      dir = v;
    } else if (a.startsWith('-') && a !== '-') {
      return usageError(`unexpected argument '${a}' found`);
    } else {
      if (out !== undefined) return usageError(`unexpected argument '${a}' found`);
      out = a;
    }
  }
  if (dir === undefined) {
    const h = home();
    if (!h) return { exit: 1, output: 'Error: Could not find home directory\n' };
    dir = join(h, '.mostro');
  }
  return { opts: { dir, ...(out !== undefined ? { out } : {}), force } };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseBackupArgs(argv);
  if ('exit' in parsed) {
    (parsed.exit === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.exit;
  }
  try {
    const r = await runBackup(parsed.opts);
    process.stdout.write(
      `backup written to ${r.out} (${r.bytes} bytes; ${r.orders} orders, ${r.disputes} disputes, ${r.users} users)\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`mostrod-backup: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`mostrod-backup: fatal: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
