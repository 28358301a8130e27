import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installShutdown } from '../../src/shutdown.js';

const SHUTDOWN = fileURLToPath(new URL('../../src/shutdown.ts', import.meta.url));
const LOGGER = fileURLToPath(new URL('../../src/logger.ts', import.meta.url));

/** A daemon-shaped script: intake, one in-flight job released by a stdin line, a "DB" to close. */
function script(hang: boolean): string {
  return `import { installShutdown } from ${JSON.stringify(SHUTDOWN)};
import { createLogger } from ${JSON.stringify(LOGGER)};
const logger = createLogger({}, { pretty: false });
const say = (s) => process.stdout.write(JSON.stringify({ marker: s }) + '\\n');
let release;
const inflight = new Promise((r) => { release = r; });
process.stdin.on('data', () => release());
const keepAlive = setInterval(() => {}, 1 << 30);
installShutdown(logger, [
  { name: 'stop intake', run: async () => { clearInterval(keepAlive); say('intake-stopped'); } },
  { name: 'await in-flight', run: async () => { say('waiting'); ${hang ? 'await new Promise(() => {})' : 'await inflight'}; say('inflight-done'); } },
  { name: 'close db', run: async () => { say('db-closed'); process.stdin.destroy(); } },
]);
say('ready');
`;
}

function start(hang: boolean): { child: ChildProcess; lines: string[]; waitFor: (m: string) => Promise<void>; exited: Promise<number | null> } {
  const dir = mkdtempSync(join(tmpdir(), 'mostrod-shutdown-'));
  const file = join(dir, 'daemon.ts');
  writeFileSync(file, script(hang));
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: Array<{ m: string; resolve: () => void }> = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of waiters) if (line.includes(`"${w.m}"`)) w.resolve();
    }
  });
  const waitFor = (m: string) =>
    new Promise<void>((resolve) => {
      if (lines.some((l) => l.includes(`"${m}"`))) resolve();
      else waiters.push({ m, resolve });
    });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, waitFor, exited };
}

const markers = (lines: string[]) =>
  lines.flatMap((l) => {
    const j = JSON.parse(l) as { marker?: string };
    return j.marker ? [j.marker] : [];
  });

void test('SIGTERM: stops intake, awaits in-flight work, closes the DB, exits 0', async () => {
  const p = start(false);
  await p.waitFor('ready');
  p.child.kill('SIGTERM');
  await p.waitFor('waiting');
  assert.equal(markers(p.lines).includes('db-closed'), false, 'DB not closed while work is in flight');
  p.child.stdin?.write('go\n');
  assert.equal(await p.exited, 0);
  assert.deepEqual(markers(p.lines), ['ready', 'intake-stopped', 'waiting', 'inflight-done', 'db-closed']);
  const logs = p.lines.map((l) => JSON.parse(l) as { msg?: string; reason?: string; code?: number });
  assert.ok(logs.some((l) => l.msg === 'shutting down' && l.reason === 'SIGTERM'));
  assert.ok(logs.some((l) => l.msg === 'shutdown complete' && l.code === 0));
});

void test('a second signal while shutting down exits 1 immediately', async () => {
  const p = start(true);
  await p.waitFor('ready');
  p.child.kill('SIGINT');
  await p.waitFor('waiting');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 1);
  assert.equal(markers(p.lines).includes('db-closed'), false);
});

void test('in-process: a failing step is logged, later steps still run, exit code 1', async () => {
  const logged: string[] = [];
  const log = (_o: unknown, m?: string) => void logged.push(String(m ?? _o));
  const exits: number[] = [];
  const ran: string[] = [];
  const h = installShutdown(
    { info: log, warn: log, error: log } as never,
    [
      { name: 'a', run: async () => void ran.push('a') },
      { name: 'b', run: async () => { throw new Error('x'); } },
      { name: 'c', run: async () => void ran.push('c') },
    ],
    { signals: [], exit: (c) => void exits.push(c) },
  );
  const [c1, c2] = await Promise.all([h.shutdown('test'), h.shutdown('again')]);
  h.dispose();
  assert.deepEqual([c1, c2], [1, 1]);
  assert.deepEqual(ran, ['a', 'c']);
  assert.deepEqual(exits, [1], 'steps run once, exit called once');
  assert.ok(logged.includes('shutdown step failed'));
});
