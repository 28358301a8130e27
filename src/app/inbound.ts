/**
 * Who sent a request, as established by intake (or synthesised by the admin gRPC, which acts as the
 * node key). Handlers get this instead of a gift wrap.
 */
export interface Inbound {
  /** Seal author: the user's identity key (equals tradeKey in full-privacy mode). */
  identity: string;
  /** Rumor author: the trade key replies go to. */
  tradeKey: string;
  /** rumor.created_at (unix s) */
  createdAt: number;
  /** Outer gift-wrap event id ('' for synthetic requests). */
  eventId: string;
  /** identity === tradeKey */
  fullPrivacy: boolean;
}
