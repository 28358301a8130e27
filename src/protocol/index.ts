/** Public API of the protocol layer (pure: no I/O). */
export * from './types.js';
export { ProtocolError } from './errors.js';
export { parseJson, parseJsonArrayWithSpans, isJsonObject, MAX_JSON_DEPTH } from './json.js';
export type { JsonValue, JsonObject, Span } from './json.js';
export { normalizeUuid, isCanonicalUuid } from './uuid.js';
export {
  parseMessage,
  parseMessageText,
  parseMessageKind,
  parsePayload,
  parseRumorContent,
  parseSignature,
} from './parse.js';
export {
  serializeMessage,
  serializeMessageKind,
  serializePayload,
  serializeSmallOrder,
  serializeRumorContent,
  formatF64,
} from './serialize.js';
export { signMessage, verifyMessageSignature } from './signature.js';
export { verifyStructure } from './verify.js';
export { buildMessage, cantDoMessage, PROTOCOL_VERSION } from './build.js';
export type { BuildMessageOptions } from './build.js';
