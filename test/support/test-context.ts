/**
 * A complete AppContext for handler/flow tests: real in-memory SQLite (migrated), FakeLightning,
 * MemoryOutbox, FakeClock, a fixed-price PriceService, a fake LNURL resolver, a silent logger.
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import * as bolt11 from 'bolt11';
import { KeyedLock } from '../../src/app/locks.js';
import type { Inbound } from '../../src/app/inbound.js';
import type {
  AlertsSettings,
  BackupSettings,
  DatabaseSettings,
  HttpSettings,
  ExpirationSettings,
  LightningSettings,
  MostroSettings,
  NostrSettings,
  PriceSettings,
  RpcSettings,
  Settings,
} from '../../src/config/types.js';
import { TaskTracker, type AppContext, type MostroKeys } from '../../src/context.js';
import { getPublicKey, bytesToHex } from '../../src/crypto/secp.js';
import type { LnurlResolver } from '../../src/lightning/lnurl.js';
import type { CachedPrice, PriceService, PriceStatus } from '../../src/price/types.js';
import type { Clock } from '../../src/clock.js';
import { testDb } from './db.js';
import { OrderChangeAcks } from '../../src/db/order-changes.js';
import { BanList } from '../../src/app/bans.js';
import { UnratedBudgets } from '../../src/app/unrated-budget.js';
import { FakeClock } from './fake-clock.js';
import { FakeLightning } from './fake-lightning.js';
import { MemoryOutbox } from './memory-outbox.js';

export interface SettingsOverrides {
  lightning?: Partial<LightningSettings>;
  nostr?: Partial<NostrSettings>;
  mostro?: Partial<MostroSettings>;
  database?: Partial<DatabaseSettings>;
  rpc?: Partial<RpcSettings>;
  http?: Partial<HttpSettings>;
  alerts?: Partial<AlertsSettings>;
  backup?: Partial<BackupSettings>;
  /** null = no [expiration] section. */
  expiration?: Partial<ExpirationSettings> | null;
  /** the [price] section (default null: none, Yadio alone from [mostro]). */
  price?: PriceSettings | null;
}

/** settings.tpl.toml defaults (mostrod 0.17.1 template + this port's added keys). */
export function testSettings(overrides: SettingsOverrides = {}): Settings {
  const expiration: ExpirationSettings = { order_days: 30, rating_days: 90, dispute_days: 90, fee_audit_days: 365, dm_days: 30 };
  const base: Omit<Settings, 'expiration' | 'price' | 'http' | 'alerts' | 'backup'> = {
    lightning: {
      lnd_cert_file: '/dev/null',
      lnd_macaroon_file: '/dev/null',
      lnd_grpc_host: 'https://127.0.0.1:10001',
      invoice_expiration_window: 3600,
      hold_invoice_cltv_delta: 144,
      hold_invoice_expiration_window: 300,
      payment_attempts: 3,
      payment_retries_interval: 60,
      escrow_deadline_margin_blocks: 12,
      max_invoice_final_cltv_delta: 144,
      payment_timeout_seconds: 75,
    },
    nostr: {
      nsec_privkey: '11'.repeat(32),
      relays: ['ws://localhost:7000'],
    },
    mostro: {
      fee: 0,
      max_routing_fee: 0.002,
      max_order_amount: 1_000_000,
      min_payment_amount: 100,
      expiration_hours: 24,
      max_expiration_days: 15,
      expiration_seconds: 900,
      user_rates_sent_interval_seconds: 3600,
      publish_relays_interval: 60,
      pow: 0,
      transport: 'gift-wrap',
      active_pubkeys_refresh_interval: 60,
      transport_retention_days: 30,
      publish_mostro_info_interval: 300,
      bitcoin_price_api_url: 'https://api.yadio.io',
      fiat_currencies_accepted: ['USD', 'EUR', 'ARS', 'CUP'],
      max_orders_per_response: 10,
      max_pending_orders_per_user: 0,
      max_abandoned_takes: 0,
      abandoned_takes_window_hours: 24,
      unrated_orders_per_minute: 0,
      unrated_takes_per_minute: 0,
      dev_fee_percentage: 0.3,
      publish_exchange_rates_to_nostr: true,
      exchange_rates_update_interval_seconds: 300,
      max_price_staleness_seconds: 900,
      lnurl_allow_private_hosts: false,
    },
    database: { url: 'sqlite://mostro.db' },
    rpc: { enabled: false, listen_address: '127.0.0.1', port: 50051, rate_limiter_stale_duration: 3600 },
  };
  return {
    lightning: { ...base.lightning, ...overrides.lightning },
    nostr: { ...base.nostr, ...overrides.nostr },
    mostro: { ...base.mostro, ...overrides.mostro },
    database: { ...base.database, ...overrides.database },
    rpc: { ...base.rpc, ...overrides.rpc },
    expiration: overrides.expiration === null ? null : { ...expiration, ...overrides.expiration },
    price: overrides.price ?? null,
    http: { enabled: false, listen_address: '127.0.0.1', port: 9464, ...overrides.http },
    alerts: {
      check_interval_seconds: 60,
      lnd_down_minutes: 5,
      relays_down_minutes: 2,
      escrow_deadline_blocks: 72,
      price_stale_seconds: 1800,
      overload_shed_events: 100,
      overload_quiet_minutes: 10,
      order_events_unaccepted_minutes: 15,
      dispute_events_unaccepted_minutes: 15,
      ...overrides.alerts,
    },
    backup: { keep: 7, ...overrides.backup },
  };
}

