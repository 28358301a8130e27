import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mallocEnvReport, runsOnGlibc, SHIPPED_MALLOC_ENV } from '../../src/malloc-env.js';

const root = new URL('../../', import.meta.url);

void describe('glibc malloc settings (malloc-env.ts)', () => {
  void test('the report names what differs from the shipped settings, on glibc only', () => {
    const shipped = { ...SHIPPED_MALLOC_ENV };
    assert.deepEqual(mallocEnvReport(shipped, true), { settings: shipped, differing: [] });
    const none = mallocEnvReport({}, true);
    assert.deepEqual(none.differing, Object.keys(SHIPPED_MALLOC_ENV));
    assert.ok(Object.values(none.settings).every((v) => v === null));
    assert.deepEqual(mallocEnvReport({ ...shipped, MALLOC_ARENA_MAX: '8' }, true).differing, ['MALLOC_ARENA_MAX']);
    assert.deepEqual(mallocEnvReport({}, false).differing, [], 'musl / macOS: nothing to compare');
  });

  void test('contrib/mostrod.service and the Dockerfile set exactly the shipped values', () => {
    const unit = readFileSync(new URL('contrib/mostrod.service', root), 'utf8');
    const docker = readFileSync(new URL('Dockerfile', root), 'utf8');
    for (const [name, value] of Object.entries(SHIPPED_MALLOC_ENV)) {
      assert.match(unit, new RegExp(`^Environment=${name}=${value}$`, 'm'), `unit: ${name}`);
      assert.match(docker, new RegExp(`^ENV .*\\b${name}=${value}(\\s|$)`, 'm'), `Dockerfile: ${name}`);
    }
  });

  void test('this Linux build is recognised as glibc', { skip: process.platform !== 'linux' }, () => {
    // The CI image and this machine are Debian (glibc); a musl build would report false.
    assert.equal(runsOnGlibc(), true);
  });
});
