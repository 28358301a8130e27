import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings, templateText } from '../../../src/config/settings.js';
import { ConfigError } from '../../../src/errors.js';

const ENV = { MOSTRO_NSEC_PRIVKEY: '11'.repeat(32) };

function withTemplate(extra: string, rpcLine = ''): string {
  const t = templateText().replace(/^\[rpc\]\n/m, `[rpc]\n${rpcLine}`);
  return `${t}\n${extra}\n`;
}

function configError(text: string): string {
  try {
    parseSettings(text, ENV);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('parsed');
}

void describe('[rpc] auth_token_file and [backup] settings', () => {
  void test('absent: no token, no scheduled backups, keep 7', () => {
    const s = parseSettings(templateText(), ENV);
    assert.equal(s.rpc.auth_token_file, undefined);
    assert.deepEqual(s.backup, { keep: 7 });
  });

  void test('the template documents both (commented out)', () => {
    const t = templateText();
    assert.match(t, /^# auth_token_file = "rpc-token"$/m);
    assert.match(t, /^# \[backup\]\n# schedule = "0 3 \* \* \*"\n# dir = "backups"\n# keep = 7$/m);
  });

  void test('set', () => {
    const s = parseSettings(withTemplate('[backup]\nschedule = "*/30 2 * * *"\ndir = "/var/backups/mostro"\nkeep = 3', 'auth_token_file = "rpc-token"\n'), ENV);
    assert.equal(s.rpc.auth_token_file, 'rpc-token');
    assert.deepEqual(s.backup, { schedule: '*/30 2 * * *', dir: '/var/backups/mostro', keep: 3 });
  });

  void test('refused at startup, naming the key', () => {
    assert.match(configError(withTemplate('[backup]\nschedule = "every night"')), /\[backup\] schedule: must be a cron expression/);
    assert.match(configError(withTemplate('[backup]\nschedule = "0 3 * * *"\nkeep = 0')), /\[backup\] keep: must be at least 1/);
    assert.match(configError(withTemplate('', 'auth_token_file = ""\n')), /\[rpc\] auth_token_file/);
  });
});
