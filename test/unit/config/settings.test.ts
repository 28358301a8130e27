import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureSettingsFile,
  loadSettings,
  parseNodeSecretKey,
  parseSettings,
  redactSettings,
  templateText,
} from '../../../src/config/settings.js';
import { ConfigError } from '../../../src/errors.js';

// DAEMON.md §10 / mostrod src/config/mod.rs test fixture values.
const NSEC = 'nsec13as48eum93hkg7plv526r9gjpa0uc52zysqm93pmnkca9e69x6tsdjmdxd';
const NOSTR = `[nostr]
nsec_privkey = '${NSEC}'
relays = ['wss://relay.damus.io','wss://relay.mostro.network']`;
const LIGHTNING = `[lightning]
lnd_cert_file = '/home/user/.polar/networks/1/volumes/lnd/alice/tls.cert'
lnd_macaroon_file = '/home/user/.polar/networks/1/volumes/lnd/alice/data/chain/bitcoin/regtest/admin.macaroon'
lnd_grpc_host = 'https://127.0.0.1:10001'
invoice_expiration_window = 3600
hold_invoice_cltv_delta = 144
hold_invoice_expiration_window = 300
payment_attempts = 3
payment_retries_interval = 60`;
const DATABASE = `[database]
url = 'sqlite://mostro.db'`;
const MOSTRO = `[mostro]
fee = 0
max_routing_fee = 0.002
max_order_amount = 1000000
min_payment_amount = 100
expiration_hours = 24
max_expiration_days = 15
expiration_seconds = 900
user_rates_sent_interval_seconds = 3600
publish_relays_interval = 60
pow = 0
publish_mostro_info_interval = 300
bitcoin_price_api_url = "https://api.yadio.io"
fiat_currencies_accepted = ['USD', 'EUR', 'ARS', 'CUP']
max_orders_per_response = 10
dev_fee_percentage = 0.30`;
const RPC = `[rpc]
enabled = false
listen_address = "127.0.0.1"
port = 50051`;
const EXPIRATION = `[expiration]
order_days = 45
dispute_days = 120
fee_audit_days = 400`;

const fixture = (...extra: string[]): string => [LIGHTNING, NOSTR, MOSTRO, DATABASE, RPC, ...extra].join('\n\n');

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

void describe('parseSettings with the mostrod test fixture', () => {
  void test('lightning keys', () => {
    const s = parseSettings(fixture(), {});
    assert.deepEqual(s.lightning, {
      lnd_cert_file: '/home/user/.polar/networks/1/volumes/lnd/alice/tls.cert',
      lnd_macaroon_file: '/home/user/.polar/networks/1/volumes/lnd/alice/data/chain/bitcoin/regtest/admin.macaroon',
      lnd_grpc_host: 'https://127.0.0.1:10001',
      invoice_expiration_window: 3600,
      hold_invoice_cltv_delta: 144,
      hold_invoice_expiration_window: 300,
      payment_attempts: 3,
      payment_retries_interval: 60,
      escrow_deadline_margin_blocks: 24,
      max_invoice_final_cltv_delta: 144,
      payment_timeout_seconds: 75,
    });
  });

  void test('nostr, database, rpc keys and defaults', () => {
    const s = parseSettings(fixture(), {});
    assert.equal(s.nostr.nsec_privkey, NSEC);
    assert.deepEqual(s.nostr.relays, ['wss://relay.damus.io', 'wss://relay.mostro.network']);
    assert.equal(s.database.url, 'sqlite://mostro.db');
    assert.deepEqual(s.rpc, { enabled: false, listen_address: '127.0.0.1', port: 50051, rate_limiter_stale_duration: 3600 });
    assert.equal(s.nostr.author_rate, undefined, 'absent = the intake default');
    assert.equal(s.nostr.author_burst, undefined);
    const set = parseSettings(fixture().replace('relays = [', 'author_rate = 0.5\nauthor_burst = 12\nrelays = ['), {});
    assert.equal(set.nostr.author_rate, 0.5);
    assert.equal(set.nostr.author_burst, 12);
  });

  void test('mostro keys: integer literal for a float, defaults for absent optional keys', () => {
    const m = parseSettings(fixture(), {}).mostro;
    assert.equal(m.fee, 0);
    assert.equal(m.max_routing_fee, 0.002);
    assert.equal(m.max_order_amount, 1_000_000);
    assert.equal(m.min_payment_amount, 100);
    assert.equal(m.expiration_hours, 24);
    assert.equal(m.max_expiration_days, 15);
    assert.equal(m.expiration_seconds, 900);
    assert.equal(m.user_rates_sent_interval_seconds, 3600);
    assert.equal(m.publish_relays_interval, 60);
    assert.equal(m.pow, 0);
    assert.equal(m.publish_mostro_info_interval, 300);
    assert.equal(m.bitcoin_price_api_url, 'https://api.yadio.io');
    assert.deepEqual(m.fiat_currencies_accepted, ['USD', 'EUR', 'ARS', 'CUP']);
    assert.equal(m.max_orders_per_response, 10);
    assert.equal(m.dev_fee_percentage, 0.3);
    assert.equal(m.publish_exchange_rates_to_nostr, true);
    assert.equal(m.exchange_rates_update_interval_seconds, 300);
    assert.equal(m.max_price_staleness_seconds, 900);
    assert.equal(m.lnurl_allow_private_hosts, false);
    assert.equal(m.dev_fee_lightning_address, undefined);
    assert.equal(m.name, undefined);
  });

  void test('[expiration] present: given values, missing keys default (rating_days 90)', () => {
    const s = parseSettings(fixture(EXPIRATION), {});
    assert.deepEqual(s.expiration, { order_days: 45, rating_days: 90, dispute_days: 120, fee_audit_days: 400, dm_days: 30 });
  });

  void test('[expiration] empty section: 30/90/90/365', () => {
    const s = parseSettings(fixture('[expiration]'), {});
    assert.deepEqual(s.expiration, { order_days: 30, rating_days: 90, dispute_days: 90, fee_audit_days: 365, dm_days: 30 });
  });

  void test('[expiration] absent: null', () => {
    assert.equal(parseSettings(fixture(), {}).expiration, null);
  });

  void test('unknown keys and sections are ignored', () => {
    const s = parseSettings(fixture('[whatever]\nx = 1'), {}).lightning;
    assert.equal(s.payment_attempts, 3);
    const t = parseSettings(fixture().replace('pow = 0', 'pow = 0\nsome_future_key = "x"'), {});
    assert.equal(t.mostro.pow, 0);
    assert.equal('some_future_key' in t.mostro, false);
  });
});

