#!/usr/bin/env node
/**
 * mostrod entry point: CLI → settings → daemon → signal handling. Everything else is built in
 * daemon.ts (the composition root).
 */
// First: V8 heap sizing (v8-memory.ts). The settings, logger and daemon modules are imported
// dynamically in main() so that their evaluation already runs under it (in the bundle,
// scripts/bundle.mjs, they are initialized at that import() too; the packages loaded from
// node_modules, which the bundle imports statically, load before it).
import { v8Memory } from './v8-memory-boot.js';
import { missingNodeFlags, SHIPPED_NODE_FLAGS } from './v8-memory.js';
import { parseCli } from './cli.js';
import { ConfigError } from './errors.js';
import { installShutdown } from './shutdown.js';
import { mallocEnvReport, runsOnGlibc, SHIPPED_MALLOC_ENV } from './malloc-env.js';

async function main(): Promise<number | null> {
  const cli = parseCli(process.argv.slice(2));
  if ('exit' in cli) {
    (cli.exit === 0 ? process.stdout : process.stderr).write(cli.output.endsWith('\n') ? cli.output : `${cli.output}\n`);
    return cli.exit;
  }
  const { ensureSettingsFile, firstRunMessage, loadSettings } = await import('./config/settings.js');
  if (ensureSettingsFile(cli.dir) === 'created') {
    process.stdout.write(`${firstRunMessage(cli.dir)}\n`);
    return 0;
  }
  let settings;
  try {
    settings = loadSettings(cli.dir, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mostrod: invalid configuration: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const [{ createLogger }, { startDaemon }] = await Promise.all([import('./logger.js'), import('./daemon.js')]);
  const logger = createLogger(process.env);
  const glibc = runsOnGlibc();
  const malloc = mallocEnvReport(process.env, glibc);
  if (malloc.differing.length > 0) {
    logger.warn(
      { malloc: malloc.settings, shipped: SHIPPED_MALLOC_ENV, differing: malloc.differing },
      'glibc malloc settings differ from those of contrib/mostrod.service and the Dockerfile: without MALLOC_ARENA_MAX=2 expect about 8-10 MB more RSS; a MALLOC_MMAP_THRESHOLD_ under 64 KiB costs CPU on every socket read, none lets glibc keep ever larger blocks in its heap (README "Memory and floods")',
    );
  } else if (glibc) {
    logger.info({ malloc: malloc.settings }, 'glibc malloc settings as shipped');
  }
  logger.debug({ v8: v8Memory.plan }, 'V8 settings the daemon applied (src/v8-memory.ts; null = left to the operator or to V8)');
  const missingFlags = missingNodeFlags(process.execArgv);
  if (missingFlags.length > 0) {
    logger.warn(
      { nodeFlags: process.execArgv, shipped: SHIPPED_NODE_FLAGS, missing: missingFlags },
      'node started without the flags of contrib/mostrod.service and the Dockerfile: expect about 1 MB more RSS (README "Memory and floods")',
    );
  }
  let daemon;
  // A fatal condition while running (the database can no longer sync) stops the daemon, exit 1.
  let fatal = false;
  let stopNow: ((reason: string) => void) | null = null;
  try {
    daemon = await startDaemon({
      dir: cli.dir,
      settings,
      logger,
      onFatal: () => {
        fatal = true;
        stopNow?.('fatal');
      },
    });
  } catch (err) {
    logger.fatal({ err }, 'mostrod failed to start');
    return 1;
  }
  const shutdown = installShutdown(logger, [{ name: 'daemon', run: () => daemon.stop() }], {
    exit: (code) => process.exit(fatal ? 1 : code),
  });
  stopNow = (reason) => void shutdown.shutdown(reason);
  if (fatal) stopNow('fatal');
  v8Memory.startGrowing();
  return null; // keep running until a signal
}

main().then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`mostrod: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
