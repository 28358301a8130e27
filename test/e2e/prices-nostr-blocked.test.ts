/**
 * Issue 16, the trader behind a blocked price API: the BUILT daemon's only HTTP price source
 * cannot be reached, but `[price.providers.nostr]` trusts another Mostro node whose kind-30078
 * rates are on the relay (next to a stranger's, lower ones). Market orders are priced from the
 * trusted node's rates; the node does not republish rates it only got over Nostr.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { finalizeEvent } from '../../src/crypto/event.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { FakeClock } from '../support/fake-clock.js';
import { closedPortUrl } from '../support/price-server.js';
import { newKeys } from '../support/test-context.js';
import { expectMsg, msg, order, payloadOrder, startE2E, waitFor, type E2E } from './e2e-harness.js';

void describe('e2e: HTTP price APIs blocked, rates from a trusted Mostro node over Nostr', () => {
  let e: E2E;
  const trustedNode = newKeys();
  const stranger = newKeys();

  before(async () => {
    const blocked = await closedPortUrl();
    e = await startE2E({
      startDaemon: false,
      settings: {
        price: { provider_timeout_seconds: 2 },
        'price.providers.yadio': { enabled: true, url: blocked },
        'price.providers.nostr': { enabled: true, trusted_nodes: [trustedNode.pubkey] },
      },
    });
    const now = Math.floor(Date.now() / 1000);
    const pool = new RelayPool({ urls: [e.sb.relay.url], clock: new FakeClock(now), logger: pino({ level: 'silent' }), filter: null });
    pool.start();
    await pool.waitForConnection();
    for (const [k, usd, at] of [
      [trustedNode, 100_000, now - 120],
      [stranger, 50_000, now - 5],
    ] as const) {
      const ev = finalizeEvent(
        {
          kind: 30078,
          created_at: at,
          tags: [['d', 'mostro-rates'], ['published_at', String(at)], ['source', 'yadio'], ['expiration', String(now + 3600)]],
          content: JSON.stringify({ BTC: { USD: usd, EUR: usd * 0.9 } }),
        },
        k.secretKey,
      );
      const [r] = await pool.publish(ev);
      assert.equal(r?.ok, true, r?.message);
    }
    await pool.close();
    await e.sb.startDaemon();
  });
  after(async () => {
    await e.close();
  });

  void test('a market order is priced from the trusted node’s rates, not the stranger’s', async () => {
    const { sb } = e;
    await waitFor('a price poll', () => sb.logs().some((l) => l['msg'] === 'Bitcoin prices updated'));
    const logs = sb.logs();
    assert.ok(logs.some((l) => l['msg'] === 'price source failed' && l['provider'] === 'yadio'));
    assert.ok(logs.some((l) => l['msg'] === 'price source ok' && l['provider'] === 'nostr' && l['currencies'] === 2));

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
    // 100 USD at the trusted node's 100 000 USD/BTC (the stranger's 50 000 would give 200 000 sats)
    assert.equal(payloadOrder(addInv).amount, 100_000n - 300n);

    // rates this node only got over Nostr are not republished under its key
    const own = sb.relay.events().filter((ev) => ev.kind === 30078 && ev.pubkey === sb.nodePubkey);
    assert.deepEqual(own, []);
  });
});
