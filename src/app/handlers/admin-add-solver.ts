import { nip19 } from '../../crypto/nip19.js';
import { makeSolver } from '../../db/users.js';
import { CantDoError, SilentError } from '../../errors.js';
import { buildMessage } from '../../protocol/build.js';
import type { Handler } from '../handler.js';
import { isAdminKey } from '../flows/solver-auth.js';

const HEX_KEY = /^[0-9a-f]{64}$/;

/**
 * The hex public key named by `text`: a bech32 `npub1…` (what mostrod accepts) or, as a port
 * convenience, 64 lowercase/uppercase hex characters. Null when it is neither.
 */
export function parseSolverKey(text: string): string | null {
  const t = text.trim();
  if (HEX_KEY.test(t.toLowerCase())) return t.toLowerCase();
  if (!t.startsWith('npub1')) return null;
  try {
    const decoded = nip19.decode(t);
    return decoded.type === 'npub' ? decoded.data : null;
  } catch {
    return null;
  }
}

/**
 * `admin-add-solver` — the admin (node key) makes a user a dispute solver (HANDLERS.md §4.12,
 * PROTOCOL.md §5.14). Payload `{"text_message": "npub1…"}`.
 *
 * Differences from 0.17.1 (HQ-14): an existing `users` row is promoted (is_solver = 1) instead of a
 * failed INSERT that was only logged, and the `admin-add-solver` reply is sent only once the key
 * really is a solver; an unparsable key → cant-do invalid_pubkey (0.17.1: silence); a 64-hex key is
 * accepted too; a new solver row starts with last_trade_index 0 (0.17.1 copied the admin's
 * trade_index into it). Kept: no/other payload → ignored; a non-admin sender → silence.
 */
export const adminAddSolver: Handler = async (ctx, msg, inbound) => {
  const payload = msg.kind.payload;
  if (payload === null || !('text_message' in payload)) {
    ctx.logger.warn('admin-add-solver without a text_message payload: ignored');
    return;
  }
  if (!isAdminKey(ctx, inbound.identity)) {
    throw new SilentError(`admin-add-solver from non-admin key ${inbound.identity}`);
  }
  const pubkey = parseSolverKey(payload.text_message);
  if (pubkey === null) throw new CantDoError('invalid_pubkey', `not an npub: ${payload.text_message}`);

  const outcome = await makeSolver(ctx.db, pubkey, ctx.clock.now());
  ctx.logger.info({ solver: pubkey, outcome }, 'solver added');

  ctx.outbox.sendMessage(
    inbound.tradeKey,
    buildMessage({ wrapper: 'dispute', action: 'admin-add-solver', requestId: msg.kind.request_id }),
  );
};
