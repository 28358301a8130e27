import { z } from 'zod';
import { isIP } from 'node:net';
import { parseAdminPubkey } from '../alerts/admin-key.js';
import { cronProblem } from '../ops/cron.js';
import { priceSchema } from './price-schema.js';

/**
 * zod schema of settings.toml (mostrod 0.17.1 keys, DAEMON.md §2, plus this port's optional keys).
 * Sections are plain objects: unknown keys are dropped (serde ignores them). Every check carries
 * its own message; load-settings turns issues into "[section] key: message".
 */

function uint(bits: 8 | 16 | 32 | 53) {
  const max = bits === 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
  const name = bits === 53 ? 'u64' : `u${bits}`;
  return z.number().superRefine((v, ctx) => {
    if (!Number.isInteger(v)) ctx.addIssue({ code: 'custom', message: `${v} is not an integer` });
    else if (v < 0) ctx.addIssue({ code: 'custom', message: `${v} is negative (expected an unsigned integer)` });
    else if (v > max) ctx.addIssue({ code: 'custom', message: `${v} exceeds the ${name} maximum ${max}` });
  });
}

/** An interval a loop sleeps for: 0 would make mostrod's loop spin (Q20), so it is refused. */
function interval(bits: 32 | 53 = 32) {
  return uint(bits).refine((v) => v > 0, { message: 'must be greater than 0 (a 0 interval would busy-loop)' });
}

const float = z.number().refine((v) => Number.isFinite(v), { message: 'must be a finite number' });

