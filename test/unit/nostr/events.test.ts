import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { OrderRow } from '../../../src/db/types.js';
import type { NodeInfo } from '../../../src/lightning/backend.js';
import { ORDER_STATUSES } from '../../../src/protocol/types.js';
import {
  buildDevFeeAuditEvent,
  buildDisputeEvent,
  buildExchangeRatesEvent,
  buildInfoEvent,
  buildMetadataEvent,
  buildOrderEvent,
  buildRatingEvent,
  buildRelayListEvent,
  daysSince,
  displayF64,
  expirationFor,
  networkTagValue,
  orderEventTags,
  orderRatingFor,
  publicStatusFor,
  yTag,
} from '../../../src/nostr/events.js';
import { testSettings } from '../../support/test-context.js';

const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';
const NODE = 'f'.repeat(64);

function order(partial: Partial<OrderRow> = {}): OrderRow {
  return {
    id: ORDER_ID,
    kind: 'sell',
    event_id: '',
    hash: null,
    preimage: null,
    creator_pubkey: 'a'.repeat(64),
    cancel_initiator_pubkey: null,
    buyer_pubkey: null,
    master_buyer_pubkey: null,
    seller_pubkey: 'a'.repeat(64),
    master_seller_pubkey: 'b'.repeat(64),
    status: 'pending',
    price_from_api: 1,
    premium: 1,
    payment_method: 'face to face,bank transfer',
    amount: 0,
    min_amount: null,
    max_amount: null,
    buyer_dispute: 0,
    seller_dispute: 0,
    buyer_cooperativecancel: 0,
    seller_cooperativecancel: 0,
    fee: 0,
    routing_fee: 0,
    fiat_code: 'VES',
    fiat_amount: 100,
    buyer_invoice: null,
    range_parent_id: null,
    invoice_held_at: 0,
    taken_at: 0,
    created_at: 1698870173,
    buyer_sent_rate: 0,
    seller_sent_rate: 0,
    payment_attempts: 0,
    failed_payment: 0,
    expires_at: 1698956573,
    trade_index_seller: 1,
    trade_index_buyer: null,
    next_trade_pubkey: null,
    next_trade_index: null,
    dev_fee: 0,
    dev_fee_paid: 0,
    dev_fee_payment_hash: null,
    payout_payment_hash: null,
    payout_claimed_at: null,
    payout_claim_seq: 0,
    payout_lost_success_hash: null,
    ...partial,
  };
}

const settings = testSettings({
  mostro: { name: 'My Mostro', fee: 0.006 },
  nostr: { relays: ['wss://relay.mostro.network', 'wss://nos.lol'] },
});

