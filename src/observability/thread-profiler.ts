/**
 * Sampling CPU profiler for a crypto-pool thread, for bench/profile.ts (diagnosis only; nothing
 * runs unless MOSTROD_PROFILE_DIR is set). The main thread's profiler is a preload
 * (bench/profile-preload.mjs), which piscina's threads do not load, and whose timers could not fire
 * there anyway: between tasks a piscina thread blocks in Atomics.wait. So the thread checks for the
 * bench's start file from its task entry (at most every 100 ms), and starts and stops the profiler
 * there; an in-thread inspector session answers synchronously.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { threadId } from 'node:worker_threads';

export interface ThreadProfiler {
  /** Called at the start of each task: starts or stops the profile when it is time. */
  tick(): void;
}

export function threadProfilerFromEnv(env: NodeJS.ProcessEnv = process.env): ThreadProfiler | undefined {
  const dir = env['MOSTROD_PROFILE_DIR'];
  if (dir === undefined || dir === '') return undefined;
  const seconds = Number(env['MOSTROD_PROFILE_SECONDS'] ?? '8');
  let nextCheck = 0;
  let stopAt = 0;
  let session: Session | undefined;
  let done = false;
  return {
    tick(): void {
      if (done) return;
      const now = Date.now();
      if (now < nextCheck) return;
      nextCheck = now + 100;
      if (session === undefined) {
        if (!existsSync(`${dir}/start`)) return;
        session = new Session();
        session.connect();
        session.post('Profiler.enable');
        session.post('Profiler.setSamplingInterval', { interval: 500 });
        session.post('Profiler.start');
        stopAt = now + seconds * 1000;
        return;
      }
      if (now < stopAt) return;
      done = true;
      const s = session;
      s.post('Profiler.stop', (err, r) => {
        if (err === null) writeFileSync(`${dir}/${process.pid}-${threadId}.cpuprofile`, JSON.stringify(r.profile));
        s.disconnect();
      });
    },
  };
}
