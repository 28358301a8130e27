/**
 * The node's public events against the BUILT daemon (PROTOCOL.md §8.4, §8.7, §8.8): the info event
 * 38385, the relay list 10002, kind 0 metadata (name set) and the exchange rates 30078 — as a
 * client reads them from the relay.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyEvent } from '../../src/crypto/event.js';
import { startE2E, tag, tagValue, waitForEvent, type E2E } from './e2e-harness.js';

void describe('e2e: public node events (built daemon)', () => {
  let e: E2E;
  before(async () => {
    e = await startE2E({
      settings: {
        mostro: { about: 'A sandbox node', website: 'https://mostro.example', picture: 'https://mostro.example/a.png', publish_relays_interval: 1 },
      },
    });
  });
  after(async () => {
    await e.close();
  });

  void test('info event 38385: d = node pubkey, tags in order, values from settings and LND, no expiration', async () => {
    const { sb } = e;
    const ev = await waitForEvent(sb, '38385', (x) => x.kind === 38385 && x.pubkey === sb.nodePubkey);
    assert.ok(verifyEvent(ev));
    assert.equal(ev.content, '');
    assert.deepEqual(
      ev.tags.map((t) => t[0]),
      [
        'd', 'mostro_version', 'mostro_commit_hash', 'max_order_amount', 'min_order_amount', 'expiration_hours', 'expiration_seconds',
        'fiat_currencies_accepted', 'max_orders_per_response', 'fee', 'pow', 'hold_invoice_expiration_window', 'hold_invoice_cltv_delta',
        'invoice_expiration_window', 'lnd_version', 'lnd_node_pubkey', 'lnd_commit_hash', 'lnd_node_alias', 'lnd_chains', 'lnd_networks',
        'lnd_uris', 'y', 'z',
      ],
    );
    const v = (n: string): string | undefined => tagValue(ev, n);
    assert.equal(v('d'), sb.nodePubkey);
    assert.equal(v('mostro_version'), '0.17.1');
    assert.match(v('mostro_commit_hash') ?? '', /^[0-9a-f]{40}$|^unknown$/);
    assert.equal(v('max_order_amount'), '1000000');
    assert.equal(v('min_order_amount'), '100');
    assert.equal(v('expiration_hours'), '24');
    assert.equal(v('expiration_seconds'), '900');
    assert.equal(v('fiat_currencies_accepted'), 'USD,EUR,ARS,VES');
    assert.equal(v('max_orders_per_response'), '10');
    assert.equal(v('fee'), '0.006');
    assert.equal(v('pow'), '0');
    assert.equal(v('hold_invoice_expiration_window'), '300');
    assert.equal(v('hold_invoice_cltv_delta'), '144');
    // deliberate fix of Q7: 0.17.1 repeated hold_invoice_expiration_window here
    assert.equal(v('invoice_expiration_window'), '3600');
    assert.equal(v('lnd_node_pubkey'), sb.sim.nodePubkey);
    assert.equal(v('lnd_chains'), 'bitcoin');
    assert.equal(v('lnd_networks'), sb.sim.network);
    assert.ok((v('lnd_uris') ?? '').startsWith(`${sb.sim.nodePubkey}@`));
    assert.deepEqual(tag(ev, 'y'), ['y', 'mostro', 'Mostro sandbox']);
    assert.equal(v('z'), 'info');
    assert.equal(tag(ev, 'expiration'), undefined);
    // a client querying by author and d gets it
    const q = await sb.relay.query({ kinds: [38385], authors: [sb.nodePubkey], '#d': [sb.nodePubkey] });
    assert.equal(q.length, 1);
  });

  void test('relay list 10002: one ["r", url] per connected relay, no marker, empty content', async () => {
    const { sb } = e;
    const ev = await waitForEvent(sb, '10002 naming the relay', (x) => x.kind === 10002 && x.pubkey === sb.nodePubkey && x.tags.length > 0, 10_000);
    assert.ok(verifyEvent(ev));
    assert.deepEqual(ev.tags, [['r', sb.relay.url]]);
    assert.equal(ev.content, '');
  });

  void test('no empty relay list is published at startup (it would replace a good one)', () => {
    const lists = e.sb.relay.events().filter((x) => x.kind === 10002);
    assert.ok(lists.length > 0);
    assert.ok(lists.every((x) => x.tags.length > 0), JSON.stringify(lists.map((x) => x.tags)));
  });

  void test('kind 0 metadata: name, about, website, picture in that order, URLs normalised, tags []', async () => {
    const { sb } = e;
    const ev = await waitForEvent(sb, 'kind 0', (x) => x.kind === 0 && x.pubkey === sb.nodePubkey);
    assert.ok(verifyEvent(ev));
    assert.deepEqual(ev.tags, []);
    assert.equal(
      ev.content,
      '{"name":"Mostro sandbox","about":"A sandbox node","website":"https://mostro.example/","picture":"https://mostro.example/a.png"}',
    );
  });

  void test('exchange rates 30078: d mostro-rates, published_at, source yadio, expiration, content as fetched', async () => {
    const { sb } = e;
    const ev = await waitForEvent(sb, '30078', (x) => x.kind === 30078 && x.pubkey === sb.nodePubkey);
    assert.ok(verifyEvent(ev));
    assert.deepEqual(ev.tags.map((t) => t[0]), ['d', 'published_at', 'source', 'expiration']);
    assert.equal(tagValue(ev, 'd'), 'mostro-rates');
    assert.equal(tagValue(ev, 'source'), 'yadio');
    const published = Number(tagValue(ev, 'published_at'));
    assert.ok(Math.abs(published - ev.created_at) <= 1);
    // default interval 300 s → expiration = published_at + min(2 × 300, 3600)
    assert.equal(Number(tagValue(ev, 'expiration')), published + 600);
    const content = JSON.parse(ev.content) as { BTC: Record<string, number> };
    assert.deepEqual(content.BTC, { USD: 100_000, EUR: 90_000, VES: 5_000_000_000, ARS: 100_000_000 });
  });
});