void describe('the shipped and the upstream templates', () => {
  void test('upstream mostrod 0.17.1 settings.tpl.toml loads unchanged (with a real key)', () => {
    const upstream = readFileSync(new URL('./upstream-settings.tpl.toml', import.meta.url), 'utf8');
    const s = parseSettings(upstream.replace("'nsec1...'", `'${NSEC}'`), {});
    assert.equal(s.lightning.lnd_grpc_host, 'https://127.0.0.1:10001');
    assert.deepEqual(s.expiration, { order_days: 30, rating_days: 90, dispute_days: 90, fee_audit_days: 365, dm_days: 30 });
    assert.equal(s.rpc.rate_limiter_stale_duration, 3600);
  });

  void test('our template parses to the same values plus port defaults', () => {
    const upstream = readFileSync(new URL('./upstream-settings.tpl.toml', import.meta.url), 'utf8');
    const env = { MOSTRO_NSEC_PRIVKEY: NSEC };
    const ours = parseSettings(templateText(), env);
    const theirs = parseSettings(upstream, env);
    // The one deliberate difference: a fresh node serves both transports; a 0.17.1 file without
    // the key stays on gift wraps.
    assert.equal(ours.mostro.transport, 'both');
    assert.equal(theirs.mostro.transport, 'gift-wrap');
    assert.deepEqual(ours, { ...theirs, mostro: { ...theirs.mostro, transport: 'both' } });
  });

  void test('[mostro] transport accepts gift-wrap, nip44 and both; v2 knobs default as upstream', () => {
    for (const t of ['gift-wrap', 'nip44', 'both'] as const) {
      const s = parseSettings(fixture().replace('pow = 0', `pow = 0\ntransport = "${t}"`), { MOSTRO_NSEC_PRIVKEY: NSEC });
      assert.equal(s.mostro.transport, t);
      assert.equal(s.mostro.pow_first_contact, undefined);
      assert.equal(s.mostro.active_pubkeys_refresh_interval, 60);
    }
    const msg = configError(() => parseSettings(fixture().replace('pow = 0', 'pow = 0\ntransport = "nostr"'), { MOSTRO_NSEC_PRIVKEY: NSEC }));
    assert.match(msg, /\[mostro\] transport/);
    const s = parseSettings(fixture().replace('pow = 0', 'pow = 4\npow_first_contact = 12'), { MOSTRO_NSEC_PRIVKEY: NSEC });
    assert.equal(s.mostro.pow_first_contact, 12);
  });

  void test('template placeholder key is rejected with a clear message', () => {
    const msg = configError(() => parseSettings(templateText(), {}));
    assert.match(msg, /\[nostr\] nsec_privkey: not a valid nsec/);
    assert.doesNotMatch(msg, /nsec1\.\.\./);
  });
});

