import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { HEAP_GROWING_PERCENT, missingNodeFlags, NEW_SPACE_CAP_BYTES, SHIPPED_NODE_FLAGS, TURBOFAN_THREADS, v8MemoryPlan } from '../../src/v8-memory.js';

const V8_MEMORY = fileURLToPath(new URL('../../src/v8-memory.ts', import.meta.url));

/** V8 of Node 22 (has --concurrent-turbofan-max-threads) and of Node 20 (does not). */
const V8_NODE22 = '12.4.254.21-node.33';
const V8_NODE20 = '11.3.244.8-node.38';

void test('v8MemoryPlan: every part by default; an operator flag (argv or NODE_OPTIONS, - or _) turns its part off', () => {
  const both = { heapGrowingPercent: HEAP_GROWING_PERCENT, newSpaceCapBytes: NEW_SPACE_CAP_BYTES, noShortBuiltinCalls: true, flushBaselineCode: true, turbofanThreads: TURBOFAN_THREADS };
  const cases: Array<[string[], string | undefined, { heapGrowingPercent: number | null; newSpaceCapBytes: number | null; noShortBuiltinCalls: boolean; flushBaselineCode: boolean; turbofanThreads: number | null }]> = [
    [[], undefined, both],
    [['--enable-source-maps'], '--max-old-space-size=512', both],
    [['--max-semi-space-size=4'], undefined, { ...both, newSpaceCapBytes: null }],
    [[], '--trace-warnings --max-semi-space-size=4', { ...both, newSpaceCapBytes: null }],
    [['--max_semi_space_size', '4'], undefined, { ...both, newSpaceCapBytes: null }],
    [['--semi-space-growth-factor=3'], undefined, { ...both, newSpaceCapBytes: null }],
    [['--heap-growing-percent=50'], undefined, { ...both, heapGrowingPercent: null }],
    [['--heap_growing_percent=50', '--max-semi-space-size=2'], undefined, { ...both, heapGrowingPercent: null, newSpaceCapBytes: null }],
    [['--short-builtin-calls'], undefined, { ...both, noShortBuiltinCalls: false }],
    [['--no_short_builtin_calls'], undefined, { ...both, noShortBuiltinCalls: false }],
    [['--no-flush-baseline-code'], undefined, { ...both, flushBaselineCode: false }],
    [['--flush_baseline_code'], undefined, { ...both, flushBaselineCode: false }],
    [['--concurrent-turbofan-max-threads=4'], undefined, { ...both, turbofanThreads: null }],
    [[], '--concurrent_turbofan_max_threads=0', { ...both, turbofanThreads: null }],
  ];
  for (const [argv, nodeOptions, want] of cases) assert.deepEqual(v8MemoryPlan(argv, nodeOptions, V8_NODE22), want, `${argv.join(' ')} | ${nodeOptions}`);
  assert.equal(v8MemoryPlan([], undefined, V8_NODE20).turbofanThreads, null, "Node 20's V8 lacks the flag");
  assert.equal(v8MemoryPlan([], undefined, '13.6.233.17-node.37').turbofanThreads, TURBOFAN_THREADS, "Node 24's V8");
});

void test('applyV8MemoryPlan: every flag of the plan is one this V8 knows (it prints "unrecognized flag" otherwise)', () => {
  const script = `
import { applyV8MemoryPlan, v8MemoryPlan } from ${JSON.stringify(V8_MEMORY)};
const plan = v8MemoryPlan([], undefined);
applyV8MemoryPlan(plan);
process.stdout.write('\\nPLAN ' + JSON.stringify(plan) + '\\n');
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /unrecognized flag/i);
  const line = /^PLAN (\{.*\})$/m.exec(r.stdout);
  assert.ok(line, r.stdout);
  const plan = JSON.parse(line[1]!) as { turbofanThreads: number | null };
  const major = Number.parseInt(process.versions.v8, 10);
  assert.equal(plan.turbofanThreads, major >= 12 ? TURBOFAN_THREADS : null, `V8 ${process.versions.v8}`);
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

void test('missingNodeFlags: the shipped flags the command line lacks; either form of a flag counts as chosen', () => {
  assert.deepEqual(SHIPPED_NODE_FLAGS, ['--no-short-builtin-calls']);
  assert.deepEqual(missingNodeFlags([]), ['--no-short-builtin-calls']);
  assert.deepEqual(missingNodeFlags(['--enable-source-maps']), ['--no-short-builtin-calls']);
  assert.deepEqual(missingNodeFlags(['--no-short-builtin-calls']), []);
  assert.deepEqual(missingNodeFlags(['--no_short_builtin_calls']), []);
  assert.deepEqual(missingNodeFlags(['--short-builtin-calls']), [], 'the operator chose it');
});

void test('contrib/mostrod.service and the Dockerfile start node with exactly the shipped flags', () => {
  const root = new URL('../../', import.meta.url);
  const unit = readFileSync(new URL('contrib/mostrod.service', root), 'utf8');
  const docker = readFileSync(new URL('Dockerfile', root), 'utf8');
  const flags = SHIPPED_NODE_FLAGS.join(' ');
  assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${flags} /opt/mostrod/dist/main\\.js `, 'm'));
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(docker);
  assert.ok(entry, 'Dockerfile ENTRYPOINT');
  assert.deepEqual(JSON.parse(entry[1]!), ['node', ...SHIPPED_NODE_FLAGS, '/app/dist/main.js']);
});

