/**
 * The bench relay's own ceiling: one publisher sends gift-wrap frames as fast as the socket takes
 * them, one subscriber receives them live; events/s from the first send to the last delivery.
 */
import { performance } from 'node:perf_hooks';
import { Conn, cpuSeconds, startBenchRelay } from './harness.js';
import { round } from './stats.js';

export interface RelayCeiling {
  verify: boolean;
  events: number;
  eventsPerSecond: number;
  relayCpuCores: number;
}

export async function relayCeiling(frames: string[], verify: boolean): Promise<RelayCeiling> {
  const relay = await startBenchRelay(verify);
  try {
    const sub = await Conn.open(relay.url);
    const pub = await Conn.open(relay.url);
    let got = 0;
    const done = new Promise<number>((resolve) => {
      sub.onFrame = (f, at) => {
        if (f.startsWith('["EVENT"') && ++got === frames.length) resolve(at);
      };
    });
    sub.send(JSON.stringify(['REQ', 'all', { kinds: [1059], limit: 0 }]));
    await new Promise((r) => setTimeout(r, 200));
    const pid = relay.child.pid ?? 0;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    for (let i = 0; i < frames.length; i++) {
      pub.send(frames[i]!);
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    const timeout = new Promise<number>((r) => setTimeout(() => r(Number.NaN), 60_000));
    const endAt = await Promise.race([done, timeout]);
    const secs = (endAt - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    sub.close();
    pub.close();
    return { verify, events: got, eventsPerSecond: round(got / secs, 0), relayCpuCores: round(cpu / secs, 2) };
  } finally {
    await relay.stop();
  }
}
