import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { threadProfilerFromEnv } from '../../../src/observability/thread-profiler.js';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

void test('thread profiler: off without MOSTROD_PROFILE_DIR', () => {
  assert.equal(threadProfilerFromEnv({}), undefined);
  assert.equal(threadProfilerFromEnv({ MOSTROD_PROFILE_DIR: '' }), undefined);
});

void test('thread profiler: waits for the start file, then writes one profile after its seconds', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'thread-profiler-'));
  try {
    const p = threadProfilerFromEnv({ MOSTROD_PROFILE_DIR: dir, MOSTROD_PROFILE_SECONDS: '0.2' })!;
    p.tick();
    await pause(120);
    p.tick(); // no start file yet: nothing starts
    writeFileSync(path.join(dir, 'start'), '');
    await pause(120);
    p.tick(); // starts
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i); // something to sample
    await pause(250);
    p.tick(); // stops and writes
    p.tick();
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    assert.equal(files.length, 1, `${files.join(', ')} (${x > 0})`);
    assert.match(files[0]!, new RegExp(`^${process.pid}-\\d+\\.cpuprofile$`));
    const profile = JSON.parse(readFileSync(path.join(dir, files[0]!), 'utf8')) as { nodes: unknown[]; samples: unknown[] };
    assert.ok(profile.nodes.length > 0 && profile.samples.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
