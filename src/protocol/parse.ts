/**
 * Parse Mostro messages exactly as mostro-core 0.8.0's serde types do (PROTOCOL.md §3–4).
 * Everything serde would refuse throws a ProtocolError (intake drops those silently).
 */
import type { z } from 'zod';
import { ProtocolError } from './errors.js';
import { isJsonObject, parseJson, parseJsonArrayWithSpans, type JsonValue } from './json.js';
import {
  isPayloadKey,
  MESSAGE_KIND_FIELDS,
  messageKindFields,
  messageKindSeq,
  payloadVariants,
  type PayloadKey,
} from './schema.js';
import { parseSignature } from './tuple.js';
import { WRAPPERS, type Message, type MessageKind, type Payload, type RumorContent, type Wrapper } from './types.js';

// The signature element is parsed without the schema (tuple.ts, also used by the crypto worker).
export { parseSignature } from './tuple.js';

function fromZod(error: z.ZodError, basePath: string): ProtocolError {
  const issue = error.issues[0];
  if (issue === undefined) return new ProtocolError('invalid value', basePath);
  const path = [basePath, ...issue.path.map((p) => String(p))].filter((p) => p !== '').join('.');
  return new ProtocolError(issue.message, path);
}

/** The single key of an externally tagged enum value (serde: exactly one key). */
function singleKey(v: JsonValue, what: string, path: string): [string, JsonValue] {
  if (!isJsonObject(v)) throw new ProtocolError(`${what} must be an object with exactly one key`, path);
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    throw new ProtocolError(`${what} must have exactly one key, found ${keys.length}`, path);
  }
  const k = keys[0]!;
  return [k, v[k]!];
}

function isWrapper(k: string): k is Wrapper {
  return (WRAPPERS as readonly string[]).includes(k);
}

export function parsePayload(value: JsonValue, path = 'payload'): Payload {
  const [key, inner] = singleKey(value, 'payload', path);
  if (!isPayloadKey(key)) throw new ProtocolError(`unknown payload variant ${JSON.stringify(key)}`, path);
  return parseVariant(key, inner, `${path}.${key}`);
}

function parseVariant<K extends PayloadKey>(key: K, inner: JsonValue, path: string): Payload {
  const r = payloadVariants[key].safeParse(inner);
  if (!r.success) throw fromZod(r.error, path);
  // Each schema's output is exactly the value type of the matching Payload variant.
  return { [key]: r.data } as unknown as Payload;
}

export function parseMessageKind(value: JsonValue, path = ''): MessageKind {
  if (Array.isArray(value) && value.length !== MESSAGE_KIND_FIELDS.length) {
    throw new ProtocolError(`message kind sequence must have 6 elements, found ${value.length}`, path);
  }
  const v = Array.isArray(value) ? (messageKindSeq(value) as JsonValue) : value;
  if (!isJsonObject(v)) throw new ProtocolError('message kind must be an object', path);
  const r = messageKindFields.safeParse(v);
  if (!r.success) throw fromZod(r.error, path);
  const rawPayload = Object.prototype.hasOwnProperty.call(v, 'payload') ? v.payload : undefined;
  const payload =
    rawPayload === undefined || rawPayload === null
      ? null
      : parsePayload(rawPayload, path === '' ? 'payload' : `${path}.payload`);
  const kind: MessageKind = {
    version: r.data.version,
    request_id: r.data.request_id,
    trade_index: r.data.trade_index,
    action: r.data.action,
    payload,
  };
  if (r.data.id !== undefined) kind.id = r.data.id;
  return kind;
}

/** Parse a Message (`{"<wrapper>": MessageKind}`) from a JSON value. */
export function parseMessage(value: JsonValue): Message {
  const [key, inner] = singleKey(value, 'message', '');
  if (!isWrapper(key)) throw new ProtocolError(`unknown message variant ${JSON.stringify(key)}`);
  return { wrapper: key, kind: parseMessageKind(inner, key) };
}

/** Parse a Message from JSON text. */
export function parseMessageText(text: string): Message {
  return parseMessage(parseJson(text));
}

/** Parse rumor content: exactly `[Message, Signature | null]`. */
export function parseRumorContent(text: string): RumorContent {
  const { elements, spans } = parseJsonArrayWithSpans(text);
  if (elements.length !== 2) {
    throw new ProtocolError(`rumor content must be a 2-element array, found ${elements.length}`);
  }
  const message = parseMessage(elements[0]!);
  const signature = parseSignature(elements[1]!);
  const span = spans[0]!;
  return { message, signature, rawMessageText: text.slice(span.start, span.end) };
}
