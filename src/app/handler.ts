import type { AppContext } from '../context.js';
import type { Message } from '../protocol/types.js';
import type { Inbound } from './inbound.js';

/**
 * An action handler. Refusals are thrown as CantDoError (the router answers cant-do to
 * inbound.tradeKey with the request's id and request_id); SilentError and any other error are
 * logged without a reply.
 */
export type Handler = (ctx: AppContext, msg: Message, inbound: Inbound) => Promise<void>;
