/**
 * Per-author admission for protocol-v2 (kind 14) events, whose author is visible before any crypto.
 *
 * A key that floods the node is refused cheaply, while a forger that only CLAIMS someone else's key
 * cannot spend that key's allowance:
 *  - a token bucket per author (`rate` per second, `burst`) is charged only for events whose
 *    signature verified, so forged events never drain it; once a key has spent it, its further
 *    events are dropped before any crypto (`exhausted`) until it refills;
 *  - an author has at most `maxQueued` events in the priority crypto lane at a time; more go to the
 *    first-contact lane (a flood from one known key can never fill the lane the others rely on
 *    before its verified events have emptied its bucket);
 *  - an author whose claimed events failed the signature check is demoted for `demoteSeconds`: its
 *    events take the first-contact lane (not dropped), so forgeries naming an active trader cannot
 *    hog the priority lane either.
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
  burst: 30,
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
}

export class AuthorLimiter {
  private readonly authors = new Map<string, AuthorState>();

  constructor(private readonly limits: AuthorLimits = DEFAULT_AUTHOR_LIMITS) {}

  /** True when `author` spent its allowance: drop its event before any crypto. */
  exhausted(author: string, now: number): boolean {
    const s = this.authors.get(author);
    if (s === undefined) return false;
    this.refill(s, now);
    return s.tokens < 1;
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

  /** Charge a verified event to `author`; false when it has no allowance left (drop the event). */
  take(author: string, now: number): boolean {
    const s = this.state(author, now);
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
      s = { tokens: this.limits.burst, at: now, queued: 0, demotedUntil: 0 };
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