void describe('kind 38383 order event', () => {
  void test('PROTOCOL.md §8.2 pending example, tag for tag', () => {
    const now = 1698870173;
    const ev = buildOrderEvent({
      order: order(),
      rating: { days: 10, total_rating: 4.5, total_reviews: 7 },
      settings,
      nodePubkey: NODE,
      network: networkTagValue(['mainnet']),
      now,
    });
    assert.ok(ev);
    assert.equal(ev.kind, 38383);
    assert.equal(ev.content, '');
    assert.equal(ev.created_at, now);
    assert.deepEqual(ev.tags, [
      ['d', ORDER_ID],
      ['k', 'sell'],
      ['f', 'VES'],
      ['s', 'pending'],
      ['amt', '0'],
      ['fa', '100'],
      ['pm', 'face to face', 'bank transfer'],
      ['premium', '1'],
      ['rating', '["rating",{"days":10,"total_rating":4.5,"total_reviews":7}]'],
      ['source', `mostro:${ORDER_ID}?relays=wss://relay.mostro.network,wss://nos.lol&mostro=${NODE}`],
      ['network', 'mainnet'],
      ['layer', 'lightning'],
      ['expires_at', '1698956573'],
      ['expiration', '1701462173'],
      ['y', 'mostro', 'My Mostro'],
      ['z', 'order'],
    ]);
  });

  void test('pending range order: fa is [min, max]; a full-privacy maker gets 0.0/0/0', () => {
    const tags = orderEventTags({
      order: order({ min_amount: 10, max_amount: 50, fiat_amount: 0 }),
      rating: orderRatingFor(null, 1698870173),
      settings,
      nodePubkey: NODE,
      network: 'regtest',
      now: 1698870173,
    });
    assert.ok(tags);
    assert.deepEqual(tags.find((t) => t[0] === 'fa'), ['fa', '10', '50']);
    assert.deepEqual(tags.find((t) => t[0] === 'rating'), [
      'rating',
      '["rating",{"days":0,"total_rating":0.0,"total_reviews":0}]',
    ]);
  });

  void test('in-progress after a range take: no rating/source, fa = chosen amount', () => {
    const now = 1698871000;
    const tags = orderEventTags({
      order: order({ status: 'waiting-buyer-invoice', min_amount: 10, max_amount: 50, fiat_amount: 15, amount: 7851 }),
      rating: { days: 10, total_rating: 4.5, total_reviews: 7 },
      settings,
      nodePubkey: NODE,
      network: 'mainnet',
      now,
    });
    assert.deepEqual(tags, [
      ['d', ORDER_ID],
      ['k', 'sell'],
      ['f', 'VES'],
      ['s', 'in-progress'],
      ['amt', '7851'],
      ['fa', '15'],
      ['pm', 'face to face', 'bank transfer'],
      ['premium', '1'],
      ['network', 'mainnet'],
      ['layer', 'lightning'],
      ['expires_at', '1698956573'],
      ['expiration', String(now + 30 * 86400)],
      ['y', 'mostro', 'My Mostro'],
      ['z', 'order'],
    ]);
  });

  void test('not publishable → null; an explicit status is always built', () => {
    const active = order({ status: 'active' });
    assert.equal(buildOrderEvent({ order: active, settings, nodePubkey: NODE, network: 'x', now: 1 }), null);
    const sellWaitingPayment = order({ status: 'waiting-payment' });
    assert.equal(buildOrderEvent({ order: sellWaitingPayment, settings, nodePubkey: NODE, network: 'x', now: 1 }), null);
    const forced = buildOrderEvent({ order: sellWaitingPayment, status: 'in-progress', settings, nodePubkey: NODE, network: 'x', now: 1 });
    assert.deepEqual(forced.tags[3], ['s', 'in-progress']);
    const expired = buildOrderEvent({ order: order({ status: 'expired' }), settings, nodePubkey: NODE, network: 'x', now: 1 });
    assert.deepEqual(expired?.tags[3], ['s', 'canceled']);
  });

  void test('pm split rule: split on ",", drop empty parts, no trimming', () => {
    const tags = orderEventTags({
      order: order({ status: 'success', payment_method: 'a, b,,c,' }),
      settings,
      nodePubkey: NODE,
      network: 'x',
      now: 1,
    });
    assert.deepEqual(tags?.find((t) => t[0] === 'pm'), ['pm', 'a', ' b', 'c']);
  });

  void test('pending without a rating: source lands where mostrod inserts it (index 8 of the list)', () => {
    const tags = orderEventTags({ order: order(), settings, nodePubkey: NODE, network: 'n', now: 1 });
    assert.deepEqual(
      tags?.map((t) => t[0]),
      ['d', 'k', 'f', 's', 'amt', 'fa', 'pm', 'premium', 'network', 'source', 'layer', 'expires_at', 'expiration', 'y', 'z'],
    );
  });

  void test('absent [expiration] section → max_expiration_days', () => {
    const noSection = testSettings({ expiration: null, mostro: { max_expiration_days: 15 } });
    const tags = orderEventTags({ order: order(), settings: noSection, nodePubkey: NODE, network: 'n', now: 1000 });
    assert.deepEqual(tags?.find((t) => t[0] === 'expiration'), ['expiration', String(1000 + 15 * 86400)]);
  });
});