/**
 * Copies of the node binary's builtins mapped into code ranges, in a fresh process that starts
 * `workers` worker threads (after applying the boot plan, or not). With short builtin calls V8 maps
 * the builtins' code once more into each isolate's code range: one executable mapping of the binary
 * per isolate, far from the binary's own segments (whose text the kernel may list in 3 or 4 pieces).
 */
function binaryCodeMappings(opts: { plan: boolean; workers: number; nodeFlags?: string[] }): number {
  const script = `
import { applyV8MemoryPlan, v8MemoryPlan } from ${JSON.stringify(V8_MEMORY)};
import { readFileSync, realpathSync } from 'node:fs';
if (${opts.plan}) applyV8MemoryPlan(v8MemoryPlan(process.execArgv, undefined));
const { Worker } = await import('node:worker_threads');
for (let i = 0; i < ${opts.workers}; i++) {
  const w = new Worker('setTimeout(() => {}, 10000)', { eval: true });
  await new Promise((r) => w.once('online', r));
  w.unref();
}
const exe = realpathSync(process.execPath);
const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith(exe)).map((l) => {
  const [range, perms] = l.split(/\\s+/);
  const [start, end] = range.split('-').map((x) => BigInt('0x' + x));
  return { start, end, perms };
});
// the binary's own segments end with its data segment (rw-p); a builtins copy is mapped far above
const dataEnd = maps.find((m) => m.perms.startsWith('rw'))?.end ?? 0n;
process.stdout.write(String(maps.filter((m) => m.perms.includes('x') && m.start >= dataEnd).length));
process.exit(0);
`;
  const r = spawnSync(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

void test('the boot plan turns short builtin calls off for the isolates made after it; the shipped flag for the main one', { skip: process.platform !== 'linux' || process.arch !== 'x64' }, (t) => {
  const bare = binaryCodeMappings({ plan: false, workers: 0 });
  if (bare === 0) {
    t.skip('V8 makes short builtin calls only on machines with at least 4 GB of memory');
    return;
  }
  // premise: every isolate maps the builtins once more
  assert.equal(binaryCodeMappings({ plan: false, workers: 2 }), bare + 2, 'test premise: two workers add two mappings without the plan');
  assert.equal(binaryCodeMappings({ plan: true, workers: 2 }), bare, 'with the plan the workers add none');
  // with the shipped flag the isolates made before the plan map none either: the main one (and on
  // Node 20 the loader hooks' thread of --import tsx)
  const shipped = binaryCodeMappings({ plan: false, workers: 0, nodeFlags: [...SHIPPED_NODE_FLAGS] });
  assert.ok(shipped < bare, `the shipped flag: ${shipped} copies, without it ${bare}`);
  assert.equal(binaryCodeMappings({ plan: true, workers: 2, nodeFlags: [...SHIPPED_NODE_FLAGS] }), shipped);
});

/**
 * In a fresh process: a function compiled to baseline (Sparkplug) code, then left alone through
 * major collections that the allocation brings (V8 ages code only in those, not in forced ones).
 * Returns whether it still has baseline code.
 */
function baselineKeptAfterColdGcs(applyPlan: boolean): boolean {
  const script = `
import { PerformanceObserver } from 'node:perf_hooks';
import { constants } from 'node:perf_hooks';
import { applyV8MemoryPlan, v8MemoryPlan } from ${JSON.stringify(V8_MEMORY)};
if (${applyPlan}) applyV8MemoryPlan(v8MemoryPlan([], undefined));
// V8 intrinsics through the Function constructor: the module text itself goes through tsx.
const compileBaseline = new Function('f', '%CompileBaseline(f);');
const isBaseline = new Function('f', 'return %ActiveTierIsSparkplug(f);');
function cold(a, b) { return a * b + a - b; }
compileBaseline(cold);
cold(1, 2);
if (!isBaseline(cold)) throw new Error('premise: cold has no baseline code');
let majors = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
}).observe({ entryTypes: ['gc'] });
let keep = [];
for (let round = 0; round < 5000 && majors < 12; round++) {
  for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x' + i });
  if (keep.length > 200000) keep = [];
  await new Promise((r) => setImmediate(r));
}
if (majors < 12) throw new Error('premise: only ' + majors + ' major collections');
process.stdout.write(String(isBaseline(cold)));
`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout === 'true';
}

void test('the boot plan lets major collections drop the baseline code of a function gone cold (V8 keeps it by default)', () => {
  assert.equal(baselineKeptAfterColdGcs(false), true, 'premise: without the plan V8 keeps baseline code');
  assert.equal(baselineKeptAfterColdGcs(true), false);
});
