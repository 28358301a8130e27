// Preload for bench/profile.ts: sampling profiler in every thread of the daemon (see there).
// MOSTROD_PROFILE_KIND=alloc: V8's sampling heap profiler instead, counting the objects collected
// since (young and old generation) as well as the live ones, i.e. where the garbage is allocated.
import { Session } from 'node:inspector';
import { existsSync, writeFileSync } from 'node:fs';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { threadId } from 'node:worker_threads';
const dir = process.env.MOSTROD_PROFILE_DIR;
const seconds = Number(process.env.MOSTROD_PROFILE_SECONDS ?? '8');
const alloc = process.env.MOSTROD_PROFILE_KIND === 'alloc';
if (dir) {
  const poll = setInterval(() => {
    if (!existsSync(`${dir}/start`)) return;
    clearInterval(poll);
    const s = new Session();
    s.connect();
    const stopAfter = (method, write) =>
      setTimeout(() => {
        s.post(method, (err, r) => {
          if (err) writeFileSync(`${dir}/${process.pid}-${threadId}.error`, String(err.message ?? err));
          else write(r.profile);
        });
      }, seconds * 1000).unref();
    if (alloc) {
      s.post('HeapProfiler.enable', () =>
        s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, (err) =>
          err ? writeFileSync(`${dir}/${process.pid}-${threadId}.error`, String(err.message ?? err)) :
          stopAfter('HeapProfiler.stopSampling', (p) => writeFileSync(`${dir}/${process.pid}-${threadId}.heapprofile`, JSON.stringify(p))),
        ),
      );
      return;
    }
    s.post('Profiler.enable', () =>
      s.post('Profiler.setSamplingInterval', { interval: 500 }, () =>
        s.post('Profiler.start', () => stopAfter('Profiler.stop', (p) => writeFileSync(`${dir}/${process.pid}-${threadId}.cpuprofile`, JSON.stringify(p)))),
      ),
    );
  }, 100);
  poll.unref();
}