void describe('publicStatusFor', () => {
  void test('the §8.2 publishability table', () => {
    const want: Record<string, [string | null, string | null]> = {
      pending: ['pending', 'pending'],
      'waiting-buyer-invoice': ['in-progress', null],
      'waiting-payment': [null, 'in-progress'],
      canceled: ['canceled', 'canceled'],
      'canceled-by-admin': ['canceled', 'canceled'],
      'cooperatively-canceled': ['canceled', 'canceled'],
      expired: ['canceled', 'canceled'],
      success: ['success', 'success'],
      'completed-by-admin': ['completed-by-admin', 'completed-by-admin'],
    };
    for (const status of ORDER_STATUSES) {
      const [sell, buy] = want[status] ?? [null, null];
      assert.equal(publicStatusFor('sell', status), sell, `sell ${status}`);
      assert.equal(publicStatusFor('buy', status), buy, `buy ${status}`);
    }
  });
});

void describe('kind 38384 rating event', () => {
  void test('PROTOCOL.md §8.3 example (rated 4 then 5), no y tag', () => {
    const ev = buildRatingEvent({
      d: 'c'.repeat(64),
      total_reviews: 2,
      total_rating: 3,
      last_rating: 5,
      max_rate: 5,
      min_rate: 4,
      days: 21,
      settings,
      now: 1702637077,
    });
    assert.equal(ev.kind, 38384);
    assert.deepEqual(ev.tags, [
      ['d', 'c'.repeat(64)],
      ['expiration', '1710413077'],
      ['total_reviews', '2'],
      ['total_rating', '3'],
      ['last_rating', '5'],
      ['max_rate', '5'],
      ['min_rate', '4'],
      ['z', 'rating'],
      ['days', '21'],
    ]);
  });

  void test('total_rating uses Rust Display: 2.5, 0', () => {
    const base = { d: 'x', total_reviews: 1, last_rating: 5, max_rate: 5, min_rate: 5, days: 0, settings, now: 0 };
    assert.deepEqual(buildRatingEvent({ ...base, total_rating: 2.5 }).tags[3], ['total_rating', '2.5']);
    assert.deepEqual(buildRatingEvent({ ...base, total_rating: 0 }).tags[3], ['total_rating', '0']);
  });
});

void describe('kind 38385 info event', () => {
  void test('PROTOCOL.md §8.4 example (with the invoice_expiration_window fix)', () => {
    const lnd: NodeInfo = {
      version: '0.18.4-beta commit=v0.18.4-beta',
      identityPubkey: '0220e4558a8d9af4988ef6c8def0e73b05403819e49b7fb2db79d322ac3be1547e',
      commitHash: 'ddeb8351684a611f6c27f16f09be75d5c039f08c',
      alias: 'alice',
      chains: ['bitcoin'],
      networks: ['regtest'],
      uris: ['0220e4558a8d9af4988ef6c8def0e73b05403819e49b7fb2db79d322ac3be1547e@172.26.0.2:9735'],
      blockHeight: 100,
    };
    const ev = buildInfoEvent({
      settings: testSettings({ mostro: { fee: 0.006 } }),
      nodePubkey: NODE,
      lnd,
      mostroVersion: '0.17.1',
      commitHash: 'd6de05f810b1eb9bc3371cf8eb20b343603e23ec',
      now: 1731701441,
    });
    assert.equal(ev.kind, 38385);
    assert.equal(ev.created_at, 1731701441);
    assert.deepEqual(ev.tags, [
      ['d', NODE],
      ['mostro_version', '0.17.1'],
      ['mostro_commit_hash', 'd6de05f810b1eb9bc3371cf8eb20b343603e23ec'],
      ['max_order_amount', '1000000'],
      ['min_order_amount', '100'],
      ['expiration_hours', '24'],
      ['expiration_seconds', '900'],
      ['fiat_currencies_accepted', 'USD,EUR,ARS,CUP'],
      ['max_orders_per_response', '10'],
      ['fee', '0.006'],
      ['pow', '0'],
      ['hold_invoice_expiration_window', '300'],
      ['hold_invoice_cltv_delta', '144'],
      // Q7 fixed: the buyer-invoice window (3600), not a copy of the hold-invoice window (300).
      ['invoice_expiration_window', '3600'],
      ['lnd_version', '0.18.4-beta commit=v0.18.4-beta'],
      ['lnd_node_pubkey', '0220e4558a8d9af4988ef6c8def0e73b05403819e49b7fb2db79d322ac3be1547e'],
      ['lnd_commit_hash', 'ddeb8351684a611f6c27f16f09be75d5c039f08c'],
      ['lnd_node_alias', 'alice'],
      ['lnd_chains', 'bitcoin'],
      ['lnd_networks', 'regtest'],
      ['lnd_uris', '0220e4558a8d9af4988ef6c8def0e73b05403819e49b7fb2db79d322ac3be1547e@172.26.0.2:9735'],
      ['y', 'mostro'],
      ['z', 'info'],
    ]);
  });
});

