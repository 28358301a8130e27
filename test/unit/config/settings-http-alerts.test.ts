import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nip19 } from 'nostr-tools';
import { parse, stringify } from 'smol-toml';
import { parseSettings, templateText } from '../../../src/config/settings.js';
import { ConfigError } from '../../../src/errors.js';

const NSEC = 'nsec13as48eum93hkg7plv526r9gjpa0uc52zysqm93pmnkca9e69x6tsdjmdxd';
const env = { MOSTRO_NSEC_PRIVKEY: NSEC };

/** The shipped template with `[http]` / `[alerts]` replaced by `sections`. */
function withSections(sections: Record<string, Record<string, unknown>>): string {
  const doc = parse(templateText()) as Record<string, unknown>;
  delete doc['http'];
  delete doc['alerts'];
  return stringify({ ...doc, ...sections });
}

void describe('[http] and [alerts] settings', () => {
  void test('absent sections: listener off on 127.0.0.1:9464, alerts off with the default thresholds', () => {
    const s = parseSettings(withSections({}), env);
    assert.deepEqual(s.http, { enabled: false, listen_address: '127.0.0.1', port: 9464 });
    assert.deepEqual(s.alerts, {
      check_interval_seconds: 60,
      lnd_down_minutes: 5,
      relays_down_minutes: 2,
      escrow_deadline_blocks: 72,
      price_stale_seconds: 1800,
      overload_shed_events: 100,
      overload_quiet_minutes: 10,
      order_events_unaccepted_minutes: 15,
      dispute_events_unaccepted_minutes: 15,
    });
  });

  void test('the template parses and keeps the listener off', () => {
    const s = parseSettings(templateText(), env);
    assert.equal(s.http.enabled, false);
    assert.equal(s.alerts.admin_npub, undefined);
  });

  void test('the Docker image\'s template (the template plus the [http] table the Dockerfile appends) enables the listener', () => {
    const s = parseSettings(`${templateText()}\n[http]\nenabled = true\nlisten_address = "0.0.0.0"\nport = 9464\n`, env);
    assert.deepEqual(s.http, { enabled: true, listen_address: '0.0.0.0', port: 9464 });
  });

  void test('values are read; admin_npub accepts an npub', () => {
    const npub = nip19.npubEncode('7e'.repeat(32));
    const s = parseSettings(
      withSections({ http: { enabled: true, listen_address: '0.0.0.0', port: 9100 }, alerts: { admin_npub: npub, lnd_down_minutes: 1 } }),
      env,
    );
    assert.deepEqual(s.http, { enabled: true, listen_address: '0.0.0.0', port: 9100 });
    assert.equal(s.alerts.admin_npub, npub);
    assert.equal(s.alerts.lnd_down_minutes, 1);
  });

  void test('a bad admin_npub, address or interval stops startup naming the key', () => {
    const bad = withSections({
      http: { enabled: true, listen_address: 'localhost', port: 70000 },
      alerts: { admin_npub: 'npub1notakey', check_interval_seconds: 0 },
    });
    assert.throws(
      () => parseSettings(bad, env),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /\[alerts\] admin_npub: must be an npub1… or a 64-character hex public key/);
        assert.match(e.message, /\[alerts\] check_interval_seconds: must be greater than 0/);
        assert.match(e.message, /\[http\] port: 70000 exceeds the u16 maximum 65535/);
        assert.match(e.message, /\[http\] listen_address: "localhost" is not an IP address/);
        return true;
      },
    );
  });

  void test('[http] and [rpc] on one port stop startup naming both, where their addresses overlap', () => {
    const doc = parse(templateText()) as Record<string, Record<string, unknown>>;
    const clash = (rpcAddress: string, httpAddress: string, o: { httpPort?: number; httpEnabled?: boolean } = {}) =>
      stringify({
        ...doc,
        rpc: { ...doc['rpc'], enabled: true, listen_address: rpcAddress, port: 5000 },
        http: { enabled: o.httpEnabled ?? true, listen_address: httpAddress, port: o.httpPort ?? 5000 },
      });
    for (const [rpcAddress, httpAddress] of [
      ['127.0.0.1', '127.0.0.1'],
      ['0.0.0.0', '127.0.0.1'],
      ['127.0.0.1', '[::]'],
      ['[::1]', '::1'],
    ] as const) {
      assert.throws(
        () => parseSettings(clash(rpcAddress, httpAddress), env),
        (e: unknown) => e instanceof ConfigError && /\[http\] port: 5000 is also \[rpc\] port \(on "[^"]+"\): the two listeners need different ports/.test(e.message),
        `${rpcAddress} / ${httpAddress}`,
      );
    }
    // different addresses, or different ports, or one listener off: no clash
    assert.equal(parseSettings(clash('127.0.0.1', '127.0.0.2'), env).http.port, 5000);
    assert.equal(parseSettings(clash('127.0.0.1', '127.0.0.1', { httpPort: 5001 }), env).rpc.port, 5000);
    assert.equal(parseSettings(clash('127.0.0.1', '127.0.0.1', { httpEnabled: false }), env).http.enabled, false);
  });
});
