/**
 * A local sandbox around the BUILT daemon (dist/main.js): a real Nostr relay, the LND simulator
 * (LND's protos over TLS with a macaroon), a Yadio-compatible price server and an LNURL server, all
 * on 127.0.0.1; the daemon runs as a separate process with a generated settings.toml.
 * Used by the e2e tests and by `npm run demo`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { bytesToHex } from '../../src/crypto/secp.js';
import { startLndSim, type LndSim } from './lnd-sim/index.js';
import { startLnurlServer, type LnurlServer } from './lnurl-server.js';
import { PriceServer } from './price-server.js';
import { startRelay, type TestRelay } from './relay.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DAEMON_ENTRY = path.join(ROOT, 'dist', 'main.js');

export interface SandboxOptions {
  /** extra / overriding settings.toml lines per section, e.g. { mostro: { fee: 0.006 } } */
  settings?: Record<string, Record<string, unknown>>;
  /** keep the data dir after close() (default: removed) */
  keepDir?: boolean;
  /** start the daemon right away (default true) */
  startDaemon?: boolean;
  /** log level of the daemon (default info) */
  logLevel?: string;
  /** echo daemon logs to this process's stderr */
  echoLogs?: boolean;
  /** the [http] listener on 127.0.0.1, on a port the sandbox picks (Sandbox.httpPort) */
  http?: boolean;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

