/**
 * Per-author admission for protocol-v2 (kind 14) events, whose author is visible before any crypto.
 *
 * A key that floods the node is refused cheaply, while a forger that only CLAIMS someone else's key
 * cannot spend that key's allowance:
 *  - a token bucket per author (`rate` per second, `burst`) is charged only for events whose
 *    signature verified, so forged events never drain it; once a key has spent it, its further
 *    events are dropped before any crypto (`admit`) until it refills;
 *  - events admitted and not yet charged count against the bucket too (`admit` → `take` or
 *    `release`): a key sending thousands of events at once cannot have more of them waiting for
 *    their crypto than it has tokens (before this, everything it sent before its first events were
 *    verified and charged went through, and a one-key flood filled the first-contact lane and got
 *    other users' first contacts shed);
 *  - an author has at most `maxQueued` events in the priority crypto lane at a time; more go to the
 *    first-contact lane (a flood from one known key can never fill the lane the others rely on
 *    before its verified events have emptied its bucket);
 *  - an author whose claimed events failed the signature check is demoted for `demoteSeconds`: its
 *    events take the first-contact lane (not dropped), so forgeries naming an active trader cannot
 *    hog the priority lane either;
 *  - a demoted ("suspected") author whose allowance is held by events still in flight — which a
 *    forger naming it keeps full — is not refused while it has tokens: its further events are
 *    admitted unreserved (`admitSuspected`) and charged once verified like any other, so a forgery
 *    flood naming an active trader costs the node one verification per forgery (bounded by the
 *    first-contact lane's shedding; every event costs that upstream, which verifies first) but
 *    cannot lock the trader's own events out.
 * State per author is bounded (`maxAuthors`, least recently used first out).
 */
export interface AuthorLimits {
  /** Verified events per second an author may sustain. */
  rate: number;
  /** Verified events an author may send in a burst. */
  burst: number;
  /** Events of one author waiting in (or running through) the priority lane at a time. */
  maxQueued: number;
  /** How long an author whose claimed event failed its signature check loses the priority lane (s). */
  demoteSeconds: number;
  /** Authors tracked at most. */
  maxAuthors: number;
}

export const DEFAULT_AUTHOR_LIMITS: AuthorLimits = {
  rate: 5,
  burst: 5,
  maxQueued: 8,
  demoteSeconds: 60,
  maxAuthors: 50_000,
};

interface AuthorState {
  tokens: number;
  /** when `tokens` was last brought up to date (clock seconds) */
  at: number;
  /** events of this author in the priority lane now */
  queued: number;
  /** the author takes the first-contact lane until then (clock seconds) */
  demotedUntil: number;
  /** events admitted (`admit`) and neither charged (`take`) nor released yet */
  uncharged: number;
}

/** One admitted event: charged or released exactly once. */
export interface AuthorTicket {
  readonly author: string;
  settled: boolean;
  /** counted in the author's `uncharged` (admit) or not (admitSuspected) */
  readonly reserved: boolean;
}

export class AuthorLimiter {
  private readonly authors = new Map<string, AuthorState>();

  constructor(private readonly limits: AuthorLimits = DEFAULT_AUTHOR_LIMITS) {}

  /**
   * Admit an event of `author` to the crypto gates, or null when the author spent its allowance —
   * counting its events already admitted and not yet charged — : drop the event before any crypto.
   * The ticket must be settled once: `take` (its signature verified) or `release` (dropped before).
   */
  admit(author: string, now: number): AuthorTicket | null {
    const s = this.state(author, now);
    this.refill(s, now);
    if (s.tokens - s.uncharged < 1) return null;
    s.uncharged++;
    return { author, settled: false, reserved: true };
  }

  /**
   * After `admit` refused: an event of a demoted author that still has tokens — its allowance is
   * held by events in flight, forgeries naming it among them — admitted without a reservation
   * (the caller treats it as first contact); null when the author is not demoted or has no token.
   */
  admitSuspected(author: string, now: number): AuthorTicket | null {
    const s = this.state(author, now);
    this.refill(s, now);
    if (s.demotedUntil <= now || s.tokens < 1) return null;
    return { author, settled: false, reserved: false };
  }

  /**
   * Would `admit` and `admitSuspected` both refuse an event of `author` now? Changes nothing (not
   * even the least-recently-used order): a look at a frame before it is decoded
   * (Intake.refusesFrame). An author without state is never refused here.
   */
  refuses(author: string, now: number): boolean {
    const s = this.authors.get(author);
    if (s === undefined) return false;
    const tokens = now > s.at ? Math.min(this.limits.burst, s.tokens + (now - s.at) * this.limits.rate) : s.tokens;
    if (tokens - s.uncharged >= 1) return false;
    return !(s.demotedUntil > now && tokens >= 1);
  }

  /** An admitted event dropped before it was charged (or whose charge is moot): no allowance spent. */
  release(ticket: AuthorTicket): void {
    if (ticket.settled) return;
    ticket.settled = true;
    if (!ticket.reserved) return;
    const s = this.authors.get(ticket.author);
    if (s !== undefined && s.uncharged > 0) s.uncharged--;
  }

  /** May this event of a known `author` take the priority lane? (Reserves a place; see leave.) */
  enterPriority(author: string, now: number): boolean {
    const s = this.state(author, now);
    if (s.demotedUntil > now || s.queued >= this.limits.maxQueued) return false;
    s.queued++;
    return true;
  }

  /** An event that entered the priority lane through enterPriority has left it. */
  leavePriority(author: string): void {
    const s = this.authors.get(author);
    if (s !== undefined && s.queued > 0) s.queued--;
  }

  /** Charge a verified event to its author; false when it has no allowance left (drop the event). */
  take(ticket: AuthorTicket, now: number): boolean {
    this.release(ticket);
    const s = this.state(ticket.author, now);
    this.refill(s, now);
    if (s.tokens < 1) return false;
    s.tokens -= 1;
    return true;
  }

  /** An event claiming `author` failed its signature check: the author loses the priority lane for a while. */
  demote(author: string, now: number): void {
    this.state(author, now).demotedUntil = now + this.limits.demoteSeconds;
  }

  get size(): number {
    return this.authors.size;
  }

  private refill(s: AuthorState, now: number): void {
    if (now > s.at) {
      s.tokens = Math.min(this.limits.burst, s.tokens + (now - s.at) * this.limits.rate);
      s.at = now;
    }
  }

  private state(author: string, now: number): AuthorState {
    let s = this.authors.get(author);
    if (s === undefined) {
      s = { tokens: this.limits.burst, at: now, queued: 0, demotedUntil: 0, uncharged: 0 };
    } else {
      this.authors.delete(author); // re-inserted below: Map order is least recently used first
    }
    this.authors.set(author, s);
    while (this.authors.size > this.limits.maxAuthors) {
      const oldest = this.authors.keys().next();
      if (oldest.done === true) break;
      this.authors.delete(oldest.value);
    }
    return s;
  }
}
