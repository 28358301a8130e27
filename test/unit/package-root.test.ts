import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packageFile, packageRoot } from '../../src/package-root.js';

void test('packageRoot is the directory of the package.json above the module (the repository root here)', () => {
  const root = packageRoot();
  assert.equal(root.href, new URL('../../', import.meta.url).href);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { name?: string };
  assert.equal(pkg.name, 'mostrod');
  assert.equal(packageRoot(), root, 'computed once');
});

void test('packageFile resolves the files the daemon reads at run time', () => {
  for (const f of ['settings.tpl.toml', 'proto/admin.proto', 'proto/operator.proto', 'package.json']) {
    assert.ok(existsSync(packageFile(f)), f);
  }
  assert.ok(statSync(fileURLToPath(packageFile('migrations/'))).isDirectory());
});