void describe('validation errors name section, key and problem', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['dev fee below min', fixture().replace('dev_fee_percentage = 0.30', 'dev_fee_percentage = 0.05'), /\[mostro\] dev_fee_percentage: 0\.05 is below the minimum 0\.1/],
    ['dev fee above max', fixture().replace('dev_fee_percentage = 0.30', 'dev_fee_percentage = 1.5'), /\[mostro\] dev_fee_percentage: 1\.5 exceeds the maximum 1/],
    ['missing key', fixture().replace('max_routing_fee = 0.002\n', ''), /\[mostro\] max_routing_fee: missing/],
    ['missing section', fixture().replace(RPC, ''), /\[rpc\] section is missing/],
    ['u8 overflow', fixture().replace('pow = 0', 'pow = 256'), /\[mostro\] pow: 256 exceeds the u8 maximum 255/],
    ['u16 overflow', fixture().replace('port = 50051', 'port = 70000'), /\[rpc\] port: 70000 exceeds the u16 maximum 65535/],
    ['negative u32', fixture().replace('payment_attempts = 3', 'payment_attempts = -1'), /\[lightning\] payment_attempts: -1 is negative/],
    ['float for an integer', fixture().replace('expiration_hours = 24', 'expiration_hours = 1.5'), /\[mostro\] expiration_hours: 1\.5 is not an integer/],
    ['wrong type', fixture().replace('expiration_hours = 24', 'expiration_hours = "24"'), /\[mostro\] expiration_hours: expected number, got the string "24"/],
    ['zero interval', fixture().replace('publish_relays_interval = 60', 'publish_relays_interval = 0'), /\[mostro\] publish_relays_interval: must be greater than 0/],
    ['zero retry interval', fixture().replace('payment_retries_interval = 60', 'payment_retries_interval = 0'), /\[lightning\] payment_retries_interval: must be greater than 0/],
    ['bad relay url', fixture().replace("'wss://relay.damus.io'", "'https://relay.damus.io'"), /\[nostr\] relays\.0: "https:\/\/relay\.damus\.io" must use ws:\/\/ or wss:\/\//],
    ['unparsable relay url', fixture().replace("'wss://relay.damus.io'", "'not a url'"), /\[nostr\] relays\.0: "not a url" is not a valid URL/],
    ['lnd host without scheme', fixture().replace("'https://127.0.0.1:10001'", "'127.0.0.1:10001'"), /\[lightning\] lnd_grpc_host: "127\.0\.0\.1:10001" .*https:\/\/host:port/],
    ['lnd host over http', fixture().replace("'https://127.0.0.1:10001'", "'http://127.0.0.1:10001'"), /\[lightning\] lnd_grpc_host: "http:\/\/127\.0\.0\.1:10001" must use https/],
    ['bad nsec', fixture().replace(NSEC, 'nsec1qqqq'), /\[nostr\] nsec_privkey: not a valid nsec/],
    ['rpc enabled with hostname', fixture().replace('enabled = false\nlisten_address = "127.0.0.1"', 'enabled = true\nlisten_address = "localhost"'), /\[rpc\] listen_address: "localhost" is not an IP address/],
    ['zero author burst', fixture().replace("relays = [", 'author_burst = 0\nrelays = ['), /\[nostr\] author_burst: .*(>=|at least|minimum|too small).*1/i],
    ['zero author rate', fixture().replace("relays = [", 'author_rate = 0\nrelays = ['), /\[nostr\] author_rate/],
    ['bad toml', 'this is = = not toml', /invalid TOML/],
  ];
  for (const [name, text, re] of cases) {
    void test(name, () => {
      assert.match(configError(() => parseSettings(text, {})), re);
    });
  }

  void test('all problems are reported at once', () => {
    const text = fixture().replace('pow = 0', 'pow = -3').replace('dev_fee_percentage = 0.30', 'dev_fee_percentage = 2');
    const msg = configError(() => parseSettings(text, {}));
    assert.match(msg, /\[mostro\] pow/);
    assert.match(msg, /\[mostro\] dev_fee_percentage/);
  });

  void test('escrow deadline margin >= hold invoice CLTV delta is refused, naming both keys (issue 12 defect 4)', () => {
    for (const margin of [144, 200]) {
      const text = fixture().replace('payment_retries_interval = 60', `payment_retries_interval = 60\nescrow_deadline_margin_blocks = ${margin}`);
      const msg = configError(() => parseSettings(text, {}));
      assert.match(msg, /\[lightning\] escrow_deadline_margin_blocks: /);
      assert.match(msg, new RegExp(`${margin} must be below \\[lightning\\] hold_invoice_cltv_delta \\(144\\)`));
    }
    // The default margin (24) against a too-small CLTV delta is refused the same way.
    const small = configError(() => parseSettings(fixture().replace('hold_invoice_cltv_delta = 144', 'hold_invoice_cltv_delta = 20'), {}));
    assert.match(small, /\[lightning\] escrow_deadline_margin_blocks: 24 must be below \[lightning\] hold_invoice_cltv_delta \(20\)/);
    const ok = parseSettings(fixture().replace('payment_retries_interval = 60', 'payment_retries_interval = 60\nescrow_deadline_margin_blocks = 143'), {});
    assert.equal(ok.lightning.escrow_deadline_margin_blocks, 143);
  });

  void test('rpc disabled with a hostname is accepted (mostrod would not bind it either)', () => {
    const s = parseSettings(fixture().replace('listen_address = "127.0.0.1"', 'listen_address = "localhost"'), {});
    assert.equal(s.rpc.listen_address, 'localhost');
  });

  void test('bracketed IPv6 listen address is accepted', () => {
    const s = parseSettings(fixture().replace('enabled = false\nlisten_address = "127.0.0.1"', 'enabled = true\nlisten_address = "[::1]"'), {});
    assert.equal(s.rpc.listen_address, '[::1]');
  });
});