void describe('kind 38386 dispute event', () => {
  void test('PROTOCOL.md §8.5 example', () => {
    const ev = buildDisputeEvent({
      dispute: { id: 'efc75871-2568-40b9-a6ee-c382d4d6de01', status: 'initiated' },
      initiator: 'seller',
      settings: testSettings(),
      now: 1703016565,
    });
    assert.equal(ev.kind, 38386);
    assert.deepEqual(ev.tags, [
      ['d', 'efc75871-2568-40b9-a6ee-c382d4d6de01'],
      ['expiration', '1710792565'],
      ['s', 'initiated'],
      ['initiator', 'seller'],
      ['y', 'mostro'],
      ['z', 'dispute'],
    ]);
  });
});

void describe('kind 8383 dev-fee audit event', () => {
  void test('PROTOCOL.md §8.6 example: regular event, expiration last', () => {
    const ev = buildDevFeeAuditEvent({
      orderId: ORDER_ID,
      devFee: 14,
      paymentHash: 'ca2f47b7',
      destination: 'pivotaldeborah52@walletofsatoshi.com',
      network: 'mainnet',
      settings: testSettings(),
      now: 1768256716,
    });
    assert.equal(ev.kind, 8383);
    assert.deepEqual(ev.tags, [
      ['order-id', ORDER_ID],
      ['amount', '14'],
      ['hash', 'ca2f47b7'],
      ['destination', 'pivotaldeborah52@walletofsatoshi.com'],
      ['network', 'mainnet'],
      ['y', 'mostro'],
      ['z', 'dev-fee-payment'],
      ['expiration', '1799792716'],
    ]);
  });
});

void describe('kind 30078 exchange rates', () => {
  void test('PROTOCOL.md §8.7 example', () => {
    const ev = buildExchangeRatesEvent({
      rates: { USD: 50000, EUR: 45000, VES: 850000000, BTC: 1 },
      updateIntervalSeconds: 300,
      settings: testSettings(),
      now: 1732546800,
    });
    assert.equal(ev.kind, 30078);
    assert.deepEqual(ev.tags, [
      ['d', 'mostro-rates'],
      ['published_at', '1732546800'],
      ['source', 'yadio'],
      ['expiration', '1732547400'],
    ]);
    assert.equal(ev.content, '{"BTC":{"USD":50000.0,"EUR":45000.0,"VES":850000000.0,"BTC":1.0}}');
  });

  void test('expiration is capped at one hour', () => {
    const ev = buildExchangeRatesEvent({ rates: { USD: 1.5 }, updateIntervalSeconds: 7200, settings, now: 10 });
    assert.deepEqual(ev.tags[3], ['expiration', '3610']);
    assert.equal(ev.content, '{"BTC":{"USD":1.5}}');
  });
});

