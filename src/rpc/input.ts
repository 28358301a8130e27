import { CantDoError } from '../errors.js';
import type { CantDoReason } from '../protocol/types.js';

/** Validation failure of an RPC's input (becomes success=false with a clear message). */
export class RpcInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpcInputError';
  }
}

const HYPHENATED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIMPLE = /^[0-9a-f]{32}$/;

/**
 * A UUID given to an RPC (order or dispute id): hyphenated or 32 hex digits, any case, surrounding
 * blanks ignored. Returns the canonical lowercase hyphenated form or throws RpcInputError.
 */
export function parseUuidField(field: string, value: unknown): string {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (HYPHENATED.test(text)) return text;
  if (SIMPLE.test(text)) {
    return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
  }
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new RpcInputError(`invalid ${field} ${shown}: expected a UUID like 550e8400-e29b-41d4-a716-446655440000`);
}

const U64_MAX = 2n ** 64n - 1n;

/**
 * The optional `request_id` string as a u64. Absent, empty or unparsable → null (mostrod maps an
 * unparsable value to null, except CancelOrder, which used 1 — Q10, not kept).
 */
export function parseRequestId(value: unknown): bigint | null {
  if (typeof value !== 'string') return null;
  const t = value.trim();
  if (!/^\d{1,20}$/.test(t)) return null;
  const n = BigInt(t);
  return n <= U64_MAX ? n : null;
}

/**
 * The client's IP from grpc-js `call.getPeer()` ("127.0.0.1:5000", "[::1]:5000", "ipv4:…",
 * "unix:/path"); the port is ignored as in mostrod. Null when there is nothing usable.
 */
export function peerAddress(peer: string | undefined): string | null {
  if (peer === undefined || peer === '' || peer === 'unknown') return null;
  let p = peer.replace(/^ipv[46]:/, '');
  if (p.startsWith('unix:')) return p;
  if (p.startsWith('[')) {
    const end = p.indexOf(']');
    return end > 1 ? p.slice(1, end) : null;
  }
  const colons = p.split(':').length - 1;
  if (colons === 1) p = p.slice(0, p.indexOf(':'));
  return p === '' ? null : p;
}

/** mostro-core's Debug name of a CantDoReason (`is_not_your_dispute` → `IsNotYourDispute`). */
export function reasonDebugName(reason: CantDoReason): string {
  return reason
    .split('_')
    .map((w) => (w === '' ? '' : w[0]!.toUpperCase() + w.slice(1)))
    .join('');
}

/**
 * The text after "<Prefix> failed: " in error_message, in mostrod's forms (DAEMON.md §7.3):
 * refusals "Sending cantDo message to user for <Reason>", internal errors "Error caused by …".
 * A refusal that carries a specific explanation gets it appended in parentheses.
 */
export function describeFailure(err: unknown): string {
  if (err instanceof RpcInputError) return err.message;
  if (err instanceof CantDoError) {
    const base = `Sending cantDo message to user for ${reasonDebugName(err.reason)}`;
    return err.message === `cant-do: ${err.reason}` ? base : `${base} (${err.message})`;
  }
  if (err instanceof Error) return `Error caused by ${err.message}`;
  return `Error caused by ${String(err)}`;
}
