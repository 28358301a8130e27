/**
 * Issue 16 against the BUILT daemon: four price APIs configured in [price], each a local server
 * answering in its provider's real format; currency_api is down (HTTP 503) and blockchain never
 * answers (past provider_timeout_seconds). A market-price sell order of 100 USD is created, taken,
 * paid, released and paid out at the MEDIAN of the two sources that answered (99 000 and 101 000
 * → 100 000 USD/BTC → 100 000 sats), and the node's kind-30078 event lists those sources.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PriceApiServer } from '../support/price-apis.js';
import {
  escrowOf,
  expectMsg,
  msg,
  order,
  paymentsOf,
  payloadOrder,
  settlesOf,
  startE2E,
  tagValue,
  waitFor,
  waitForEvent,
  waitForStatus,
  type E2E,
} from './e2e-harness.js';

void describe('e2e: market-price trade with two of four price providers down', () => {
  let e: E2E;
  let apis: PriceApiServer[];
  before(async () => {
    const [yadio, coingecko, currencyApi, blockchain] = await Promise.all([
      PriceApiServer.start('yadio', { USD: 99_000, EUR: 89_000, VES: 12_000_000 }),
      PriceApiServer.start('coingecko', { USD: 101_000, EUR: 91_000 }),
      PriceApiServer.start('currency_api', { USD: 100_000 }),
      PriceApiServer.start('blockchain', { USD: 100_000 }),
    ]);
    apis = [yadio!, coingecko!, currencyApi!, blockchain!];
    currencyApi!.mode = 'down';
    blockchain!.mode = 'hang';
    e = await startE2E({
      settings: {
        price: { update_interval_seconds: 300, provider_timeout_seconds: 1, max_price_staleness_seconds: 1800 },
        'price.providers.yadio': { enabled: true, url: yadio!.url },
        'price.providers.coingecko': { enabled: true, url: coingecko!.url },
        'price.providers.currency_api': { enabled: true, url: currencyApi!.url },
        'price.providers.blockchain': { enabled: true, url: blockchain!.url },
      },
    });
  });
  after(async () => {
    await e.close();
    await Promise.all(apis.map((a) => a.close()));
  });

  void test('the trade settles at the median of the sources that answered', async () => {
    const { sb } = e;
    // the first poll is done once the rates event is out; it names the sources that made it
    const rates = await waitForEvent(sb, '30078 rates', (ev) => ev.kind === 30078 && tagValue(ev, 'd') === 'mostro-rates');
    assert.equal(rates.pubkey, sb.nodePubkey);
    assert.deepEqual(JSON.parse(rates.content), { BTC: { EUR: 90_000, USD: 100_000, VES: 12_000_000 } });
    assert.equal(tagValue(rates, 'source'), 'coingecko,yadio');
    assert.deepEqual(
      rates.tags.filter((t) => t[0] === 'rate_sources'),
      [
        ['rate_sources', 'EUR', 'coingecko,yadio'],
        ['rate_sources', 'USD', 'coingecko,yadio'],
        ['rate_sources', 'VES', 'yadio'],
      ],
    );
    assert.equal(sb.prices.requests, 0, 'the legacy bitcoin_price_api_url is not used when [price] is set');
    // The daemon's log file may be written a moment after the event is out (pino flushes async).
    const failedSources = () => sb.logs().filter((l) => l['msg'] === 'price source failed').map((l) => String(l['provider']));
    await waitFor('price source failures logged', () => new Set(failedSources()).size >= 2);
    assert.deepEqual([...new Set(failedSources())].sort(), ['blockchain', 'currency_api']);

    const seller = await e.client();
    const buyer = await e.client();
    const ts = seller.tradeKey(1);
    const tb = buyer.tradeKey(1);
    await seller.send(msg('new-order', undefined, { requestId: 1n, tradeIndex: 1, payload: { order: order({ kind: 'sell', amount: 0n, fiat_amount: 100n }) } }), { tradeKey: ts });
    const created = await expectMsg(seller, ts, 'new-order', { requestId: 1n });
    const orderId = created.message.kind.id;
    assert.ok(orderId !== undefined);

    await buyer.send(msg('take-sell', orderId, { requestId: 2n, tradeIndex: 1 }), { tradeKey: tb });
    const addInv = await expectMsg(buyer, tb, 'add-invoice', { id: orderId, requestId: 2n });
    // 100 USD at 100 000 USD/BTC = 100 000 sats (Yadio alone: 101 010; CoinGecko alone: 99 009)
    assert.equal(payloadOrder(addInv).amount, 100_000n - 300n);
    const payout = sb.sim.createPayeeInvoice({ sats: 99_700, expirySeconds: 7200 });
    await buyer.send(msg('add-invoice', orderId, { requestId: 3n, payload: { payment_request: [null, payout.paymentRequest, null] } }), { tradeKey: tb });
    await expectMsg(seller, ts, 'pay-invoice', { id: orderId, requestId: 3n, match: (r) => r.message.kind.payload !== null && 'payment_request' in r.message.kind.payload });
    const escrow = escrowOf(sb, orderId);
    assert.equal(escrow.valueSat, 100_300);
    sb.sim.payHoldInvoice(escrow.hash);
    await expectMsg(buyer, tb, 'hold-invoice-payment-accepted', { id: orderId });
    await waitForStatus(sb, orderId, 'active');
    await buyer.send(msg('fiat-sent', orderId, { requestId: 4n }), { tradeKey: tb });
    await waitForStatus(sb, orderId, 'fiat-sent');
    await seller.send(msg('release', orderId, { requestId: 5n }), { tradeKey: ts });
    await expectMsg(buyer, tb, 'purchase-completed', { id: orderId });
    const row = await waitForStatus(sb, orderId, 'success');
    assert.equal(row['amount'], 100_000);
    assert.equal(row['fee'], 300);
    assert.equal(settlesOf(sb, escrow.hash), 1);
    assert.equal(paymentsOf(sb, payout.hash), 1);
    assert.equal(sb.sim.paymentsByHash.get(payout.hash)?.amountMsat, 99_700_000n);
  });
});