void describe('kind 0 metadata and kind 10002 relay list', () => {
  void test('PROTOCOL.md §8.8 examples', () => {
    const ev = buildMetadataEvent(
      {
        name: 'Mostro P2P',
        about: 'A peer-to-peer Bitcoin trading daemon',
        website: 'https://mostro.network',
        picture: 'https://example.com/mostro-avatar.png',
      },
      1731701441,
    );
    assert.deepEqual(ev, {
      kind: 0,
      tags: [],
      created_at: 1731701441,
      content:
        '{"name":"Mostro P2P","about":"A peer-to-peer Bitcoin trading daemon","website":"https://mostro.network/","picture":"https://example.com/mostro-avatar.png"}',
    });
    assert.deepEqual(buildRelayListEvent(['wss://relay.mostro.network', 'wss://nos.lol'], 1731680102), {
      kind: 10002,
      tags: [
        ['r', 'wss://relay.mostro.network'],
        ['r', 'wss://nos.lol'],
      ],
      content: '',
      created_at: 1731680102,
    });
  });

  void test('invalid URLs are left out; nothing set → no event', () => {
    assert.equal(buildMetadataEvent({}, 1), null);
    assert.equal(buildMetadataEvent({ website: 'not a url' }, 1), null);
    assert.equal(buildMetadataEvent({ about: 'x', picture: 'mostro.png' }, 1)?.content, '{"about":"x"}');
  });
});

void describe('helpers', () => {
  void test('yTag', () => {
    assert.deepEqual(yTag(), ['y', 'mostro']);
    assert.deepEqual(yTag('   '), ['y', 'mostro']);
    assert.deepEqual(yTag('  Node X '), ['y', 'mostro', 'Node X']);
  });

  void test('expirationFor: per-kind days, section absent, kinds without lifetime', () => {
    const s = testSettings();
    assert.equal(expirationFor(38383, s, 0), 30 * 86400);
    assert.equal(expirationFor(38384, s, 0), 90 * 86400);
    assert.equal(expirationFor(38386, s, 0), 90 * 86400);
    assert.equal(expirationFor(8383, s, 0), 365 * 86400);
    assert.equal(expirationFor(38385, s, 0), null);
    assert.equal(expirationFor(30078, s, 0), null);
    const none = testSettings({ expiration: null, mostro: { max_expiration_days: 15 } });
    for (const k of [38383, 38384, 38386, 8383]) assert.equal(expirationFor(k, none, 5), 5 + 15 * 86400);
    assert.equal(expirationFor(38385, none, 5), null);
  });

  void test('displayF64 is Rust Display', () => {
    const cases: [number, string][] = [
      [3, '3'],
      [2.5, '2.5'],
      [0, '0'],
      [-0, '-0'],
      [0.006, '0.006'],
      [1e16, '10000000000000000'],
      [1e-7, '0.0000001'],
      [123.456, '123.456'],
      [-1.5, '-1.5'],
      [2.6666666666666665, '2.6666666666666665'],
      [NaN, 'NaN'],
      [Infinity, 'inf'],
      [-Infinity, '-inf'],
    ];
    for (const [x, want] of cases) assert.equal(displayF64(x), want, String(x));
  });

  void test('daysSince / orderRatingFor / networkTagValue', () => {
    assert.equal(daysSince(0, 1e9), 0);
    assert.equal(daysSince(1000, 1000 + 86400 * 3 - 1), 2);
    assert.equal(daysSince(2000, 1000), 0);
    assert.deepEqual(orderRatingFor({ total_rating: 4.5, total_reviews: 7, created_at: 100 }, 100 + 86400 * 10), {
      total_rating: 4.5,
      total_reviews: 7,
      days: 10,
    });
    assert.equal(networkTagValue(null), 'unknown');
    assert.equal(networkTagValue(['mainnet', 'testnet']), 'mainnet,testnet');
  });
});
