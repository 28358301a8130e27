import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readyzUrl } from '../../../src/tools/readyz-probe.js';

void describe('readyz-probe: the /readyz URL from [http]', () => {
  void test('loopback for wildcard addresses, the configured port, brackets for IPv6', () => {
    assert.deepEqual(readyzUrl('[http]\nenabled = true\nport = 9500\n'), { url: 'http://127.0.0.1:9500/readyz' });
    assert.deepEqual(readyzUrl('[http]\nenabled = true\nlisten_address = "0.0.0.0"\n'), { url: 'http://127.0.0.1:9464/readyz' });
    assert.deepEqual(readyzUrl('[http]\nenabled = true\nlisten_address = "[::]"\n'), { url: 'http://[::1]:9464/readyz' });
    assert.deepEqual(readyzUrl('[http]\nenabled = true\nlisten_address = "10.0.0.5"\nport = 80\n'), { url: 'http://10.0.0.5:80/readyz' });
  });

  void test('a disabled or absent listener, or bad TOML, is an error naming why', () => {
    assert.deepEqual(readyzUrl('[mostro]\nfee = 0\n'), { error: '[http] enabled = false: no /readyz to probe' });
    assert.deepEqual(readyzUrl('[http]\nenabled = false\n'), { error: '[http] enabled = false: no /readyz to probe' });
    assert.match((readyzUrl('[http\n') as { error: string }).error, /^settings\.toml: /);
    assert.match((readyzUrl('[http]\nenabled = true\nport = 99999\n') as { error: string }).error, /^\[http\]: 99999 exceeds the u16 maximum/);
  });
});
