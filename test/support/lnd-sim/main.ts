/**
 * The LND simulator as a process, for e2e tests that run the daemon separately:
 *   node --import tsx test/support/lnd-sim/main.ts --port N --dir DIR [--control-port M] [--network regtest] [--block-height H]
 * Writes DIR/tls.cert and DIR/admin.macaroon, then prints one JSON line to stdout:
 *   {"ready":true,"grpcPort":N,"grpcHost":"https://localhost:N","controlPort":M,"certPath":…,"macaroonPath":…}
 * Drive it through the HTTP control port (control.ts, LndSimClient). Stops on SIGTERM/SIGINT.
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Network } from '../../../src/lightning/bolt11.js';
import { startSimControl } from './control.js';
import { startLndSim } from './sim.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    dir: { type: 'string' },
    'control-port': { type: 'string', default: '0' },
    network: { type: 'string', default: 'regtest' },
    'block-height': { type: 'string', default: '1000' },
  },
});

if (values.dir !== undefined) mkdirSync(values.dir, { recursive: true });
const sim = await startLndSim({
  port: Number(values.port),
  ...(values.dir !== undefined ? { dir: values.dir } : {}),
  network: values.network as Network,
  blockHeight: Number(values['block-height']),
});
const control = await startSimControl(sim, Number(values['control-port']));
process.stdout.write(
  `${JSON.stringify({
    ready: true,
    grpcPort: sim.port,
    grpcHost: sim.grpcHost,
    controlPort: control.port,
    dir: sim.dir,
    certPath: sim.certPath,
    macaroonPath: sim.macaroonPath,
  })}\n`,
);

const shutdown = (): void => {
  void Promise.all([control.close(), sim.close()]).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
