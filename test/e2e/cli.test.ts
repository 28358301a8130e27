/**
 * The built binary's command line (DAEMON.md §1): first run writes the template and exits 0, bad
 * settings exit 1 naming the key, --help / --version, an unknown flag exits 2, SIGTERM → exit 0.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { DAEMON_ENTRY, startSandbox } from '../support/sandbox.js';
import { startE2E } from './e2e-harness.js';

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [DAEMON_ENTRY, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, MOSTRO_NSEC_PRIVKEY: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

void describe('e2e: mostrod command line (built daemon)', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mostrod-cli-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  void test('first run writes settings.toml from the template (0600) and exits 0', () => {
    const dir = path.join(tmp, 'first');
    const r = run(['-d', dir]);
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(dir, 'settings.toml');
    assert.match(r.stdout, /Created settings file from template at .*settings\.toml/);
    const text = readFileSync(file, 'utf8');
    assert.equal(text, readFileSync(new URL('../../settings.tpl.toml', import.meta.url), 'utf8'));
    for (const section of ['[lightning]', '[nostr]', '[mostro]', '[database]', '[rpc]']) assert.ok(text.includes(section), section);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // a second run does not overwrite it (it now tries to start with the template's values)
    writeFileSync(file, text.replace(/^fee = .*$/m, 'fee = "lots"'));
    const again = run(['-d', dir]);
    assert.equal(again.code, 1);
    assert.ok(readFileSync(file, 'utf8').includes('fee = "lots"'), 'the edited file is kept');
  });

  void test('bad settings: exit 1 and the message names the section and key', () => {
    const dir = path.join(tmp, 'bad');
    assert.equal(run(['-d', dir]).code, 0);
    const file = path.join(dir, 'settings.toml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^fee = .*$/m, 'fee = "lots"'));
    const r = run(['-d', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid configuration/);
    assert.match(r.stderr, /\[mostro\] fee/);
    assert.equal(r.stdout, '');

    writeFileSync(file, 'this is = = not toml\n');
    const r2 = run(['-d', dir]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /settings\.toml/);
  });

  void test('--help and -h print usage to stdout and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = run([flag]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Usage: mostrod/);
      assert.match(r.stdout, /--dirsettings|-d, --dirsettings/);
      assert.match(r.stdout, /--version/);
    }
  });

  void test('--version and -V print the version and exit 0', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = run([flag]);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.includes(pkg.version), r.stdout);
    }
  });

  void test('an unknown argument is a usage error (exit 2, stderr)', () => {
    const r = run(['--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unexpected argument '--bogus'/);
  });

  void test('a running daemon exits 0 on SIGTERM, and never loaded undici', async () => {
    // The built-ins the whole run loaded, written at exit by a preload (test/fixtures). On Node 22+
    // an ES import of node:http loads undici (src/node-http.ts); the bundle must not bring it back.
    const loadedOut = path.join(tmp, 'loaded-builtins.json');
    const preload = new URL('../fixtures/loaded-builtins.mjs', import.meta.url).href;
    process.env['MOSTROD_DAEMON_NODE_OPTIONS'] = `--import=${preload}`;
    process.env['MOSTROD_TEST_LOADED_OUT'] = loadedOut;
    let e;
    try {
      e = await startE2E();
    } finally {
      delete process.env['MOSTROD_DAEMON_NODE_OPTIONS'];
      delete process.env['MOSTROD_TEST_LOADED_OUT'];
    }
    try {
      assert.ok(e.sb.daemon !== null);
      const code = await e.sb.stopDaemon('SIGTERM');
      assert.equal(code, 0);
      assert.ok(e.sb.logs().some((l) => l['msg'] === 'shutdown complete' && l['code'] === 0), 'shutdown complete logged');
    } finally {
      await e.close();
    }
    const builtins = JSON.parse(readFileSync(loadedOut, 'utf8')) as string[];
    assert.ok(builtins.includes('http') && builtins.includes('https'), `premise: the daemon loaded http and https (${builtins.join(' ')})`);
    assert.ok(!builtins.includes('internal/deps/undici/undici'), 'the daemon loaded undici');
  });

  void test('a port another process holds: the daemon exits 1 at once naming the address; the sandbox closes what it opened', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const listeners = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = listeners();
    try {
      const started = performance.now();
      await assert.rejects(startSandbox({ settings: { http: { enabled: true, listen_address: '127.0.0.1', port } } }), (err: unknown) => {
        assert.match(String(err), /daemon exited before it was ready/);
        assert.match(String(err), new RegExp(`\\[http\\] listener failed to bind 127\\.0\\.0\\.1:${port} \\(\\[http\\] listen_address, port\\): listen EADDRINUSE: address already in use`));
        return true;
      });
      assert.ok(performance.now() - started < 15_000, 'the daemon did not wait for anything once the bind failed');
      // The relay, LND simulator, price and LNURL servers the sandbox had started are closed again:
      // none is left to keep this test file's process alive after its tests.
      // (a closed server leaves the list when its handle's close completes: a few ticks later)
      const deadline = performance.now() + 5_000;
      while (listeners() > before && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(listeners(), before, 'listeners left open by the failed sandbox');
    } finally {
      blocker.close();
    }
  });

  void test('a port the sandbox picked, taken by another process before the first start: the sandbox picks again', async () => {
    const sb = await startSandbox({ startDaemon: false, http: true });
    const blockers = [createServer(), createServer()];
    try {
      const taken = [sb.rpcPort, sb.httpPort ?? 0];
      await Promise.all(blockers.map((b, i) => new Promise<void>((r) => b.listen(taken[i], '127.0.0.1', () => r()))));
      await sb.startDaemon();
      assert.ok(!taken.includes(sb.rpcPort) && !taken.includes(sb.httpPort ?? 0), `new ports ${sb.rpcPort} / ${sb.httpPort}`);
      const settings = readFileSync(path.join(sb.dir, 'settings.toml'), 'utf8');
      assert.match(settings, new RegExp(`\\[rpc\\][^[]*port = ${sb.rpcPort}\\n`));
      assert.match(settings, new RegExp(`\\[http\\][^[]*port = ${sb.httpPort}\\n`));
      const health = await fetch(`http://127.0.0.1:${sb.httpPort}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(sb.logs().some((l) => l['msg'] === 'RPC server listening' && l['port'] === sb.rpcPort));
    } finally {
      for (const b of blockers) b.close();
      await sb.close();
    }
  });
});
