/**
 * zod schemas over JsonValue (see json.ts) that accept exactly what mostro-core 0.8.0's serde
 * derives accept, and produce the wire types of types.ts.
 *
 * serde rules mirrored here:
 * - integers: the JSON literal must be an integer within the Rust type's range (u8, u32, i64, u64);
 *   a fraction/exponent (or `-0`) is a float and refused;
 * - f64 accepts any number (integers are converted);
 * - `Option<T>` fields may be missing or `null`; other fields are required;
 * - structs also accept serde's sequence form (a JSON array with exactly one element per field, in
 *   declaration order); SmallOrder refuses unknown keys (`deny_unknown_fields`), every other
 *   struct ignores them;
 * - unit enums (Action, Status, Kind, ...) accept the string or serde's `{"variant":null}` form;
 * - UUIDs accept what the uuid crate's `parse_str` accepts and normalise to lowercase hyphenated.
 */
import { z } from 'zod';
import {
  ACTIONS,
  CANT_DO_REASONS,
  KINDS,
  ORDER_STATUSES,
  type PaymentFailedInfo,
  type Peer,
  type RestoredDisputeInfo,
  type RestoredOrderInfo,
  type RestoreSessionInfo,
  type SmallOrder,
  type SolverDisputeInfo,
  type UserInfo,
} from './types.js';
import { isJsonObject, type JsonValue } from './json.js';
import { normalizeUuid } from './uuid.js';

// ---------------------------------------------------------------------------------------------
// Primitives

function intRange(name: string, min: bigint, max: bigint) {
  return z.bigint({ error: `expected an integer (${name})` }).refine((v) => v >= min && v <= max, {
    message: `integer out of range for ${name}`,
  });
}

export const u8 = intRange('u8', 0n, 255n).transform((v) => Number(v));
export const u32 = intRange('u32', 0n, 4294967295n).transform((v) => Number(v));
export const i64 = intRange('i64', -(2n ** 63n), 2n ** 63n - 1n);
export const u64 = intRange('u64', 0n, 2n ** 64n - 1n);

export const f64 = z
  .union([z.number(), z.bigint()], { error: 'expected a number (f64)' })
  .transform((v, ctx) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: 'number out of range' });
      return z.NEVER;
    }
    return n;
  });

export const str = z.string({ error: 'expected a string' });
export const bool = z.boolean({ error: 'expected a boolean' });