/** PriceService stub: fixed prices (fiat per BTC), always fresh unless removed or marked stale. */
export class FixedPriceService implements PriceService {
  readonly prices = new Map<string, number>();
  private readonly stale = new Set<string>();

  constructor(
    private readonly clock: Clock,
    initial: Record<string, number> = {},
  ) {
    for (const [k, v] of Object.entries(initial)) this.prices.set(k, v);
  }

  set(code: string, price: number): void {
    this.prices.set(code, price);
    this.stale.delete(code);
  }

  remove(code: string): void {
    this.prices.delete(code);
  }

  /** Keep the price but report it as stale (price() → null). */
  markStale(code: string): void {
    this.stale.add(code);
  }

  price(fiatCode: string): CachedPrice | null {
    const p = this.prices.get(fiatCode);
    if (p === undefined || this.stale.has(fiatCode)) return null;
    return { price: p, fetchedAt: this.clock.now() };
  }

  refresh(): Promise<number> {
    return Promise.resolve(this.prices.size);
  }

  snapshot(): { rates: Map<string, number>; fetchedAt: number } | null {
    return { rates: new Map(this.prices), fetchedAt: this.clock.now() };
  }

  /** One fixed source; stale-marked currencies are reported stale. */
  status(): PriceStatus {
    const now = this.clock.now();
    return {
      now,
      maxStalenessSeconds: 900,
      lastRefreshAt: now,
      sources: [],
      currencies: [...this.prices].map(([code, price]) => ({
        code,
        price,
        sources: ['fixed'],
        asOf: now,
        ageSeconds: 0,
        stale: this.stale.has(code),
      })),
    };
  }
}

/** LNURL resolver stub: every target is reachable unless listed in `unreachable`. */
export class FakeLnurlResolver implements LnurlResolver {
  readonly unreachable = new Set<string>();
  readonly checks: string[] = [];
  readonly resolutions: { target: string; amountSats: number }[] = [];
  /** target → bolt11 returned by resolveInvoice (default: a fake string). */
  readonly invoices = new Map<string, string>();

  check(target: string, _amountSats?: number): Promise<void> {
    this.checks.push(target);
    if (this.unreachable.has(target)) return Promise.reject(new Error(`lnurl target unreachable: ${target}`));
    return Promise.resolve();
  }

  resolveInvoice(target: string, amountSats: number, _opts?: unknown): Promise<string> {
    this.resolutions.push({ target, amountSats });
    if (this.unreachable.has(target)) return Promise.reject(new Error(`lnurl target unreachable: ${target}`));
    return Promise.resolve(this.invoices.get(target) ?? `lnbcrtfakelnurl${amountSats}x${target}`);
  }
}

export interface TestContext extends AppContext {
  lightning: FakeLightning;
  outbox: MemoryOutbox;
  clock: FakeClock;
  prices: FixedPriceService;
  lnurl: FakeLnurlResolver;
}

