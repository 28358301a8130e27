/**
 * Pure builders of the public events the node publishes (PROTOCOL.md §8, DAEMON.md §8.5–8.8),
 * tag for tag as mostrod 0.17.1 emits them. No I/O: inputs are rows, settings, node info and the
 * current time (unix seconds); the outbox signs and publishes.
 */
import { enforcedFirstContactPow, servesNip44 } from './transport.js';
import type { DisputeRow, OrderRow, UserRow } from '../db/types.js';
import type { Settings, MostroSettings } from '../config/types.js';
import type { NodeInfo } from '../lightning/backend.js';
import type { Kind, Status } from '../protocol/types.js';
import { formatF64 } from '../protocol/serialize.js';
import type { EventTemplate } from './outbox.js';

export const ORDER_EVENT_KIND = 38383;
export const RATING_EVENT_KIND = 38384;
export const INFO_EVENT_KIND = 38385;
export const DISPUTE_EVENT_KIND = 38386;
export const DEV_FEE_AUDIT_EVENT_KIND = 8383;
export const EXCHANGE_RATES_EVENT_KIND = 30078;
export const METADATA_EVENT_KIND = 0;
export const RELAY_LIST_EVENT_KIND = 10002;

const DAY = 86_400;

// ---------------------------------------------------------------------------------------------
// Number formatting

/**
 * Rust `Display` of an f64: shortest round-trip digits, plain decimal (never an exponent), no
 * trailing `.0` — `3`, `2.5`, `0.006`, `0`, `-0`, `10000000000000000`, `0.0000001`; `NaN`, `inf`.
 */
