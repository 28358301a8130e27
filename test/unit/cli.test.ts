import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from '../../src/cli.js';

const home = () => '/home/alice';

void test('no arguments → ~/.mostro', () => {
  assert.deepEqual(parseCli([], home), { dir: '/home/alice/.mostro' });
});

void test('-d and --dirsettings (separate, = and attached forms) are used verbatim', () => {
  assert.deepEqual(parseCli(['-d', '/test/path'], home), { dir: '/test/path' });
  assert.deepEqual(parseCli(['--dirsettings', '/test/path'], home), { dir: '/test/path' });
  assert.deepEqual(parseCli(['--dirsettings=rel/dir'], home), { dir: 'rel/dir' });
  assert.deepEqual(parseCli(['-d/x'], home), { dir: '/x' });
  assert.deepEqual(parseCli(['-d=/y'], home), { dir: '/y' });
});

void test('--help / -h print usage and exit 0', () => {
  for (const a of ['--help', '-h']) {
    const r = parseCli([a], home);
    assert.ok('exit' in r);
    assert.equal(r.exit, 0);
    assert.match(r.output, /--dirsettings <DIR>/);
    assert.match(r.output, /MOSTRO_NSEC_PRIVKEY/);
  }
});

void test('--version / -V print the version and exit 0', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const a of ['--version', '-V']) {
    const r = parseCli([a], home);
    assert.ok('exit' in r);
    assert.equal(r.exit, 0);
    assert.ok(r.output.includes(pkg.version));
  }
});

void test('usage errors exit 2', () => {
  for (const argv of [['--invalid'], ['positional'], ['-d'], ['--dirsettings'], ['-d', 'a', '-d', 'b'], ['-x']]) {
    const r = parseCli(argv, home);
    assert.ok('exit' in r, argv.join(' '));
    assert.equal(r.exit, 2, argv.join(' '));
    assert.match(r.output, /^error: /);
  }
});

void test('no home directory and no -d → exit 1', () => {
  const r = parseCli([], () => '');
  assert.deepEqual(r, { exit: 1, output: 'Error: Could not find home directory\n' });
});

void test('as a process: parseCli from src/cli.ts drives exit codes and streams', () => {
  // A tiny entry using parseCli the way main does (stdout on 0, stderr otherwise).
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
  const script = `import { parseCli } from ${JSON.stringify(cli)};
const r = parseCli(process.argv.slice(2));
if ('dir' in r) { console.log('DIR=' + r.dir); } else { (r.exit === 0 ? process.stdout : process.stderr).write(r.output); process.exitCode = r.exit; }`;
  const dir = mkdtempSync(join(tmpdir(), 'mostrod-cli-'));
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, script);
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], { encoding: 'utf8' });
  const ok = run('-d', dir);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), `DIR=${dir}`);
  assert.equal(existsSync(join(dir, 'settings.toml')), false, 'parsing alone writes nothing');
  const bad = run('--bogus');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unexpected argument '--bogus'/);
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: mostrod/);
});
