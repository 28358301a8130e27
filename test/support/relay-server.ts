/**
 * The test relay as its own process (so load tests don't share a core with the daemon):
 *   node --import tsx test/support/relay-server.ts [--port N] [--mode accept|refuse|silent] [--file relay.sqlite]
 * Prints `RELAY_URL=ws://127.0.0.1:PORT` on stdout once listening; exits on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startRelay, type RelayMode } from './relay.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    mode: { type: 'string', default: 'accept' },
    file: { type: 'string' },
  },
});

const relay = await startRelay({
  port: Number(values.port),
  mode: values.mode as RelayMode,
  ...(values.file !== undefined ? { file: values.file } : {}),
});
process.stdout.write(`RELAY_URL=${relay.url}\n`);

const shutdown = () => {
  void relay.close().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