export function displayF64(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const neg = x < 0;
  const [mant, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const kk = Number(expText) + 1; // position of the decimal point relative to the digits
  let out: string;
  if (kk <= 0) out = `0.${'0'.repeat(-kk)}${digits}`;
  else if (kk >= digits.length) out = `${digits}${'0'.repeat(kk - digits.length)}`;
  else out = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  return neg ? `-${out}` : out;
}

/** Rust `Display` of an integer-typed setting or column. */
function displayInt(n: number): string {
  return Number.isInteger(n) ? BigInt(n).toString() : displayF64(n);
}

// ---------------------------------------------------------------------------------------------
// Shared tags

/** `["y","mostro"]`, plus the instance name when it is non-blank after trimming. */
export function yTag(name?: string): string[] {
  const trimmed = name?.trim() ?? '';
  return trimmed === '' ? ['y', 'mostro'] : ['y', 'mostro', trimmed];
}

/**
 * NIP-40 expiration for a kind (`get_expiration_timestamp_for_kind`): with an `[expiration]`
 * section, 38383/38384/38386/8383 use order_days/rating_days/dispute_days/fee_audit_days; without
 * it, those four kinds use `max_expiration_days`. Every other kind gets none (null).
 */
export function expirationFor(
  kind: number,
  settings: Pick<Settings, 'expiration'> & { mostro: Pick<MostroSettings, 'max_expiration_days'> },
  now: number,
): number | null {
  const exp = settings.expiration;
  let days: number;
  switch (kind) {
    case ORDER_EVENT_KIND:
      days = exp ? exp.order_days : settings.mostro.max_expiration_days;
      break;
    case RATING_EVENT_KIND:
      days = exp ? exp.rating_days : settings.mostro.max_expiration_days;
      break;
    case DISPUTE_EVENT_KIND:
      days = exp ? exp.dispute_days : settings.mostro.max_expiration_days;
      break;
    case DEV_FEE_AUDIT_EVENT_KIND:
      days = exp ? exp.fee_audit_days : settings.mostro.max_expiration_days;
      break;
    default:
      return null;
  }
  return now + days * DAY;
}

/**
 * Value of the `network` tag: the LND networks joined by `,` (e.g. `mainnet`), or `unknown`
 * before the node info is known.
 */
export function networkTagValue(networks: readonly string[] | null): string {
  return networks === null ? 'unknown' : networks.join(',');
}

/**
 * The addressable-event factory (`create_event`): `d` first, then an `expiration` tag unless the
 * extra tags carry one (and only for kinds with a lifetime), then the extra tags.
 */
function addressable(kind: number, d: string, extra: string[][], settings: Settings, now: number, content = ''): EventTemplate {
  const tags: string[][] = [['d', d]];
  if (!extra.some((t) => t[0] === 'expiration')) {
    const exp = expirationFor(kind, settings, now);
    if (exp !== null) tags.push(['expiration', String(exp)]);
  }
  tags.push(...extra);
  return { kind, tags, content, created_at: now };
}

// ---------------------------------------------------------------------------------------------
// Kind 38383 — order

/**
 * Public status of an order (`create_status_tags`): the `s` value, or null when the status is
 * not published (the previous event stays).
 */
export function publicStatusFor(kind: Kind, status: Status): string | null {
  switch (status) {
    case 'pending':
      return 'pending';
    case 'waiting-buyer-invoice':
      return kind === 'sell' ? 'in-progress' : null;
    case 'waiting-payment':
      return kind === 'buy' ? 'in-progress' : null;
    case 'canceled':
    case 'canceled-by-admin':
    case 'cooperatively-canceled':
    case 'expired':
      return 'canceled';
    case 'success':
      return 'success';
    case 'completed-by-admin':
      return 'completed-by-admin';
    default:
      return null;
  }
}

/** Maker reputation shown in the `rating` tag of pending orders. */
export interface OrderRating {
  total_rating: number;
  total_reviews: number;
  days: number;
}

/** Whole days since `createdAt` (0 for an unset/non-positive timestamp or a future one). */
export function daysSince(createdAt: number, now: number): number {
  if (createdAt <= 0) return 0;
  return Math.floor(Math.max(0, now - createdAt) / DAY);
}

/** The rating of a maker's identity row; a full-privacy maker (no row) gets 0.0 / 0 / 0. */
export function orderRatingFor(user: Pick<UserRow, 'total_rating' | 'total_reviews' | 'created_at'> | null, now: number): OrderRating {
  if (user === null) return { total_rating: 0, total_reviews: 0, days: 0 };
  return { total_rating: user.total_rating, total_reviews: user.total_reviews, days: daysSince(user.created_at, now) };
}

/** `["rating",{"days":D,"total_rating":R,"total_reviews":N}]` — keys alphabetical, R a serde f64. */
export function ratingTagValue(r: OrderRating): string {
  return `["rating",{"days":${displayInt(r.days)},"total_rating":${formatF64(r.total_rating)},"total_reviews":${displayInt(r.total_reviews)}}]`;
}

export interface OrderEventInput {
  order: OrderRow;
  /**
   * The `s` value to publish. Default: publicStatusFor(order.kind, order.status), and nothing is
   * built when that is null. Pass it to publish a status of your own choosing.
   */
  status?: string;
  /** Maker reputation; becomes the `rating` tag of a pending order (see orderRatingFor). */
  rating?: OrderRating | null;
  settings: Settings;
  /** Node pubkey hex (for the `source` tag). */
  nodePubkey: string;
  /** `network` tag value (see networkTagValue). */
  network: string;
  now: number;
}

/**
 * Tags of the kind-38383 event (`d` first), or null when no `status` is given and the order's
 * status is not publishable. Order (nip33.rs `order_to_tags`): d, k, f, s, amt, fa, pm, premium,
 * [rating], [source], network, layer, expires_at, expiration, y, z — `rating` and `source` only
 * while the order is pending.
 */
export function orderEventTags(input: OrderEventInput & { status: string }): string[][];
export function orderEventTags(input: OrderEventInput): string[][] | null;
export function orderEventTags(input: OrderEventInput): string[][] | null {
  const { order, settings, now } = input;
  const s = input.status ?? publicStatusFor(order.kind, order.status);
  if (s === null) return null;
  const pending = order.status === 'pending';
  const fa =
    pending && order.min_amount !== null && order.max_amount !== null
      ? [displayInt(order.min_amount), displayInt(order.max_amount)]
      : [displayInt(order.fiat_amount)];
  const expiration = expirationFor(ORDER_EVENT_KIND, settings, now);
  const tags: string[][] = [
    ['k', order.kind],
    ['f', order.fiat_code],
    ['s', s],
    ['amt', displayInt(order.amount)],
    ['fa', ...fa],
    ['pm', ...order.payment_method.split(',').filter((p) => p !== '')],
    ['premium', displayInt(order.premium)],
    ['network', input.network],
    ['layer', 'lightning'],
    ['expires_at', displayInt(order.expires_at)],
    ['expiration', String(expiration)],
    yTag(settings.mostro.name),
    ['z', 'order'],
  ];
  // mostrod inserts `rating` at index 7 and then `source` at index 8 of this list.
  if (pending && input.rating) tags.splice(7, 0, ['rating', ratingTagValue(input.rating)]);
  if (pending) {
    const source = `mostro:${order.id}?relays=${settings.nostr.relays.join(',')}&mostro=${input.nodePubkey}`;
    tags.splice(8, 0, ['source', source]);
  }
  return [['d', order.id], ...tags];
}

/** The kind-38383 order event; null only when no `status` is given and it is not publishable. */
export function buildOrderEvent(input: OrderEventInput & { status: string }): EventTemplate;
export function buildOrderEvent(input: OrderEventInput): EventTemplate | null;
export function buildOrderEvent(input: OrderEventInput): EventTemplate | null {
  const tags = orderEventTags(input);
  if (tags === null) return null;
  return { kind: ORDER_EVENT_KIND, tags, content: '', created_at: input.now };
}

// ---------------------------------------------------------------------------------------------
// Kind 38384 — rating

export interface RatingEventInput {
  /** `d` tag. mostrod 0.17.1 puts the RATER's trade pubkey here (PROTOCOL.md §8.3). */
  d: string;
  total_reviews: number;
  total_rating: number;
  last_rating: number;
  max_rate: number;
  min_rate: number;
  /** Days since the rated user's row was created (see daysSince). */
  days: number;
  settings: Settings;
  now: number;
}

/** Rust `as u8` on an i64 column. */
function asU8(n: number): string {
  return String(((Math.trunc(n) % 256) + 256) % 256);
}

export function buildRatingEvent(input: RatingEventInput): EventTemplate {
  const extra: string[][] = [
    ['total_reviews', displayInt(input.total_reviews)],
    ['total_rating', displayF64(input.total_rating)],
    ['last_rating', asU8(input.last_rating)],
    ['max_rate', asU8(input.max_rate)],
    ['min_rate', asU8(input.min_rate)],
    ['z', 'rating'],
    ['days', displayInt(input.days)],
  ];
  return addressable(RATING_EVENT_KIND, input.d, extra, input.settings, input.now);
}

// ---------------------------------------------------------------------------------------------
// Kind 38385 — node info

export interface InfoEventInput {
  settings: Settings;
  nodePubkey: string;
  lnd: NodeInfo;
  /** e.g. '0.17.1' */
  mostroVersion: string;
  commitHash: string;
  now: number;
}

export function buildInfoEvent(input: InfoEventInput): EventTemplate {
  const { mostro, lightning } = input.settings;
  const extra: string[][] = [
    ['mostro_version', input.mostroVersion],
    ['mostro_commit_hash', input.commitHash],
    ['max_order_amount', displayInt(mostro.max_order_amount)],
    ['min_order_amount', displayInt(mostro.min_payment_amount)],
    ['expiration_hours', displayInt(mostro.expiration_hours)],
    ['expiration_seconds', displayInt(mostro.expiration_seconds)],
    ['fiat_currencies_accepted', mostro.fiat_currencies_accepted.join(',')],
    ['max_orders_per_response', displayInt(mostro.max_orders_per_response)],
    ['fee', displayF64(mostro.fee)],
    ['pow', displayInt(mostro.pow)],
    // Protocol v2 served ("nip44" or "both"): the tags upstream 0.18 publishes — current clients
    // then speak v2 to this node, 0.8-era clients ignore them. A gift-wrap-only node publishes
    // neither (its 38385 stays as 0.17.1's).
    ...(servesNip44(input.settings)
      ? [
          ['pow_first_contact', displayInt(enforcedFirstContactPow(input.settings))],
          ['protocol_version', '2'],
        ]
      : []),
    ['hold_invoice_expiration_window', displayInt(lightning.hold_invoice_expiration_window)],
    ['hold_invoice_cltv_delta', displayInt(lightning.hold_invoice_cltv_delta)],
    // Deliberate fix (Q7): 0.17.1 publishes hold_invoice_expiration_window's value here. We publish
    // the window buyer invoices are actually checked against, so clients that pre-check invoices
    // with this tag accept exactly what the node accepts.
    ['invoice_expiration_window', displayInt(lightning.invoice_expiration_window)],
    ['lnd_version', input.lnd.version],
    ['lnd_node_pubkey', input.lnd.identityPubkey],
    ['lnd_commit_hash', input.lnd.commitHash],
    ['lnd_node_alias', input.lnd.alias],
    ['lnd_chains', input.lnd.chains.join(',')],
    ['lnd_networks', input.lnd.networks.join(',')],
    ['lnd_uris', input.lnd.uris.join(',')],
    yTag(mostro.name),
    ['z', 'info'],
  ];
  return addressable(INFO_EVENT_KIND, input.nodePubkey, extra, input.settings, input.now);
}

// ---------------------------------------------------------------------------------------------
// Kind 38386 — dispute

export interface DisputeEventInput {
  dispute: Pick<DisputeRow, 'id' | 'status'>;
  /** `unknown` only when a dispute closes after user resolution with inconsistent flags. */
  initiator: 'buyer' | 'seller' | 'unknown';
  settings: Settings;
  now: number;
}

export function buildDisputeEvent(input: DisputeEventInput): EventTemplate {
  const extra: string[][] = [
    ['s', input.dispute.status],
    ['initiator', input.initiator],
    yTag(input.settings.mostro.name),
    ['z', 'dispute'],
  ];
  return addressable(DISPUTE_EVENT_KIND, input.dispute.id, extra, input.settings, input.now);
}

// ---------------------------------------------------------------------------------------------
// Kind 8383 — dev-fee audit (regular event, no `d`)

export interface DevFeeAuditEventInput {
  orderId: string;
  /** dev fee in sats */
  devFee: number;
  paymentHash: string;
  /** Lightning address the dev fee was paid to. */
  destination: string;
  /** `network` tag value (see networkTagValue). */
  network: string;
  settings: Settings;
  now: number;
}

export function buildDevFeeAuditEvent(input: DevFeeAuditEventInput): EventTemplate {
  const tags: string[][] = [
    ['order-id', input.orderId],
    ['amount', displayInt(input.devFee)],
    ['hash', input.paymentHash],
    ['destination', input.destination],
    ['network', input.network],
    yTag(input.settings.mostro.name),
    ['z', 'dev-fee-payment'],
  ];
  const exp = expirationFor(DEV_FEE_AUDIT_EVENT_KIND, input.settings, input.now);
  if (exp !== null) tags.push(['expiration', String(exp)]);
  return { kind: DEV_FEE_AUDIT_EVENT_KIND, tags, content: '', created_at: input.now };
}

// ---------------------------------------------------------------------------------------------
// Kind 30078 — exchange rates

export interface ExchangeRatesEventInput {
  /** Fiat code → BTC price, in the order to serialize. */
  rates: Readonly<Record<string, number>>;
  /**
   * Per currency, the price providers that made the rate (issue 16); null = the single legacy
   * source, Yadio.
   */
  sources?: ReadonlyMap<string, readonly string[]> | null;
  /** Configured update interval (unclamped, like mostrod). */
  updateIntervalSeconds: number;
  settings: Settings;
  now: number;
}

/** Content `{"BTC":{"USD":50000.0,...}}` with serde f64 formatting. */
export function exchangeRatesContent(rates: Readonly<Record<string, number>>): string {
  const body = Object.entries(rates)
    .map(([code, price]) => `${JSON.stringify(code)}:${formatF64(price)}`)
    .join(',');
  return `{"BTC":{${body}}}`;
}

/**
 * Kind 30078 `d = mostro-rates`. Content stays `{"BTC":{…}}` exactly as upstream readers parse it.
 * Tags: `published_at`, `source` (as upstream 0.18: the sorted, comma-joined ids of every provider
 * that made a published rate; "yadio" with the legacy single source), `expiration`, then — only
 * when more than one provider contributed — one `["rate_sources", "<CODE>", "<id>,<id>,…"]` per
 * currency (an addition of this port; readers that do not know it ignore it).
 */
export function buildExchangeRatesEvent(input: ExchangeRatesEventInput): EventTemplate {
  const expiration = input.now + Math.min(input.updateIntervalSeconds * 2, 3600);
  const perCurrency = input.sources ?? null;
  const all = perCurrency === null ? ['yadio'] : [...new Set([...perCurrency.values()].flat())].sort();
  const extra: string[][] = [
    ['published_at', String(input.now)],
    ['source', all.join(',')],
    ['expiration', String(expiration)],
  ];
  if (perCurrency !== null && all.length > 1) {
    for (const code of Object.keys(input.rates)) {
      const ids = perCurrency.get(code);
      if (ids !== undefined && ids.length > 0) extra.push(['rate_sources', code, [...ids].sort().join(',')]);
    }
  }
  return addressable(
    EXCHANGE_RATES_EVENT_KIND,
    'mostro-rates',
    extra,
    input.settings,
    input.now,
    exchangeRatesContent(input.rates),
  );
}

// ---------------------------------------------------------------------------------------------
// Kind 0 — metadata, kind 10002 — relay list

/** Parse and normalise a URL like the Rust url crate (WHATWG): `https://a.b` → `https://a.b/`. */
export function normalizeUrl(text: string): string | null {
  try {
    return new URL(text).href;
  } catch {
    return null;
  }
}

/**
 * Kind 0 metadata from `[mostro]` name/about/picture/website, or null when none is usable.
 * Content keys in nostr's Metadata order: name, about, website, picture. Invalid URLs are left out
 * (mostrod logs a warning for them; callers can check with normalizeUrl).
 */
export function buildMetadataEvent(
  mostro: Pick<MostroSettings, 'name' | 'about' | 'picture' | 'website'>,
  now: number,
): EventTemplate | null {
  const fields: [string, string][] = [];
  if (mostro.name !== undefined) fields.push(['name', mostro.name]);
  if (mostro.about !== undefined) fields.push(['about', mostro.about]);
  const website = mostro.website !== undefined ? normalizeUrl(mostro.website) : null;
  if (website !== null) fields.push(['website', website]);
  const picture = mostro.picture !== undefined ? normalizeUrl(mostro.picture) : null;
  if (picture !== null) fields.push(['picture', picture]);
  if (fields.length === 0) return null;
  const content = `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
  return { kind: METADATA_EVENT_KIND, tags: [], content, created_at: now };
}

/** Kind 10002: one `["r", url]` per connected relay, no read/write marker. */
export function buildRelayListEvent(relays: readonly string[], now: number): EventTemplate {
  return { kind: RELAY_LIST_EVENT_KIND, tags: relays.map((r) => ['r', r]), content: '', created_at: now };
}
