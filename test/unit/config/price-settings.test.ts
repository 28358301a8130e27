import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings, redactSettings, templateText } from '../../../src/config/settings.js';
import { ConfigError } from '../../../src/errors.js';
import { effectivePriceConfig } from '../../../src/price/price-config.js';

const ENV = { MOSTRO_NSEC_PRIVKEY: '11'.repeat(32) };
const NODE = '82fa8cb978b43c79b2156585bac2c011176a21d2aead6d9f7c575c005be88390';

/** Our template with its commented [price] block switched on. */
function templateWithPriceBlock(): string {
  const t = templateText();
  const at = t.indexOf('# [price]\n');
  assert.ok(at > 0, 'the template documents [price]');
  const end = t.indexOf('\n# ]\n', at) + '\n# ]\n'.length; // the end of [price.providers.nostr]
  const block = t
    .slice(at, end)
    .split('\n')
    .map((l) => (/^# (\[|[a-z_]+ = |fallback_urls|except|only|trusted_nodes|\]|#)/.test(l) ? l.slice(2) : l))
    .join('\n');
  return t.slice(0, at) + block + t.slice(end);
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

void describe('[price] settings', () => {
  void test('absent: Yadio alone from [mostro], as 0.17.1 (interval, staleness, publish flag, no breaker)', () => {
    const s = parseSettings(templateText(), ENV);
    assert.equal(s.price, null);
    const c = effectivePriceConfig(s);
    assert.equal(c.legacy, true);
    assert.deepEqual(c.providers.map((p) => [p.id, p.urls]), [['yadio', ['https://api.yadio.io']]]);
    assert.equal(c.updateIntervalSeconds, 300);
    assert.equal(c.maxStalenessSeconds, 900);
    assert.equal(c.breaker.enabled, false);
    assert.equal(c.fiatAllowList, false);
  });

  void test('the template’s [price] block (upstream 0.18 keys) parses with upstream defaults', () => {
    const s = parseSettings(templateWithPriceBlock(), ENV);
    assert.ok(s.price);
    assert.equal(s.price.max_price_staleness_seconds, 1800);
    assert.equal(s.price.outlier_threshold_pct, 5);
    const c = effectivePriceConfig(s);
    assert.equal(c.legacy, false);
    assert.deepEqual(
      c.providers.map((p) => p.id),
      ['yadio', 'coingecko', 'currency_api', 'blockchain'],
    );
    const ca = c.providers.find((p) => p.id === 'currency_api');
    assert.deepEqual(ca?.urls, ['https://currency-api.pages.dev/v1', 'https://cdn.jsdelivr.net/npm/@fawazahmed0/currency-api@latest/v1']);
    assert.deepEqual([...(ca?.except ?? [])], ['CUP', 'MLC']);
    assert.equal(c.breaker.maxCooldownSeconds, 1800);
  });

  void test('an upstream-style [price] without bitcoin_price_api_url, with eltoque and nostr, unknown provider kept aside', () => {
    const text = templateText().replace(/^bitcoin_price_api_url = .*$/m, '') +
      `
[price]
update_interval_seconds = 60
[price.providers.yadio]
enabled = true
url = "https://api.yadio.io"
[price.providers.eltoque]
enabled = true
url = "https://tasas.eltoque.com"
token = "secret"
[price.providers.nostr]
enabled = true
trusted_nodes = ["${NODE}"]
[price.providers.binance]
enabled = true
url = "https://api.binance.com"
[anti_abuse_bond]
enabled = false
`;
    const s = parseSettings(text, ENV);
    assert.equal(s.mostro.bitcoin_price_api_url, 'https://api.yadio.io');
    const c = effectivePriceConfig(s);
    assert.deepEqual(c.providers.map((p) => p.id), ['yadio', 'eltoque', 'nostr']);
    assert.deepEqual(c.unknownProviders, ['binance']);
    assert.deepEqual([...(c.providers[1]?.only ?? [])], ['CUP', 'MLC']);
    assert.deepEqual(c.providers[2]?.trustedNodes, [NODE]);
    const shown = JSON.stringify(redactSettings(s));
    assert.ok(!shown.includes('secret'), 'the El Toque token is never in a loggable copy');
    assert.equal(redactSettings(s).price?.providers['eltoque']?.token, '[redacted]');
  });

  void test('refused at startup, naming the key', () => {
    const base = templateText();
    const cases: Array<[string, RegExp]> = [
      ['[price]\noutlier_threshold_pct = 0', /\[price\] outlier_threshold_pct: must be in \(0, 100\]/],
      ['[price]\nmax_price_staleness_seconds = 0', /\[price\] max_price_staleness_seconds: .*greater than 0/],
      ['[price.providers.eltoque]\nenabled = true\nurl = "https://tasas.eltoque.com"', /\[price\] providers\.eltoque\.token/],
      ['[price.providers.nostr]\nenabled = true', /\[price\] providers\.nostr\.trusted_nodes/],
      ['[price.providers.nostr]\nenabled = true\ntrusted_nodes = ["abc"]', /trusted_nodes\.0: "abc" is not a public key/],
      ['[price.providers.yadio]\nenabled = true', /\[price\] providers\.yadio\.url: an enabled provider needs a url/],
      ['[price.providers.yadio]\nenabled = true\nurl = "ftp://x"', /must use http/],
      ['[price.providers.currency_api]\nenabled = true\nurl = "https://a"\nonly = ["USD"]\nexcept = ["CUP"]', /mutually exclusive/],
    ];
    for (const [extra, re] of cases) assert.match(configError(`${base}\n${extra}\n`), re, extra);
  });
});