void describe('environment override and redaction', () => {
  const HEX = '0f'.repeat(32);
  void test('MOSTRO_NSEC_PRIVKEY replaces [nostr] nsec_privkey', () => {
    const s = parseSettings(fixture(), { MOSTRO_NSEC_PRIVKEY: HEX });
    assert.equal(s.nostr.nsec_privkey, HEX);
  });
  void test('MOSTRO_NSEC_PRIVKEY can supply a key missing from the file', () => {
    const s = parseSettings(fixture().replace(`nsec_privkey = '${NSEC}'\n`, ''), { MOSTRO_NSEC_PRIVKEY: HEX });
    assert.equal(s.nostr.nsec_privkey, HEX);
  });
  void test('a bad env key is reported as the env variable, without the value', () => {
    const msg = configError(() => parseSettings(fixture(), { MOSTRO_NSEC_PRIVKEY: 'deadbeef' }));
    assert.match(msg, /MOSTRO_NSEC_PRIVKEY/);
    assert.doesNotMatch(msg, /deadbeef/);
  });
  void test('redactSettings hides the key and leaves the rest', () => {
    const s = parseSettings(fixture(), {});
    const r = redactSettings(s);
    assert.equal(r.nostr.nsec_privkey, '[redacted]');
    assert.doesNotMatch(JSON.stringify(r), new RegExp(NSEC));
    assert.equal(s.nostr.nsec_privkey, NSEC, 'original untouched');
    assert.deepEqual(r.nostr.relays, s.nostr.relays);
  });
});

void describe('parseNodeSecretKey', () => {
  void test('nsec and hex of the same key agree', () => {
    const fromNsec = parseNodeSecretKey(NSEC);
    assert.equal(fromNsec.length, 32);
    const hex = Buffer.from(fromNsec).toString('hex');
    assert.deepEqual(parseNodeSecretKey(hex), fromNsec);
    assert.deepEqual(parseNodeSecretKey(hex.toUpperCase()), fromNsec);
  });
  void test('rejects garbage, npub, zero key and wrong lengths', () => {
    assert.throws(() => parseNodeSecretKey('nsec1...'));
    assert.throws(() => parseNodeSecretKey('npub1sg6plzptd64u62a878hep2kev88swjh3tw00gjsfl8f237lmu63q0uf63m'));
    assert.throws(() => parseNodeSecretKey('00'.repeat(32)));
    assert.throws(() => parseNodeSecretKey('ab'.repeat(31)));
    assert.throws(() => parseNodeSecretKey('ff'.repeat(32)), /secp256k1/);
  });
});

void describe('settings directory', () => {
  void test('ensureSettingsFile writes the template once (mode 0600), then reports it exists', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mostrod-cfg-')), 'nested', 'dir');
    assert.equal(ensureSettingsFile(dir), 'created');
    const file = join(dir, 'settings.toml');
    assert.equal(readFileSync(file, 'utf8'), templateText());
    assert.equal(statSync(file).mode & 0o777, 0o600);
    writeFileSync(file, 'edited');
    assert.equal(ensureSettingsFile(dir), 'exists');
    assert.equal(readFileSync(file, 'utf8'), 'edited');
  });

  void test('loadSettings reads DIR/settings.toml and points the DB at DIR/mostro.db', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mostrod-cfg-'));
    writeFileSync(join(dir, 'settings.toml'), fixture().replace("url = 'sqlite://mostro.db'", "url = 'sqlite:///elsewhere/x.db'"));
    const s = loadSettings(dir, {});
    assert.equal(s.database.url, `sqlite://${join(dir, 'mostro.db')}`);
    assert.equal(s.mostro.fee, 0);
  });

  void test('loadSettings without a file is a ConfigError naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mostrod-cfg-'));
    assert.match(configError(() => loadSettings(dir, {})), /settings\.toml/);
    assert.equal(existsSync(join(dir, 'settings.toml')), false);
  });
});
