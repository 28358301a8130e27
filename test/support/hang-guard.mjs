/**
 * Preloaded into every test file's process by `npm run test:all` (`--import`): a file whose
 * process is still alive HANG_GUARD_MS after its last test and hook ended has left a handle open
 * (a listener, a socket, a child process, a ref'd timer). The test runner would wait for that
 * process forever — a CI run once hung for its whole budget that way (a sandbox whose daemon
 * failed to start kept its relay and LND simulator listening). Instead the guard names the open
 * handles on stderr and exits 1: the file is reported failed, with the reason, and the run goes on.
 *
 * Not `--test-force-exit`: on Node 22 and 24 that dropped whole files' results (README). The
 * delay leaves room for the timers rust-nostr's WASM client leaves behind (60 s).
 * MOSTROD_TEST_HANG_GUARD_MS overrides the delay (the guard's own test).
 *
 * Plain JavaScript: worker threads inherit the preload with the process's flags, and in a worker
 * tsx's loader is not in place yet when a second --import loads (a .ts guard failed to load there,
 * and every worker with it).
 */
import { setTimeout } from 'node:timers';
import { isMainThread } from 'node:worker_threads';

const HANG_GUARD_MS = Number(process.env.MOSTROD_TEST_HANG_GUARD_MS ?? 150_000);

// Only on the main thread of a test file's own process (the runner sets NODE_TEST_CONTEXT there),
// never in the runner itself, and never in a worker thread: workers inherit the preload with the
// process's flags, and node:test loaded in a worker starts a test root of its own there (the
// crypto-pool and checkpoint tests then ended with "Promise resolution is still pending").
if (isMainThread && process.env.NODE_TEST_CONTEXT !== undefined) {
  const { after } = await import('node:test');
  after(() => {
    const timer = setTimeout(() => {
      process.stderr.write(
        `hang guard: this test file's process is still alive ${HANG_GUARD_MS} ms after its last test; ` +
          `open handles: ${process.getActiveResourcesInfo().join(', ')}. Exiting 1.\n`,
      );
      process.exit(1);
    }, HANG_GUARD_MS);
    // unref'd: a process that ends on its own never waits for the guard
    timer.unref();
  });
}