export const uuid = str.transform((s, ctx) => {
  const u = normalizeUuid(s);
  if (u === null) {
    ctx.addIssue({ code: 'custom', message: `invalid UUID ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return u;
});

/** `Option<T>`: missing or null → null. */
function opt<T extends z.ZodType>(t: T) {
  return t
    .nullable()
    .optional()
    .transform((v) => v ?? null);
}

/** `#[serde(skip_serializing_if = "Option::is_none")] Option<T>`: missing or null → undefined. */
function omittable<T extends z.ZodType>(t: T) {
  return t
    .nullable()
    .optional()
    .transform((v) => v ?? undefined);
}

/** A unit-variant enum: `"variant"` or serde_json's map form `{"variant": null}`. */
export function unitEnum<const V extends readonly [string, ...string[]]>(values: V, what: string) {
  return z.preprocess(
    (v) => {
      if (isJsonObject(v as JsonValue)) {
        const keys = Object.keys(v as object);
        if (keys.length === 1 && (v as Record<string, unknown>)[keys[0]!] === null) return keys[0];
      }
      return v;
    },
    z.enum(values, { error: (iss) => `unknown ${what} ${JSON.stringify(iss.input)}` }),
  );
}

/** Convert serde's sequence form of a struct into the map form (exact arity, like serde). */
function structSeq(fields: readonly string[]) {
  return (v: unknown): unknown => {
    // Wrong arity: leave the array as is, so the object schema refuses it.
    if (!Array.isArray(v) || v.length !== fields.length) return v;
    const o: Record<string, unknown> = {};
    fields.forEach((f, i) => {
      o[f] = v[i];
    });
    return o;
  };
}

// ---------------------------------------------------------------------------------------------
// Enums

export const action = unitEnum(ACTIONS, 'action');
export const status = unitEnum(ORDER_STATUSES, 'status');
export const kind = unitEnum(KINDS, 'kind');
export const cantDoReason = unitEnum(CANT_DO_REASONS, 'cant-do reason');
export const disputeInitiator = unitEnum(['buyer', 'seller'], 'dispute initiator');

// ---------------------------------------------------------------------------------------------
// Structs

const SMALL_ORDER_FIELDS = [
  'id',
  'kind',
  'status',
  'amount',
  'fiat_code',
  'min_amount',
  'max_amount',
  'fiat_amount',
  'payment_method',
  'premium',
  'buyer_trade_pubkey',
  'seller_trade_pubkey',
  'buyer_invoice',
  'created_at',
  'expires_at',
] as const;

export const smallOrder: z.ZodType<SmallOrder> = z.preprocess(
  structSeq(SMALL_ORDER_FIELDS),
  z
    .strictObject({
      id: omittable(uuid),
      kind: opt(kind),
      status: opt(status),
      amount: i64,
      fiat_code: str,
      min_amount: opt(i64),
      max_amount: opt(i64),
      fiat_amount: i64,
      payment_method: str,
      premium: i64,
      buyer_trade_pubkey: omittable(str),
      seller_trade_pubkey: omittable(str),
      buyer_invoice: omittable(str),
      created_at: opt(i64),
      expires_at: opt(i64),
    })
    .transform((o): SmallOrder => {
      const out: SmallOrder = {
        kind: o.kind,
        status: o.status,
        amount: o.amount,
        fiat_code: o.fiat_code,
        min_amount: o.min_amount,
        max_amount: o.max_amount,
        fiat_amount: o.fiat_amount,
        payment_method: o.payment_method,
        premium: o.premium,
        created_at: o.created_at,
        expires_at: o.expires_at,
      };
      if (o.id !== undefined) out.id = o.id;
      if (o.buyer_trade_pubkey !== undefined) out.buyer_trade_pubkey = o.buyer_trade_pubkey;
      if (o.seller_trade_pubkey !== undefined) out.seller_trade_pubkey = o.seller_trade_pubkey;
      if (o.buyer_invoice !== undefined) out.buyer_invoice = o.buyer_invoice;
      return out;
    }),
);

export const userInfo: z.ZodType<UserInfo> = z.preprocess(
  structSeq(['rating', 'reviews', 'operating_days']),
  z.object({ rating: f64, reviews: i64, operating_days: u64 }),
);

export const peer: z.ZodType<Peer> = z.preprocess(
  structSeq(['pubkey', 'reputation']),
  z.object({ pubkey: str, reputation: opt(userInfo) }),
);

const SOLVER_DISPUTE_INFO_FIELDS = [
  'id',
  'kind',
  'status',
  'hash',
  'preimage',
  'order_previous_status',
  'initiator_pubkey',
  'buyer_pubkey',
  'seller_pubkey',
  'initiator_full_privacy',
  'counterpart_full_privacy',
  'initiator_info',
  'counterpart_info',
  'premium',
  'payment_method',
  'amount',
  'fiat_amount',
  'fee',
  'routing_fee',
  'buyer_invoice',
  'invoice_held_at',
  'taken_at',
  'created_at',
] as const;

export const solverDisputeInfo: z.ZodType<SolverDisputeInfo> = z.preprocess(
  structSeq(SOLVER_DISPUTE_INFO_FIELDS),
  z.object({
    id: uuid,
    kind: str,
    status: str,
    hash: opt(str),
    preimage: opt(str),
    order_previous_status: str,
    initiator_pubkey: str,
    buyer_pubkey: opt(str),
    seller_pubkey: opt(str),
    initiator_full_privacy: bool,
    counterpart_full_privacy: bool,
    initiator_info: opt(userInfo),
    counterpart_info: opt(userInfo),
    premium: i64,
    payment_method: str,
    amount: i64,
    fiat_amount: i64,
    fee: i64,
    routing_fee: i64,
    buyer_invoice: opt(str),
    invoice_held_at: i64,
    taken_at: i64,
    created_at: i64,
  }),
);

export const restoredOrderInfo: z.ZodType<RestoredOrderInfo> = z.preprocess(
  structSeq(['order_id', 'trade_index', 'status']),
  z.object({ order_id: uuid, trade_index: i64, status: str }),
);

export const restoredDisputeInfo: z.ZodType<RestoredDisputeInfo> = z.preprocess(
  structSeq(['dispute_id', 'order_id', 'trade_index', 'status', 'initiator']),
  z.object({
    dispute_id: uuid,
    order_id: uuid,
    trade_index: i64,
    status: str,
    initiator: opt(disputeInitiator),
  }),
);

export const restoreSessionInfo: z.ZodType<RestoreSessionInfo> = z.preprocess(
  structSeq(['orders', 'disputes']),
  z.object({ orders: z.array(restoredOrderInfo), disputes: z.array(restoredDisputeInfo) }),
);

export const paymentFailedInfo: z.ZodType<PaymentFailedInfo> = z.preprocess(
  structSeq(['payment_attempts', 'payment_retries_interval']),
  z.object({ payment_attempts: u32, payment_retries_interval: u32 }),
);

// ---------------------------------------------------------------------------------------------
// Payload variants (the value under the single key)

/** Schemas of each Payload variant's value, keyed by the snake_case variant name. */
export const payloadVariants = {
  order: smallOrder,
  payment_request: z.tuple([smallOrder.nullable(), str, i64.nullable()]),
  text_message: str,
  peer,
  rating_user: u8,
  amount: i64,
  dispute: z.tuple([uuid, solverDisputeInfo.nullable()]),
  cant_do: cantDoReason.nullable(),
  next_trade: z.tuple([str, u32]),
  payment_failed: paymentFailedInfo,
  restore_data: restoreSessionInfo,
  ids: z.array(uuid),
  orders: z.array(smallOrder),
  bond_resolution: z.preprocess(structSeq(['slash_seller', 'slash_buyer']), z.object({ slash_seller: bool, slash_buyer: bool })),
} as const;

export type PayloadKey = keyof typeof payloadVariants;

export function isPayloadKey(k: string): k is PayloadKey {
  return Object.prototype.hasOwnProperty.call(payloadVariants, k);
}

/** MessageKind fields other than the payload (which parse.ts handles). Unknown keys are ignored. */
export const messageKindFields = z.object({
  version: u8,
  request_id: opt(u64),
  trade_index: opt(i64),
  id: omittable(uuid),
  action,
});

export const MESSAGE_KIND_FIELDS = ['version', 'request_id', 'trade_index', 'id', 'action', 'payload'] as const;

/** serde's sequence form of MessageKind → map form. */
export const messageKindSeq = structSeq(MESSAGE_KIND_FIELDS);
