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

void describe('[mostro] per-user limits against book abuse', () => {
  const withMostro = (lines: string): string => templateText().replace(/^\[mostro\]\n/m, `[mostro]\n${lines}\n`);

  void test('absent: off (0), the window 24 h; the template documents them (commented out)', () => {
    const s = parseSettings(templateText(), ENV);
    assert.deepEqual(
      [s.mostro.max_pending_orders_per_user, s.mostro.max_abandoned_takes, s.mostro.abandoned_takes_window_hours, s.mostro.unrated_orders_per_minute, s.mostro.unrated_takes_per_minute],
      [0, 0, 24, 0, 0],
    );
    const t = templateText();
    assert.match(t, /^# unrated_orders_per_minute = 0$/m);
    assert.match(t, /^# unrated_takes_per_minute = 0$/m);
    assert.match(t, /^# max_pending_orders_per_user = 0$/m);
    assert.match(t, /^# max_abandoned_takes = 0$/m);
    assert.match(t, /^# abandoned_takes_window_hours = 24$/m);
  });

  void test('set', () => {
    const s = parseSettings(withMostro('max_pending_orders_per_user = 5\nmax_abandoned_takes = 3\nabandoned_takes_window_hours = 6\nunrated_orders_per_minute = 20\nunrated_takes_per_minute = 30'), ENV);
    assert.deepEqual(
      [s.mostro.max_pending_orders_per_user, s.mostro.max_abandoned_takes, s.mostro.abandoned_takes_window_hours, s.mostro.unrated_orders_per_minute, s.mostro.unrated_takes_per_minute],
      [5, 3, 6, 20, 30],
    );
  });

  void test('refused at startup, naming the key', () => {
    assert.match(configError(withMostro('abandoned_takes_window_hours = 0')), /\[mostro\] abandoned_takes_window_hours: must be at least 1/);
    assert.match(configError(withMostro('max_abandoned_takes = -1')), /\[mostro\] max_abandoned_takes/);
    assert.match(configError(withMostro('max_pending_orders_per_user = 1.5')), /\[mostro\] max_pending_orders_per_user/);
    assert.match(configError(withMostro('unrated_orders_per_minute = -5')), /\[mostro\] unrated_orders_per_minute/);
    assert.match(configError(withMostro('unrated_takes_per_minute = "ten"')), /\[mostro\] unrated_takes_per_minute/);
  });
});
