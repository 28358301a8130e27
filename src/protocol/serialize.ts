/**
 * Canonical serialization: byte-identical to serde_json's compact output of mostro-core 0.8.0's
 * types (PROTOCOL.md §3.4). This is both what the node sends and what tuple signatures are
 * computed over, so field order, `null` vs omitted, integer and float text must be exact.
 */
import type {
  Message,
  MessageKind,
  Payload,
  PaymentFailedInfo,
  Peer,
  RestoreSessionInfo,
  SmallOrder,
  SolverDisputeInfo,
  UserInfo,
} from './types.js';

/** serde_json string escaping (same as JSON.stringify for well-formed strings). */
function s(v: string): string {
  return JSON.stringify(v);
}

function int(v: bigint | number): string {
  return typeof v === 'bigint' ? v.toString() : BigInt(v).toString();
}

function optInt(v: bigint | number | null): string {
  return v === null ? 'null' : int(v);
}

function optStr(v: string | null): string {
  return v === null ? 'null' : s(v);
}

/**
 * An f64 as serde_json writes it (ryu's shortest round-trip digits, formatted like ryu):
 * `0.0`, `4.5`, `3.0`, `0.001`, `1e16`, `1.5e-7`, `-0.0`; NaN and ±inf become `null`.
 */
export function formatF64(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const neg = x < 0;
  // toExponential() without an argument yields the shortest round-trip digits (like ryu).
  const [mant, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const length = digits.length;
  const kk = Number(expText) + 1; // 10^(kk-1) <= |x| < 10^kk
  const k = kk - length; // |x| = digits * 10^k
  let out: string;
  if (k >= 0 && kk <= 16) {
    out = `${digits}${'0'.repeat(k)}.0`;
  } else if (kk > 0 && kk <= 16) {
    out = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  } else if (kk > -5 && kk <= 0) {
    out = `0.${'0'.repeat(-kk)}${digits}`;
  } else if (length === 1) {
    out = `${digits}e${kk - 1}`;
  } else {
    out = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  }
  return neg ? `-${out}` : out;
}

export function serializeSmallOrder(o: SmallOrder): string {
  let out = '{';
  if (o.id !== undefined) out += `"id":${s(o.id)},`;
  out += `"kind":${optStr(o.kind)}`;
  out += `,"status":${optStr(o.status)}`;
  out += `,"amount":${int(o.amount)}`;
  out += `,"fiat_code":${s(o.fiat_code)}`;
  out += `,"min_amount":${optInt(o.min_amount)}`;
  out += `,"max_amount":${optInt(o.max_amount)}`;
  out += `,"fiat_amount":${int(o.fiat_amount)}`;
  out += `,"payment_method":${s(o.payment_method)}`;
  out += `,"premium":${int(o.premium)}`;
  if (o.buyer_trade_pubkey !== undefined) out += `,"buyer_trade_pubkey":${s(o.buyer_trade_pubkey)}`;
  if (o.seller_trade_pubkey !== undefined) out += `,"seller_trade_pubkey":${s(o.seller_trade_pubkey)}`;
  if (o.buyer_invoice !== undefined) out += `,"buyer_invoice":${s(o.buyer_invoice)}`;
  out += `,"created_at":${optInt(o.created_at)}`;
  out += `,"expires_at":${optInt(o.expires_at)}`;
  return `${out}}`;
}

function serializeUserInfo(u: UserInfo | null): string {
  if (u === null) return 'null';
  return `{"rating":${formatF64(u.rating)},"reviews":${int(u.reviews)},"operating_days":${int(u.operating_days)}}`;
}

function serializePeer(p: Peer): string {
  return `{"pubkey":${s(p.pubkey)},"reputation":${serializeUserInfo(p.reputation)}}`;
}

function serializeSolverDisputeInfo(d: SolverDisputeInfo): string {
  return (
    `{"id":${s(d.id)},"kind":${s(d.kind)},"status":${s(d.status)},"hash":${optStr(d.hash)}` +
    `,"preimage":${optStr(d.preimage)},"order_previous_status":${s(d.order_previous_status)}` +
    `,"initiator_pubkey":${s(d.initiator_pubkey)},"buyer_pubkey":${optStr(d.buyer_pubkey)}` +
    `,"seller_pubkey":${optStr(d.seller_pubkey)},"initiator_full_privacy":${String(d.initiator_full_privacy)}` +
    `,"counterpart_full_privacy":${String(d.counterpart_full_privacy)}` +
    `,"initiator_info":${serializeUserInfo(d.initiator_info)},"counterpart_info":${serializeUserInfo(d.counterpart_info)}` +
    `,"premium":${int(d.premium)},"payment_method":${s(d.payment_method)},"amount":${int(d.amount)}` +
    `,"fiat_amount":${int(d.fiat_amount)},"fee":${int(d.fee)},"routing_fee":${int(d.routing_fee)}` +
    `,"buyer_invoice":${optStr(d.buyer_invoice)},"invoice_held_at":${int(d.invoice_held_at)}` +
    `,"taken_at":${int(d.taken_at)},"created_at":${int(d.created_at)}}`
  );
}

function serializeRestoreData(r: RestoreSessionInfo): string {
  const orders = r.orders.map(
    (o) => `{"order_id":${s(o.order_id)},"trade_index":${int(o.trade_index)},"status":${s(o.status)}}`,
  );
  const disputes = r.disputes.map(
    (d) =>
      `{"dispute_id":${s(d.dispute_id)},"order_id":${s(d.order_id)},"trade_index":${int(d.trade_index)}` +
      `,"status":${s(d.status)},"initiator":${optStr(d.initiator)}}`,
  );
  return `{"orders":[${orders.join(',')}],"disputes":[${disputes.join(',')}]}`;
}

function serializePaymentFailed(p: PaymentFailedInfo): string {
  return `{"payment_attempts":${int(p.payment_attempts)},"payment_retries_interval":${int(p.payment_retries_interval)}}`;
}

export function serializePayload(p: Payload): string {
  if ('order' in p) return `{"order":${serializeSmallOrder(p.order)}}`;
  if ('payment_request' in p) {
    const [order, invoice, amount] = p.payment_request;
    const o = order === null ? 'null' : serializeSmallOrder(order);
    return `{"payment_request":[${o},${s(invoice)},${optInt(amount)}]}`;
  }
  if ('text_message' in p) return `{"text_message":${s(p.text_message)}}`;
  if ('peer' in p) return `{"peer":${serializePeer(p.peer)}}`;
  if ('rating_user' in p) return `{"rating_user":${int(p.rating_user)}}`;
  if ('amount' in p) return `{"amount":${int(p.amount)}}`;
  if ('dispute' in p) {
    const [id, info] = p.dispute;
    return `{"dispute":[${s(id)},${info === null ? 'null' : serializeSolverDisputeInfo(info)}]}`;
  }
  if ('cant_do' in p) return `{"cant_do":${optStr(p.cant_do)}}`;
  if ('next_trade' in p) return `{"next_trade":[${s(p.next_trade[0])},${int(p.next_trade[1])}]}`;
  if ('payment_failed' in p) return `{"payment_failed":${serializePaymentFailed(p.payment_failed)}}`;
  if ('restore_data' in p) return `{"restore_data":${serializeRestoreData(p.restore_data)}}`;
  if ('ids' in p) return `{"ids":[${p.ids.map(s).join(',')}]}`;
  if ('bond_resolution' in p) {
    const b = p.bond_resolution;
    return `{"bond_resolution":{"slash_seller":${String(b.slash_seller)},"slash_buyer":${String(b.slash_buyer)}}}`;
  }
  return `{"orders":[${p.orders.map(serializeSmallOrder).join(',')}]}`;
}

export function serializeMessageKind(k: MessageKind): string {
  let out = `{"version":${int(k.version)},"request_id":${optInt(k.request_id)},"trade_index":${optInt(k.trade_index)}`;
  if (k.id !== undefined) out += `,"id":${s(k.id)}`;
  out += `,"action":${s(k.action)},"payload":${k.payload === null ? 'null' : serializePayload(k.payload)}}`;
  return out;
}

/** The canonical JSON text of a Message (what is sent and what tuple signatures cover). */
export function serializeMessage(m: Message): string {
  return `{${s(m.wrapper)}:${serializeMessageKind(m.kind)}}`;
}

/** Rumor content `[<message>,<signature or null>]`. */
export function serializeRumorContent(m: Message, signature: string | null): string {
  return `[${serializeMessage(m)},${signature === null ? 'null' : s(signature)}]`;
}
