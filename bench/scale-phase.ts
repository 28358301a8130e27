/**
 * Scale phase: the DB benchmark child for N orders, then the built daemon started on a copy of
 * that database (time to ready, RSS at ready and after a few idle seconds).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHarness, rssMb, type BenchRelay } from './harness.js';
import { round } from './stats.js';

const CHILD = fileURLToPath(new URL('./scale-child.ts', import.meta.url));

export interface ScaleResult {
  orders: number;
  db: Record<string, unknown>;
  daemon: { readyMs: number; rssAtReadyMb: number; rssIdleMb: number };
}

function runChild(file: string, orders: number, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, '--file', file, '--orders', String(orders)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`scale child for ${orders} orders exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>);
    });
  });
}

export async function scalePhase(orders: number, relay: BenchRelay, timeoutMs: number): Promise<ScaleResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mostrod-bench-scale-'));
  try {
    const file = path.join(dir, 'mostro.db');
    const db = await runChild(file, orders, timeoutMs);
    const h = await startHarness({ pow: 0, relay, dbFile: file });
    try {
      const rssAtReadyMb = rssMb(h.pid);
      await new Promise((r) => setTimeout(r, 3000));
      return { orders, db, daemon: { readyMs: round(h.readyMs, 0), rssAtReadyMb, rssIdleMb: rssMb(h.pid) } };
    } finally {
      await h.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
