/** Constructors for outbound Messages (always protocol version 1). */
import type { Action, CantDoReason, Message, MessageKind, Payload, Wrapper } from './types.js';

export const PROTOCOL_VERSION = 1;

export interface BuildMessageOptions {
  /** Wrapper variant; default 'order'. */
  wrapper?: Wrapper;
  action: Action;
  /** Order id (or dispute id); omitted from the JSON when undefined. */
  id?: string;
  requestId?: bigint | null;
  tradeIndex?: bigint | null;
  payload?: Payload | null;
}

export function buildMessage(opts: BuildMessageOptions): Message {
  const kind: MessageKind = {
    version: PROTOCOL_VERSION,
    request_id: opts.requestId ?? null,
    trade_index: opts.tradeIndex ?? null,
    action: opts.action,
    payload: opts.payload ?? null,
  };
  if (opts.id !== undefined) kind.id = opts.id;
  return { wrapper: opts.wrapper ?? 'order', kind };
}

/**
 * The cant-do reply (PROTOCOL.md §4.6): wrapper `cant-do`, `trade_index` null, `id` = the
 * request's id if any, `request_id` echoed, payload `{"cant_do": reason}`.
 */
export function cantDoMessage(reason: CantDoReason, opts: { id?: string; requestId?: bigint | null } = {}): Message {
  return buildMessage({
    wrapper: 'cant-do',
    action: 'cant-do',
    ...(opts.id !== undefined ? { id: opts.id } : {}),
    requestId: opts.requestId ?? null,
    tradeIndex: null,
    payload: { cant_do: reason },
  });
}