function url(protocols: string[], what: string) {
  return z.string().superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a valid URL (expected ${what})` });
      return;
    }
    if (!protocols.includes(u.protocol)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} must use ${what}` });
    } else if (u.hostname === '') {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} has no host` });
    }
  });
}

export const lightningSchema = z.object({
  lnd_cert_file: z.string(),
  lnd_macaroon_file: z.string(),
  lnd_grpc_host: url(['https:'], 'https://host:port'),
  invoice_expiration_window: uint(32),
  hold_invoice_cltv_delta: uint(32),
  hold_invoice_expiration_window: uint(32),
  payment_attempts: uint(32),
  payment_retries_interval: interval(),
  escrow_deadline_margin_blocks: uint(32).default(24),
  max_invoice_final_cltv_delta: uint(32).default(144),
  payment_timeout_seconds: interval().default(75),
}).superRefine((v, ctx) => {
  // Issue 12 defect 4: with margin >= CLTV delta the escrow deadline guard would act on every
  // escrow the minute it is paid (cancel active trades, force fiat-sent ones into dispute).
  // Upstream clamps to half the window with an ERROR log; we refuse to start instead.
  if (v.escrow_deadline_margin_blocks >= v.hold_invoice_cltv_delta) {
    ctx.addIssue({
      code: 'custom',
      path: ['escrow_deadline_margin_blocks'],
      message:
        `${v.escrow_deadline_margin_blocks} must be below [lightning] hold_invoice_cltv_delta (${v.hold_invoice_cltv_delta}): ` +
        'the escrow deadline guard acts this many blocks before the hold invoice expires',
    });
  }
});

export const nostrSchema = z.object({
  nsec_privkey: z.string(),
  relays: z.array(url(['ws:', 'wss:'], 'ws:// or wss://')),
  // Worker threads for the Nostr crypto (unwrap, wrap, signatures). Absent = CPU cores − 1 (at
  // least 1); 0 = all crypto on the event-loop thread.
  crypto_threads: z.number().int().min(0).max(64).optional(),
  // Protocol v2 (kind 14) per-author admission (author-limiter.ts): verified events per second a
  // key may sustain, and how many it may send at once. Absent = 5 and 5.
  author_rate: z.number().positive().max(10_000).optional(),
  author_burst: z.number().int().min(1).max(10_000).optional(),
});

const MIN_DEV_FEE_PERCENTAGE = 0.1;
const MAX_DEV_FEE_PERCENTAGE = 1.0;

export const mostroSchema = z.object({
  fee: float,
  max_routing_fee: float,
  max_order_amount: uint(32),
  min_payment_amount: uint(32),
  expiration_hours: uint(32),
  max_expiration_days: uint(32),
  expiration_seconds: uint(32),
  user_rates_sent_interval_seconds: interval(),
  publish_relays_interval: interval(),
  pow: uint(8),
  // Wire transport(s): "gift-wrap" (protocol v1, what 0.17.1 speaks; the default when the key is
  // absent), "nip44" (protocol v2 only, as upstream 0.18) or "both" (this port: each trade key on
  // the transport it speaks).
  transport: z.enum(['gift-wrap', 'nip44', 'both']).default('gift-wrap'),
  pow_first_contact: uint(8).optional(),
  active_pubkeys_refresh_interval: interval(53).default(60),
  // Days a trade key's remembered transport is kept after its last activity once it is on no
  // unfinished order, open dispute or solver list (the transport-prune job). At least 1: the
  // job's compare-and-set relies on a key active today never being older than the cutoff.
  transport_retention_days: uint(32)
    .refine((v) => v >= 1, { message: 'must be at least 1 (days a trade key\'s transport is kept after its last message)' })
    .default(30),
  publish_mostro_info_interval: interval(),
  // Required in 0.17.1; optional since upstream 0.18 ([price] replaces it). Feeds Yadio-only mode.
  bitcoin_price_api_url: url(['http:', 'https:'], 'http:// or https://').default('https://api.yadio.io'),
  fiat_currencies_accepted: z.array(z.string()),
  max_orders_per_response: uint(8),
  // port: pending orders one identity key may have in the book at once (0 = no limit, as mostrod).
  max_pending_orders_per_user: uint(32).default(0),
  // port: takes one identity may abandon (taker cancel or timeout) within the window before its
  // takes are refused (0 = no limit, as mostrod); the window in hours (at least 1).
  max_abandoned_takes: uint(32).default(0),
  abandoned_takes_window_hours: uint(32)
    .refine((v) => v >= 1, { message: 'must be at least 1 (hours an abandoned take counts against its taker)' })
    .default(24),
  // port: node-wide new orders per minute from makers nobody has rated (0 = no limit, as mostrod).
  unrated_orders_per_minute: uint(32).default(0),
  // port: node-wide takes per minute by takers nobody has rated (0 = no limit, as mostrod).
  unrated_takes_per_minute: uint(32).default(0),
  dev_fee_percentage: float.superRefine((v, ctx) => {
    if (v < MIN_DEV_FEE_PERCENTAGE) {
      ctx.addIssue({ code: 'custom', message: `${v} is below the minimum ${MIN_DEV_FEE_PERCENTAGE}` });
    } else if (v > MAX_DEV_FEE_PERCENTAGE) {
      ctx.addIssue({ code: 'custom', message: `${v} exceeds the maximum ${MAX_DEV_FEE_PERCENTAGE}` });
    }
  }),
  name: z.string().optional(),
  about: z.string().optional(),
  picture: z.string().optional(),
  website: z.string().optional(),
  publish_exchange_rates_to_nostr: z.boolean().default(true),
  // mostrod clamps values below 60 to 60 in the price job (with an ERROR log); 0 does not spin.
  exchange_rates_update_interval_seconds: uint(53).default(300),
  max_price_staleness_seconds: interval().default(900),
  dev_fee_lightning_address: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+$/, { message: 'must be a Lightning address (user@host)' })
    .optional(),
  lnurl_allow_private_hosts: z.boolean().default(false),
});

export const databaseSchema = z.object({ url: z.string() });

export const rpcSchema = z
  .object({
    enabled: z.boolean(),
    listen_address: z.string(),
    port: uint(16),
    rate_limiter_stale_duration: uint(53).default(3600),
    /** port: file holding the bearer token(s) both gRPC services require; absent = no token. */
    auth_token_file: z.string().min(1).optional(),
  })
  .superRefine((v, ctx) => {
    // mostrod only logs "RPC server failed to start" and runs without RPC; refuse up front instead.
    const host = v.listen_address.replace(/^\[(.*)\]$/, '$1');
    if (v.enabled && isIP(host) === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen_address'],
        message: `${JSON.stringify(v.listen_address)} is not an IP address (e.g. "127.0.0.1" or "[::1]")`,
      });
    }
  });

export const expirationSchema = z.object({
  order_days: uint(32).default(30),
  rating_days: uint(32).default(90),
  dispute_days: uint(32).default(90),
  fee_audit_days: uint(32).default(365),
  dm_days: uint(32).default(30),
});

/** `[http]`: the operator HTTP listener (port; off by default). */
export const httpSchema = z
  .object({
    enabled: z.boolean().default(false),
    listen_address: z.string().default('127.0.0.1'),
    port: uint(16).default(9464),
  })
  .superRefine((v, ctx) => {
    const host = v.listen_address.replace(/^\[(.*)\]$/, '$1');
    if (v.enabled && isIP(host) === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen_address'],
        message: `${JSON.stringify(v.listen_address)} is not an IP address (e.g. "127.0.0.1" or "[::1]")`,
      });
    }
  });

/** `[alerts]`: operator DMs (port). Without admin_npub nothing is sent. */
export const alertsSchema = z.object({
  admin_npub: z
    .string()
    .refine((v) => parseAdminPubkey(v) !== null, {
      message: 'must be an npub1… or a 64-character hex public key',
    })
    .optional(),
  check_interval_seconds: interval().default(60),
  lnd_down_minutes: uint(32).default(5),
  relays_down_minutes: uint(32).default(2),
  escrow_deadline_blocks: uint(32).default(72),
  price_stale_seconds: interval().default(1800),
  overload_shed_events: uint(32).default(100),
  overload_quiet_minutes: interval().default(10),
  order_events_unaccepted_minutes: uint(32).default(15),
  dispute_events_unaccepted_minutes: uint(32).default(15),
});

/** `[backup]`: scheduled online backups (port); no schedule = none. */
export const backupSchema = z.object({
  schedule: z
    .string()
    .superRefine((v, ctx) => {
      const problem = cronProblem(v);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: `must be a cron expression (5 or 6 fields, e.g. "0 3 * * *"): ${problem}` });
    })
    .optional(),
  dir: z.string().min(1).optional(),
  keep: uint(32)
    .refine((v) => v >= 1, { message: 'must be at least 1' })
    .default(7),
});

/** The wildcard addresses: a listener on one of them takes the port on every address. */
const WILDCARDS = new Set(['0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0']);

/** Whether two enabled listeners on `a` and `b` (bracketed IPv6 allowed) would claim one socket. */
export function listenersClash(a: string, b: string): boolean {
  const ha = a.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const hb = b.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return ha === hb || WILDCARDS.has(ha) || WILDCARDS.has(hb);
}

export const settingsSchema = z
  .object({
    lightning: lightningSchema,
    nostr: nostrSchema,
    mostro: mostroSchema,
    database: databaseSchema,
    rpc: rpcSchema,
    expiration: expirationSchema.optional(),
    /** Multi-source prices (issue 16); absent = Yadio alone from [mostro] keys, as 0.17.1. */
    price: priceSchema.optional(),
    http: httpSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    backup: backupSchema.prefault({}),
  })
  .superRefine((v, ctx) => {
    // Both listeners on one port: the second bind fails with EADDRINUSE after the daemon has
    // started everything else; name the two settings up front instead.
    if (v.http.enabled && v.rpc.enabled && v.http.port === v.rpc.port && listenersClash(v.http.listen_address, v.rpc.listen_address)) {
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'port'],
        message: `${v.http.port} is also [rpc] port (on ${JSON.stringify(v.rpc.listen_address)}): the two listeners need different ports`,
      });
    }
  });
