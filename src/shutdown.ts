import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

export interface ShutdownOptions {
  signals?: NodeJS.Signals[];
  /** Process exit (injectable for tests). */
  exit?: (code: number) => void;
}

export interface ShutdownHandle {
  /** Run the steps as if a signal arrived (e.g. on a fatal error); resolves with the exit code used. */
  shutdown(reason: string): Promise<number>;
  /** Remove the signal handlers. */
  dispose(): void;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT (mostrod had none, DAEMON.md §1.4): run `steps` in order
 * (stop intake, await in-flight work, close the DB, …), then exit 0 — or 1 if a step failed.
 * A second signal while shutting down exits 1 immediately.
 */
export function installShutdown(
  logger: Pick<Logger, 'info' | 'warn' | 'error'>,
  steps: ShutdownStep[],
  opts: ShutdownOptions = {},
): ShutdownHandle {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;

  const run = async (reason: string): Promise<number> => {
    logger.info({ reason }, 'shutting down');
    let failed = false;
    for (const step of steps) {
      try {
        await step.run();
        logger.info({ step: step.name }, 'shutdown step done');
      } catch (err) {
        failed = true;
        logger.error({ step: step.name, err }, 'shutdown step failed');
      }
    }
    const code = failed ? 1 : 0;
    logger.info({ code }, 'shutdown complete');
    return code;
  };

  const shutdown = (reason: string): Promise<number> => {
    running ??= run(reason).then((code) => {
      exit(code);
      return code;
    });
    return running;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (running) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    void shutdown(signal);
  };
  for (const s of signals) process.on(s, onSignal);

  return {
    shutdown,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
