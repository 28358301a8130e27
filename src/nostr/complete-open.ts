/**
 * The part of an open-gift-wrap / open-direct task that runs on the calling (event-loop) thread,
 * so the crypto worker thread never loads the Message schema (zod): the parse gate, then the
 * signature gates, with the very gate functions of intake-gates.ts, fed the verdicts the worker
 * reached over the raw message text (crypto-gates.ts, RawSignatureChecks).
 *
 * Precedence, as when everything ran in the worker: stale (worker) → parse → tuple signature (v1);
 * stale → parse → trade_sig → identity proof → reputation mode without trade_sig (v2). A request
 * that fails the parse gets 'parse' whatever its signatures.
 *
 * A signature is valid over the canonical re-serialization of the Message or over its raw text
 * (signature.ts); the worker checked the raw text. Only when that failed and the canonical text
 * differs (a client that signs serde's output but sends other JSON) is one more check needed,
 * over the canonical text: `verify` runs it where the executor runs crypto (the pool, or this
 * thread with crypto_threads = 0). Per signature that is at most the two checks it cost before.
 */
import { serializeMessage } from '../protocol/serialize.js';
import { identityProofPayload } from '../protocol/tuple.js';
import type { Message } from '../protocol/types.js';
import type { RawSignatureChecks } from './crypto-gates.js';
import type { CryptoTask, OpenOutcome, SealedOutcome, SealedRequest, SignatureCheck } from './crypto-tasks.js';
import { gateDirectSignatures, gateParse, gateParseDirect, gateTupleSignature } from './intake-gates.js';

/** Runs signature checks where the executor runs its crypto. */
export type VerifySignatures = (checks: SignatureCheck[]) => Promise<boolean[]>;

/**
 * Is the signature valid over the Message (canonical or raw text)? `rawOk` is the worker's verdict
 * over the raw text (undefined: not checked); `check` builds the check over a given message text.
 */
async function overMessage(
  rawOk: boolean | undefined,
  message: Message,
  rawMessageText: string,
  check: (messageText: string) => SignatureCheck,
  verify: VerifySignatures,
): Promise<boolean> {
  if (rawOk === true) return true;
  const canonical = serializeMessage(message);
  const texts: string[] = [];
  if (canonical !== rawMessageText) texts.push(canonical);
  if (rawOk === undefined) texts.push(rawMessageText);
  if (texts.length === 0) return false;
  const results = await verify(texts.map(check));
  return results.some((ok) => ok);
}

/**
 * The worker's checks, if they were made over the very text the parse took as the Message's raw
 * text (always, for content the parse accepts; otherwise they are ignored and redone here).
 */
function checksFor(s: SealedRequest, rawMessageText: string): RawSignatureChecks {
  const span = s.checks.span;
  return span !== undefined && s.content.slice(span.start, span.end) === rawMessageText ? s.checks : {};
}

/** v1: parse gate, then tuple-signature gate (the worker stopped after freshness). */
export async function completeGiftWrap(o: SealedOutcome, verify: VerifySignatures): Promise<OpenOutcome> {
  if (o.signedId === null) return o;
  const { signedId, verdict: s } = o;
  if (!s.ok) return { signedId, verdict: s };
  const parse = gateParse(s.content);
  if (!parse.ok) return { signedId, verdict: parse };
  const { parsed } = parse;
  const sig = parsed.signature;
  const sigOk =
    s.identity !== s.tradeKey &&
    sig !== null &&
    (await overMessage(checksFor(s, parsed.rawMessageText).trade, parsed.message, parsed.rawMessageText, (text) => ({ signature: sig, text, pubkey: s.tradeKey }), verify));
  const tuple = gateTupleSignature(parsed, s.identity, s.tradeKey, () => sigOk);
  if (!tuple.ok) return { signedId, verdict: tuple };
  return { signedId, verdict: { ok: true, identity: s.identity, tradeKey: s.tradeKey, createdAt: s.createdAt, parsed } };
}

/** v2: parse gate, then trade_sig and identity proof (the worker stopped after freshness). */
export async function completeDirect(o: SealedOutcome, verify: VerifySignatures): Promise<OpenOutcome> {
  if (o.signedId === null) return o;
  const { signedId, verdict: s } = o;
  if (!s.ok) return { signedId, verdict: s };
  const author = s.tradeKey;
  const parse = gateParseDirect(s.content);
  if (!parse.ok) return { signedId, verdict: parse };
  const { parsed } = parse;
  const { message, rawMessageText, signature, identityProof: proof } = parsed;
  const checks = checksFor(s, rawMessageText);
  const tradeOk =
    signature !== null &&
    (await overMessage(checks.trade, message, rawMessageText, (text) => ({ signature, text, pubkey: author }), verify));
  // The gate looks at the proof only when trade_sig is absent or verified.
  const proofOk =
    proof === null ||
    ((signature === null || tradeOk) &&
      (await overMessage(
        checks.proof,
        message,
        rawMessageText,
        (text) => ({ signature: proof.signature, text: identityProofPayload(author, text), pubkey: proof.pubkey }),
        verify,
      )));
  const auth = gateDirectSignatures(parsed, author, { trade: () => tradeOk, proof: () => proofOk });
  if (!auth.ok) return { signedId, verdict: auth };
  return { signedId, verdict: { ok: true, identity: auth.identity, tradeKey: author, createdAt: s.createdAt, parsed } };
}

/** A task's result as `CryptoExecutor.run` answers it, from what runCryptoTask returned. */
export function completeTask(task: CryptoTask, value: unknown, verify: VerifySignatures): Promise<unknown> {
  switch (task.op) {
    case 'open-gift-wrap':
      return completeGiftWrap(value as SealedOutcome, verify);
    case 'open-direct':
      return completeDirect(value as SealedOutcome, verify);
    default:
      return Promise.resolve(value);
  }
}
