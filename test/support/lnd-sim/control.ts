/**
 * HTTP control channel of the LND simulator (127.0.0.1 only), so e2e tests can drive a simulator
 * running as a separate process: pay hold invoices, mine blocks, script payments, read the call log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LndSim, PaymentOutcome } from './sim.js';

/** JSON with Buffers as hex and bigints as strings. */
export function toJsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return Buffer.from((v as { data: number[] }).data).toString('hex');
      }
      return v;
    }),
  );
}

export interface SimState {
  port: number;
  running: boolean;
  blockHeight: number;
  nodePubkey: string;
  settles: string[];
  cancels: string[];
  payments: LndSim['payments'];
  invoices: Array<{ hash: string; state: string; valueSat: number; cltvExpiry: number; expiry: number; paymentRequest: string }>;
  paymentsByHash: Array<{ hash: string; status: string; attempts: number }>;
  calls: Array<{ method: string; at: number; request: unknown }>;
}

export function simState(sim: LndSim): SimState {
  return toJsonSafe({
    port: sim.port,
    running: sim.running,
    blockHeight: sim.blockHeight,
    nodePubkey: sim.nodePubkey,
    settles: sim.settles,
    cancels: sim.cancels,
    payments: sim.payments,
    invoices: [...sim.invoices.values()].map((i) => ({
      hash: i.hash,
      state: i.state,
      valueSat: i.valueSat,
      cltvExpiry: i.cltvExpiry,
      expiry: i.expiry,
      paymentRequest: i.paymentRequest,
    })),
    paymentsByHash: [...sim.paymentsByHash.values()].map((p) => ({ hash: p.hash, status: p.status, attempts: p.attempts })),
    calls: sim.calls,
  }) as SimState;
}

type Body = Record<string, unknown>;

function str(b: Body, k: string): string {
  const v = b[k];
  if (typeof v !== 'string') throw new Error(`missing ${k}`);
  return v;
}

export async function startSimControl(sim: LndSim, port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const routes: Record<string, (b: Body) => unknown> = {
    'GET /state': () => simState(sim),
    'POST /pay-hold-invoice': (b) => sim.payHoldInvoice(str(b, 'hash')),
    'POST /mine-blocks': (b) => sim.mineBlocks(Number(b['n'] ?? 1)),
    'POST /expire-hold-invoice': (b) => sim.expireHoldInvoice(str(b, 'hash')),
    'POST /payment-outcome': (b) => sim.setPaymentOutcome(str(b, 'match'), b['outcome'] as PaymentOutcome),
    'POST /default-payment-outcome': (b) => sim.setDefaultPaymentOutcome(b['outcome'] as PaymentOutcome),
    'POST /release-payment': (b) => sim.releasePayment(str(b, 'hash'), b['outcome'] === 'fail' ? 'fail' : 'succeed'),
    'POST /drop-streams': (b) => sim.dropStreams({ withError: b['withError'] === true }),
    'POST /payee-invoice': (b) =>
      sim.createPayeeInvoice({
        ...(b['sats'] !== undefined ? { sats: b['sats'] as number | null } : {}),
        ...(typeof b['amountMsat'] === 'string' ? { amountMsat: BigInt(b['amountMsat']) } : {}),
        ...(typeof b['expirySeconds'] === 'number' ? { expirySeconds: b['expirySeconds'] } : {}),
        ...(typeof b['minFinalCltv'] === 'number' ? { minFinalCltv: b['minFinalCltv'] } : {}),
        ...(typeof b['descriptionHash'] === 'string' ? { descriptionHash: b['descriptionHash'] } : {}),
      }),
    'POST /stop': () => sim.stop(),
    'POST /restart': () => sim.restart(),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = routes[`${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`];
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body ?? null));
      };
      if (!route) return reply(404, { error: 'no such route' });
      void (async () => {
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          const body = (text ? JSON.parse(text) : {}) as Body;
          reply(200, toJsonSafe(await route(body)));
        } catch (err) {
          reply(400, { error: (err as Error).message });
        }
      })();
    });
  });
  const bound = await new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Client of the control channel, for tests that run the simulator as a process. */
export class LndSimClient {
  constructor(private readonly baseUrl: string) {}

  private async call<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(toJsonSafe(body)) } : {}),
    });
    const json = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`lnd-sim ${route}: ${json.error ?? res.status}`);
    return json;
  }

  state(): Promise<SimState> {
    return this.call('GET', '/state');
  }
  payHoldInvoice(hash: string): Promise<void> {
    return this.call('POST', '/pay-hold-invoice', { hash });
  }
  mineBlocks(n: number): Promise<void> {
    return this.call('POST', '/mine-blocks', { n });
  }
  expireHoldInvoice(hash: string): Promise<void> {
    return this.call('POST', '/expire-hold-invoice', { hash });
  }
  setPaymentOutcome(match: string, outcome: PaymentOutcome): Promise<void> {
    return this.call('POST', '/payment-outcome', { match, outcome });
  }
  setDefaultPaymentOutcome(outcome: PaymentOutcome): Promise<void> {
    return this.call('POST', '/default-payment-outcome', { outcome });
  }
  releasePayment(hash: string, outcome: 'succeed' | 'fail'): Promise<void> {
    return this.call('POST', '/release-payment', { hash, outcome });
  }
  dropStreams(withError = false): Promise<void> {
    return this.call('POST', '/drop-streams', { withError });
  }
  createPayeeInvoice(o: { sats?: number | null; amountMsat?: bigint; expirySeconds?: number; minFinalCltv?: number; descriptionHash?: string }): Promise<{
    paymentRequest: string;
    hash: string;
    preimage: string;
  }> {
    return this.call('POST', '/payee-invoice', o);
  }
  stop(): Promise<void> {
    return this.call('POST', '/stop');
  }
  restart(): Promise<void> {
    return this.call('POST', '/restart');
  }
}
