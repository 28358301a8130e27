/**
 * `npm run demo`: a whole Mostro sell trade (PROTOCOL.md §9.1) against the built daemon in a local
 * sandbox — a Nostr relay, an LND simulator, a price server — with two clients, printing every
 * message who → whom. Daemon logs are shown only with DEBUG=1. Exit 0 on success, 1 on any failure.
 */
import type { Message } from '../src/protocol/types.js';
import type { ClientKey, Reply, TestClient } from '../test/support/client.js';
import { escrowOf, expectMsg, msg, order, orderEventStates, orderRow, paymentsOf, settlesOf, startE2E, waitFor, waitForStatus, type E2E } from '../test/e2e/e2e-harness.js';

const DEBUG = process.env['DEBUG'] !== undefined && process.env['DEBUG'] !== '' && process.env['DEBUG'] !== '0';
const started = Date.now();
const short = (s: string | undefined, n = 8): string => (s === undefined ? '-' : s.length > n + 3 ? `${s.slice(0, n)}…` : s);
const t = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;

function describeMessage(m: Message): string {
  const k = m.kind;
  const parts: string[] = [k.action];
  if (k.id !== undefined) parts.push(`order ${short(k.id)}`);
  parts.push(`request_id ${k.request_id === null ? 'null' : k.request_id.toString()}`);
  if (k.trade_index !== null) parts.push(`trade_index ${k.trade_index.toString()}`);
  const p = k.payload;
  if (p !== null) {
    if ('order' in p) parts.push(`{status ${p.order.status ?? '-'}, amount ${p.order.amount.toString()} sats, ${p.order.fiat_amount.toString()} ${p.order.fiat_code}}`);
    else if ('payment_request' in p) {
      const o = p.payment_request[0];
      parts.push(`{invoice ${short(p.payment_request[1], 20)}${o !== null ? `, status ${o.status ?? '-'}, amount ${o.amount.toString()} sats` : ''}}`);
    } else if ('peer' in p) parts.push(`{peer ${p.peer.pubkey === '' ? '(hidden)' : short(p.peer.pubkey)}${p.peer.reputation !== null ? `, rating ${p.peer.reputation.rating}, reviews ${p.peer.reputation.reviews.toString()}` : ''}}`);
    else if ('rating_user' in p) parts.push(`{rating ${p.rating_user}}`);
    else if ('cant_do' in p) parts.push(`{reason ${p.cant_do ?? 'none'}}`);
    else parts.push(JSON.stringify(p, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  }
  return parts.join('  ');
}

interface Party {
  name: string;
  client: TestClient;
  key: ClientKey;
}

function say(line: string): void {
  process.stdout.write(`${t()}  ${line}\n`);
}

async function send(from: Party, m: Message): Promise<void> {
  await from.client.send(m, { tradeKey: from.key });
  say(`${from.name.padEnd(6)} → node   : ${describeMessage(m)}`);
}

async function receive(to: Party, action: Message['kind']['action'], match?: (r: Reply) => boolean): Promise<Reply> {
  const r = await expectMsg(to.client, to.key, action, match !== undefined ? { match } : {}, 15_000);
  say(`node   → ${to.name.padEnd(6)} : ${describeMessage(r.message)}`);
  return r;
}

function note(line: string): void {
  say(`       · ${line}`);
}

async function main(): Promise<void> {
  say('starting the sandbox: relay, LND simulator, price server, and the built daemon (dist/main.js)…');
  const e: E2E = await startE2E({ echoLogs: DEBUG });
  try {
    const { sb } = e;
    note(`daemon ready — node ${short(sb.nodePubkey, 16)}, relay ${sb.relay.url}, fee 0.6% (0.3% per side), BTC = 100 000 USD`);
    const seller: Party = { name: 'seller', client: await e.client(), key: { sk: new Uint8Array(), pubkey: '', index: 0 } };
    seller.key = seller.client.tradeKey(1);
    const buyer: Party = { name: 'buyer', client: await e.client(), key: { sk: new Uint8Array(), pubkey: '', index: 0 } };
    buyer.key = buyer.client.tradeKey(1);
    note(`seller trade key ${short(seller.key.pubkey)}, buyer trade key ${short(buyer.key.pubkey)}`);

    process.stdout.write('\n— 1. the seller publishes a sell order: 100 USD at market price —\n');
    await send(seller, msg('new-order', undefined, { requestId: 1n, tradeIndex: 1, payload: { order: order({ kind: 'sell', amount: 0n, fiat_amount: 100n, payment_method: 'bank transfer' }) } }));
    const created = await receive(seller, 'new-order');
    const orderId = created.message.kind.id;
    if (orderId === undefined) throw new Error('new-order reply without an order id');
    await waitFor('public order event', () => orderEventStates(sb, orderId).includes('pending'));
    note(`public order event (kind 38383) on the relay: s=pending`);

    process.stdout.write('\n— 2. the buyer takes it and sends a Lightning invoice —\n');
    await send(buyer, msg('take-sell', orderId, { requestId: 2n, tradeIndex: 1 }));
    const ask = await receive(buyer, 'add-invoice');
    await receive(seller, 'waiting-buyer-invoice');
    const askPayload = ask.message.kind.payload;
    const sats = askPayload !== null && 'order' in askPayload ? Number(askPayload.order.amount) : 0;
    const payout = sb.sim.createPayeeInvoice({ sats, expirySeconds: 7200 });
    note(`buyer's wallet makes an invoice for ${sats} sats`);
    await send(buyer, msg('add-invoice', orderId, { requestId: 3n, payload: { payment_request: [null, payout.paymentRequest, null] } }));
    await receive(seller, 'pay-invoice', (r) => r.message.kind.payload !== null && 'peer' in r.message.kind.payload);
    await receive(seller, 'pay-invoice', (r) => r.message.kind.payload !== null && 'payment_request' in r.message.kind.payload);
    await receive(buyer, 'waiting-seller-to-pay');

    process.stdout.write('\n— 3. the seller pays the hold invoice (escrow) —\n');
    const escrow = escrowOf(sb, orderId);
    sb.sim.payHoldInvoice(escrow.hash);
    note(`seller's wallet pays the hold invoice: ${escrow.valueSat} sats held, not settled`);
    await receive(seller, 'buyer-took-order');
    await receive(buyer, 'hold-invoice-payment-accepted');

    process.stdout.write('\n— 4. fiat is sent, the seller releases —\n');
    await send(buyer, msg('fiat-sent', orderId, { requestId: 4n }));
    await receive(seller, 'fiat-sent-ok');
    await receive(buyer, 'fiat-sent-ok');
    await send(seller, msg('release', orderId, { requestId: 5n }));
    await receive(buyer, 'released');
    await receive(seller, 'hold-invoice-payment-settled');
    await receive(seller, 'rate');
    await receive(buyer, 'purchase-completed');
    await receive(buyer, 'rate');

    process.stdout.write('\n— 5. both rate each other —\n');
    await send(buyer, msg('rate-user', orderId, { requestId: 6n, payload: { rating_user: 5 } }));
    await receive(buyer, 'rate-received');
    await send(seller, msg('rate-user', orderId, { requestId: 7n, payload: { rating_user: 5 } }));
    await receive(seller, 'rate-received');

    const row = await waitForStatus(sb, orderId, 'success');
    await waitFor('public success event', () => orderEventStates(sb, orderId).at(-1) === 'success');
    const paid = sb.sim.paymentsByHash.get(payout.hash);
    const settles = settlesOf(sb, escrow.hash);
    const payments = paymentsOf(sb, payout.hash);
    const states = orderEventStates(sb, orderId).filter((x, i, xs) => i === 0 || xs[i - 1] !== x);
    process.stdout.write('\n— summary —\n');
    process.stdout.write(`  order ${orderId}: status ${String(row['status'])}\n`);
    process.stdout.write(`  amount ${String(row['amount'])} sats, fee ${String(row['fee'])} sats per side\n`);
    process.stdout.write(`  seller paid ${escrow.valueSat} sats into escrow; buyer received ${paid === undefined ? 0 : Number(paid.amountMsat / 1000n)} sats\n`);
    process.stdout.write(`  LND: ${settles} settle of the escrow, ${payments} payment to the buyer\n`);
    process.stdout.write(`  public order event states: ${states.join(' → ')}\n`);
    const ok = row['status'] === 'success' && settles === 1 && payments === 1 && paid?.status === 'SUCCEEDED' && orderRow(sb, orderId) !== undefined;
    if (!ok) throw new Error('the trade did not end as expected (see the summary)');
    process.stdout.write(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await e.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\ndemo FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    if (!DEBUG) process.stderr.write('run with DEBUG=1 to see the daemon logs\n');
    process.exit(1);
  },
);
