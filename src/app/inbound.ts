/**
 * Who sent a request, as established by intake (or synthesised by the admin gRPC, which acts as the
 * node key). Handlers get this instead of a gift wrap.
 */
export interface Inbound {
  /**
   * The user's identity key: the seal author (gift wrap) or the proven key of the identity proof
   * (protocol v2); equals tradeKey in full-privacy mode.
   */
  identity: string;
  /** Rumor author (gift wrap) or event author (protocol v2): the trade key replies go to. */
  tradeKey: string;
  /** rumor.created_at (unix s) */
  createdAt: number;
  /** Outer gift-wrap or kind-14 event id ('' for synthetic requests). */
  eventId: string;
  /** identity === tradeKey */
  fullPrivacy: boolean;
}