export interface Sandbox {
  dir: string;
  relay: TestRelay;
  sim: LndSim;
  prices: PriceServer;
  lnurl: LnurlServer;
  nodeSecretKey: Uint8Array;
  nodePubkey: string;
  /** the [rpc] port (picked by the sandbox unless the settings give one) */
  rpcPort: number;
  /** the [http] port picked by the sandbox (SandboxOptions.http), else null */
  httpPort: number | null;
  logFile: string;
  daemon: DaemonProcess | null;
  startDaemon(): Promise<DaemonProcess>;
  /** SIGTERM (graceful) or SIGKILL the daemon and wait for it to exit; returns the exit code. */
  stopDaemon(signal?: NodeJS.Signals): Promise<number | null>;
  /** Lines of the daemon log parsed as JSON (non-JSON lines skipped). */
  logs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** How long stopDaemon waits for the process to exit before it kills it and fails. */
const STOP_BOUND_MS = 150_000;

/** Ports this process has handed out: the kernel may offer a port again once it is released. */
const handedOut = new Set<number>();

/**
 * A port free on 127.0.0.1 now, never one this process handed out before (two calls in a row
 * can get the same port from the kernel: a test's [http] port once came back as the sandbox's
 * [rpc] port, the daemon failed to bind the second, and the test file hung).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the kernel kept offering ports this process already handed out');
}

function tomlValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`cannot write ${typeof v} to TOML`);
}

export function settingsToml(sections: Record<string, Record<string, unknown>>): string {
  return Object.entries(sections)
    .map(([name, keys]) => `[${name}]\n${Object.entries(keys).map(([k, v]) => `${k} = ${tomlValue(v)}`).join('\n')}\n`)
    .join('\n');
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  if (!existsSync(DAEMON_ENTRY)) throw new Error(`${DAEMON_ENTRY} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(path.join(tmpdir(), 'mostrod-sandbox-'));
  // What is started here is closed again if a later step fails: a listener left open keeps the
  // test file's process alive after its tests, and the test runner waits for it forever.
  const opened: Array<{ close(): Promise<void> }> = [];
  const closeOpened = async (): Promise<void> => {
    await Promise.allSettled(opened.map((o) => o.close()));
    if (opts.keepDir !== true) rmSync(dir, { recursive: true, force: true });
  };
  const open = async <T extends { close(): Promise<void> }>(start: () => Promise<T>): Promise<T> => {
    try {
      const o = await start();
      opened.push(o);
      return o;
    } catch (err) {
      await closeOpened();
      throw err;
    }
  };
  const relay = await open(() => startRelay());
  const sim = await open(() => startLndSim());
  const prices = await open(() => PriceServer.start({ USD: 100_000, EUR: 90_000, VES: 5_000_000_000, ARS: 100_000_000 }));
  const lnurl = await open(() =>
    startLnurlServer({
      network: sim.network,
      issueInvoice: (amountMsat, _user, descriptionHash) => sim.createPayeeInvoice({ amountMsat, descriptionHash }).paymentRequest,
    }),
  );
  const nodeSecretKey = generateSecretKey();
  const nodePubkey = getPublicKey(nodeSecretKey);
  const rpcPort = await freePort();
  const logFile = path.join(dir, 'mostrod.log');

  const base: Record<string, Record<string, unknown>> = {
    lightning: {
      lnd_cert_file: sim.certPath,
      lnd_macaroon_file: sim.macaroonPath,
      lnd_grpc_host: sim.grpcHost,
      invoice_expiration_window: 3600,
      hold_invoice_cltv_delta: 144,
      hold_invoice_expiration_window: 300,
      payment_attempts: 3,
      payment_retries_interval: 60,
    },
    nostr: { nsec_privkey: bytesToHex(nodeSecretKey), relays: [relay.url] },
    mostro: {
      fee: 0.006,
      max_routing_fee: 0.002,
      max_order_amount: 1_000_000,
      min_payment_amount: 100,
      expiration_hours: 24,
      max_expiration_days: 15,
      expiration_seconds: 900,
      user_rates_sent_interval_seconds: 3600,
      publish_relays_interval: 60,
      pow: 0,
      publish_mostro_info_interval: 300,
      bitcoin_price_api_url: prices.url,
      fiat_currencies_accepted: ['USD', 'EUR', 'ARS', 'VES'],
      max_orders_per_response: 10,
      dev_fee_percentage: 0.3,
      name: 'Mostro sandbox',
      dev_fee_lightning_address: lnurl.address('devfund'),
      lnurl_allow_private_hosts: true,
    },
    database: { url: 'sqlite://mostro.db' },
    rpc: { enabled: true, listen_address: '127.0.0.1', port: rpcPort },
    expiration: { order_days: 30, rating_days: 90, dispute_days: 90, fee_audit_days: 365 },
  };
  for (const [section, keys] of Object.entries(opts.settings ?? {})) base[section] = { ...(base[section] ?? {}), ...keys };
  // The ports the sandbox picked itself (not given in opts.settings): picked free, then released
  // until the daemon binds them, so another process can take one meanwhile. The first start then
  // picks again (below); a later restart keeps them (a client may hold them).
  const ownRpcPort = opts.settings?.['rpc']?.['port'] === undefined;
  const writeSettings = (): void => {
    if (ownRpcPort) base['rpc'] = { ...base['rpc'], port: sandbox.rpcPort };
    if (sandbox.httpPort !== null) base['http'] = { ...base['http'], enabled: true, listen_address: '127.0.0.1', port: sandbox.httpPort };
    writeFileSync(path.join(dir, 'settings.toml'), settingsToml(base));
  };
  let everReady = false;

  const startOnce = async (): Promise<DaemonProcess> => {
    if (sandbox.daemon !== null) throw new Error('daemon already running');
    // MOSTROD_DAEMON_NODE_OPTIONS: node flags for the daemon only (e.g. --heapsnapshot-signal for a diagnosis run)
    const daemonNodeOptions = process.env['MOSTROD_DAEMON_NODE_OPTIONS'];
    // MOSTROD_DAEMON_ENV: extra `NAME=value` pairs (space-separated) for the daemon's environment
    // only, not the relay's or the bench's (e.g. glibc malloc variables in an A/B run)
    const daemonEnv = Object.fromEntries(
      (process.env['MOSTROD_DAEMON_ENV'] ?? '')
        .split(/\s+/)
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    // MOSTROD_DAEMON_NODE_ARGS: node/V8 flags on the daemon's command line (V8 flags such as
    // --no-short-builtin-calls are refused in NODE_OPTIONS); space-separated
    const daemonNodeArgs = (process.env['MOSTROD_DAEMON_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');
    const child = spawn(process.execPath, [...daemonNodeArgs, DAEMON_ENTRY, '-d', dir], {
      env: {
        ...process.env,
        MOSTROD_LOG_LEVEL: opts.logLevel ?? 'info',
        MOSTRO_NSEC_PRIVKEY: '',
        ...(daemonNodeOptions !== undefined ? { NODE_OPTIONS: daemonNodeOptions } : {}),
        ...daemonEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = createWriteStream(logFile, { flags: 'a' });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    if (opts.echoLogs === true) {
      child.stdout.pipe(process.stderr, { end: false });
      child.stderr.pipe(process.stderr, { end: false });
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc: DaemonProcess = { child, exited };
    sandbox.daemon = proc;
    try {
      await waitForReady(sandbox, proc);
    } catch (err) {
      // exited: nothing to stop (one still running is stopped by close())
      if (child.exitCode !== null || child.signalCode !== null) sandbox.daemon = null;
      throw err;
    }
    return proc;
  };

  const sandbox: Sandbox = {
    dir,
    relay,
    sim,
    prices,
    lnurl,
    nodeSecretKey,
    nodePubkey,
    rpcPort,
    httpPort: opts.http === true ? await freePort() : null,
    logFile,
    daemon: null,
    async startDaemon() {
      for (let attempt = 1; ; attempt++) {
        const logFrom = existsSync(logFile) ? statSync(logFile).size : 0;
        try {
          const proc = await startOnce();
          everReady = true;
          return proc;
        } catch (err) {
          // A port the sandbox picked was taken before the daemon bound it: pick again.
          const tail = `${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(logFrom) : ''}\n${String(err)}`;
          const taken = (port: number | null) => port !== null && tail.includes(`failed to bind 127.0.0.1:${port}`);
          if (everReady || attempt >= 3 || sandbox.daemon !== null || !((ownRpcPort && taken(sandbox.rpcPort)) || taken(sandbox.httpPort))) throw err;
          if (ownRpcPort && taken(sandbox.rpcPort)) sandbox.rpcPort = await freePort();
          if (taken(sandbox.httpPort)) sandbox.httpPort = await freePort();
          writeSettings();
        }
      }
    },
    async stopDaemon(signal: NodeJS.Signals = 'SIGTERM') {
      const d = sandbox.daemon;
      if (d === null) return null;
      d.child.kill(signal);
      // The daemon bounds every shutdown step (about two minutes in all); one still running past
      // that is a failure to report, not a wait that keeps the test file alive forever.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_BOUND_MS);
      });
      const code = await Promise.race([d.exited, bound]).finally(() => clearTimeout(timer));
      if (code === 'timeout') {
        d.child.kill('SIGKILL');
        await d.exited;
        sandbox.daemon = null;
        throw new Error(`daemon still running ${STOP_BOUND_MS} ms after ${signal}; killed. log:\n${readFileSync(logFile, 'utf8').slice(-4000)}`);
      }
      sandbox.daemon = null;
      return code;
    },
    logs() {
      if (!existsSync(logFile)) return [];
      const lines: Array<Record<string, unknown>> = [];
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // partial line
        }
      }
      return lines;
    },
    async close() {
      await sandbox.stopDaemon('SIGTERM').catch(() => null);
      await Promise.allSettled([relay.close(), sim.close(), prices.close(), lnurl.close()]);
      if (opts.keepDir !== true) rmSync(dir, { recursive: true, force: true });
    },
  };
  writeSettings();
  if (opts.startDaemon !== false) {
    try {
      await sandbox.startDaemon();
    } catch (err) {
      // (the error carries the daemon log's tail)
      await sandbox.close();
      throw err;
    }
  }
  return sandbox;
}

/** Wait for the daemon's "ready" log line (intake subscribed), or fail if it exits first. */
async function waitForReady(sb: Sandbox, proc: DaemonProcess, timeoutMs = 20_000): Promise<void> {
  const started = performance.now(); // monotonic: a wall-clock step on the VM must not end the wait early
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  while (performance.now() - started < timeoutMs) {
    const msgs = new Set(sb.logs().map((l) => l['msg']));
    // ready (subscribed on the relay) and the LND link reconciled, so escrow work is accepted
    if (msgs.has('mostrod ready') && msgs.has('reconciliation with the lightning node done')) return;
    if (exited) throw new Error(`daemon exited before it was ready; log:\n${readFileSync(sb.logFile, 'utf8').slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`daemon not ready after ${timeoutMs} ms; log:\n${readFileSync(sb.logFile, 'utf8').slice(-4000)}`);
}