export interface TestContextOverrides {
  settings?: SettingsOverrides;
  /** Fixed BTC prices per fiat code (default USD 50 000, EUR 45 000, ARS 50 000 000, CUP 10 000 000, VES 3 000 000). */
  prices?: Record<string, number>;
  /** Start time of the fake clock (unix s). */
  now?: number;
  network?: string;
  /** Logger to use instead of a silent one (e.g. to assert on log lines). */
  logger?: Logger;
}

export interface TestKeys {
  secretKey: Uint8Array;
  pubkey: string;
}

/** A fresh random key pair. */
export function newKeys(): TestKeys {
  const secretKey = new Uint8Array(randomBytes(32));
  return { secretKey, pubkey: getPublicKey(secretKey) };
}

/**
 * The Inbound intake would produce for a request sealed by `identity` and authored by `trade`
 * (pass the same keys twice for full privacy).
 */
export function inboundFor(identity: TestKeys, trade: TestKeys, createdAt = 0): Inbound {
  return {
    identity: identity.pubkey,
    tradeKey: trade.pubkey,
    createdAt,
    eventId: '',
    fullPrivacy: identity.pubkey === trade.pubkey,
  };
}

export async function makeTestContext(overrides: TestContextOverrides = {}): Promise<TestContext> {
  const clock = new FakeClock(overrides.now ?? 1_700_000_000);
  const node = newKeys();
  const keys: MostroKeys = { secretKey: node.secretKey, pubkey: node.pubkey };
  const settings = testSettings({
    ...overrides.settings,
    nostr: { nsec_privkey: bytesToHex(node.secretKey), ...overrides.settings?.nostr },
  });
  const db = await testDb();
  const logger = overrides.logger ?? pino({ level: 'silent' });
  return {
    settings,
    db,
    lightning: new FakeLightning({ network: overrides.network ?? 'regtest' }),
    lnurl: new FakeLnurlResolver(),
    outbox: new MemoryOutbox(node.secretKey, clock),
    prices: new FixedPriceService(
      clock,
      overrides.prices ?? { USD: 50_000, EUR: 45_000, ARS: 50_000_000, CUP: 10_000_000, VES: 3_000_000 },
    ),
    keys,
    clock,
    logger,
    locks: new KeyedLock(),
    tasks: new TaskTracker(),
    orderChangeAcks: new OrderChangeAcks(db, logger),
    bans: new BanList(),
    unrated: new UnratedBudgets(),
  };
}

const BOLT11_NETWORKS = {
  mainnet: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  testnet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  regtest: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
} as const;

/** A fixed key that signs test invoices (the "buyer's wallet"). */
const INVOICE_SIGNER = '55'.repeat(32);

/**
 * A real signed BOLT11 invoice for buyer-invoice validation tests. `sats` null/0 → amountless.
 * Defaults: regtest, timestamp = `now`, expiry 7200 s (> invoice_expiration_window), min_final_cltv 18.
 */
export function signedInvoice(opts: {
  sats?: number | null;
  now: number;
  network?: keyof typeof BOLT11_NETWORKS;
  expirySeconds?: number;
  minFinalCltv?: number;
  hash?: string;
}): string {
  const hash = opts.hash ?? bytesToHex(new Uint8Array(randomBytes(32)));
  const tags = [
    { tagName: 'payment_hash', data: hash },
    { tagName: 'payment_secret', data: bytesToHex(new Uint8Array(randomBytes(32))) },
    { tagName: 'description', data: 'test payout' },
    { tagName: 'expire_time', data: opts.expirySeconds ?? 7200 },
    { tagName: 'min_final_cltv_expiry', data: opts.minFinalCltv ?? 18 },
  ];
  const sats = opts.sats ?? null;
  const unsigned = bolt11.encode({
    network: BOLT11_NETWORKS[opts.network ?? 'regtest'],
    timestamp: opts.now,
    ...(sats !== null && sats > 0 ? { satoshis: sats } : {}),
    tags,
  } as unknown as bolt11.PaymentRequestObject);
  const pr = bolt11.sign(unsigned, INVOICE_SIGNER).paymentRequest;
  if (pr === undefined) throw new Error('bolt11 signing failed');
  return pr;
}
