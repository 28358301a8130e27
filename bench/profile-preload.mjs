// Preload for bench/profile.ts: sampling profiler in every thread of the daemon (see there).
import { Session } from 'node:inspector';
import { existsSync, writeFileSync } from 'node:fs';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { threadId } from 'node:worker_threads';
const dir = process.env.MOSTROD_PROFILE_DIR;
const seconds = Number(process.env.MOSTROD_PROFILE_SECONDS ?? '8');
if (dir) {
  const poll = setInterval(() => {
    if (!existsSync(`${dir}/start`)) return;
    clearInterval(poll);
    const s = new Session();
    s.connect();
    s.post('Profiler.enable', () =>
      s.post('Profiler.setSamplingInterval', { interval: 500 }, () =>
        s.post('Profiler.start', () => {
          setTimeout(() => {
            s.post('Profiler.stop', (err, r) => {
              if (!err) writeFileSync(`${dir}/${process.pid}-${threadId}.cpuprofile`, JSON.stringify(r.profile));
            });
          }, seconds * 1000).unref();
        }),
      ),
    );
  }, 100);
  poll.unref();
}
