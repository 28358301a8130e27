import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HEAP_GROWING_PERCENT, NEW_SPACE_CAP_BYTES, v8MemoryPlan } from '../../src/v8-memory.js';

const V8_MEMORY = fileURLToPath(new URL('../../src/v8-memory.ts', import.meta.url));

void test('v8MemoryPlan: both limits by default; an operator flag (argv or NODE_OPTIONS, - or _) turns its part off', () => {
  const both = { heapGrowingPercent: HEAP_GROWING_PERCENT, newSpaceCapBytes: NEW_SPACE_CAP_BYTES };
  const cases: Array<[string[], string | undefined, { heapGrowingPercent: number | null; newSpaceCapBytes: number | null }]> = [
    [[], undefined, both],
    [['--enable-source-maps'], '--max-old-space-size=512', both],
    [['--max-semi-space-size=4'], undefined, { ...both, newSpaceCapBytes: null }],
    [[], '--trace-warnings --max-semi-space-size=4', { ...both, newSpaceCapBytes: null }],
    [['--max_semi_space_size', '4'], undefined, { ...both, newSpaceCapBytes: null }],
    [['--semi-space-growth-factor=3'], undefined, { ...both, newSpaceCapBytes: null }],
    [['--heap-growing-percent=50'], undefined, { ...both, heapGrowingPercent: null }],
    [['--heap_growing_percent=50', '--max-semi-space-size=2'], undefined, { heapGrowingPercent: null, newSpaceCapBytes: null }],
  ];
  for (const [argv, nodeOptions, want] of cases) assert.deepEqual(v8MemoryPlan(argv, nodeOptions), want, `${argv.join(' ')} | ${nodeOptions}`);
});

/** New-space size (MB) after allocating with survivors, in a fresh process, with or without the cap. */
function newSpaceAfterLoad(capped: boolean): number {
  const script = `
import v8 from 'node:v8';
import { applyV8MemoryPlan, v8MemoryPlan } from ${JSON.stringify(V8_MEMORY)};
if (${capped}) applyV8MemoryPlan(v8MemoryPlan([], undefined)).startGrowing();
const keep = [];
for (let round = 0; round < 40; round++) {
  for (let i = 0; i < 50000; i++) { const o = { i, s: 'x' + i }; if (i % 50 === 0) keep.push(o); }
  if (keep.length > 20000) keep.splice(0, 10000);
  await new Promise((r) => setImmediate(r));
}
const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(ns.space_size / 1048576));
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

void test('applyV8MemoryPlan: the young generation stays within its cap where V8 alone grows it past', () => {
  const capMb = NEW_SPACE_CAP_BYTES / 1048576;
  const uncapped = newSpaceAfterLoad(false);
  const capped = newSpaceAfterLoad(true);
  assert.ok(uncapped > capMb, `V8 default grew the new space to ${uncapped} MB (test premise: > ${capMb})`);
  assert.ok(capped <= capMb, `capped new space ${capped} MB > ${capMb}`);
});
