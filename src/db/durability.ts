/**
 * Durability barrier: commits are written without an fsync each, and nothing that depends on them
 * leaves the process before one fdatasync of the WAL has put them on disk.
 *
 * With `synchronous = FULL` (SQLite's default, and mostrod's through sqlx) every commit fsyncs the
 * WAL on the event-loop thread: ≈ 0.7 ms of blocked loop and ≈ 0.25 ms of CPU per commit on this
 * machine's disk, two commits per new order. With `synchronous = NORMAL` a commit only write()s its
 * WAL frames (≈ 0.03 ms); they survive a crash of the process (they are in the OS page cache) but
 * not a power loss. The barrier closes that gap for everything the outside world can see:
 *
 *   Invariant: an effect (a Nostr event or reply handed to the relays, an LND call that creates,
 *   settles or cancels a hold invoice or sends a payment, an admin RPC answer) starts only after an
 *   fdatasync of the WAL that began after every commit made before the effect was asked for.
 *
 * So after a power loss the database is never behind anything a trader, a relay, LND or an admin
 * was told or asked: a payout's claim is on disk before the payment leaves (no second payout after
 * a reboot), a settle follows its durable release. What can be lost is only state nobody was told
 * about yet, exactly as with a crash just before the commit.
 *
 * One fdatasync covers every commit before it began (group commit). An effect asked for while a
 * sync runs that began before its commits needs another: it starts at once, beside the first, so
 * the effect waits for one sync, not for the end of the running one and then a whole next one (a
 * disk that stalls for 20 ms made such effects wait 40; session 21). At most two run at a time
 * (fdatasync takes one of libuv's four thread-pool threads while it lasts); effects asked for while
 * two run wait for the next, which starts when one of them ends — and none runs while nothing was
 * written. fdatasync's guarantee is per call (everything written to the file before the call is on
 * disk when it returns, whatever other calls run), so syncs may end in any order: the barrier
 * counts as durable what the furthest-reaching finished one covered. On libuv's thread pool, so
 * the event loop keeps working.
 *
 * Which commits a sync covers: SQLite's `total_changes()` counts every row written on this
 * connection. A barrier asked for at count N is satisfied by a sync that started when the count was
 * ≥ N and no transaction was open (a sync never starts inside a transaction: it would count the open
 * transaction's rows as if committed). Rolled-back rows only cause an unneeded sync.
 *
 * A failed fdatasync loses durability (Linux may drop the dirty pages: "fsyncgate"): the barrier is
 * poisoned — every waiting and later effect fails — and `onFatal` stops the daemon (exit 1). A
 * connection that is gone when a start (deferred while a transaction was open) reads its counter
 * poisons it the same way; `onFatal` is not called then if the barrier is being closed (shutdown).
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import type { Database } from './sqlite-driver.js';

/** Resolves once every commit made before the call is on disk; null when that is already so. */
export type DurableFn = () => Promise<void> | null;

export interface DurabilityBarrier {
  durable: DurableFn;
  stats(): DurabilityStats;
  /** Wait for the last sync, then release the WAL file descriptor. */
  close(): Promise<void>;
}

export interface DurabilityStats {
  /** 'barrier' (group fdatasync before effects) or 'commit' (SQLite fsyncs every commit). */
  mode: DurabilityMode;
  /** fdatasync calls made. */
  syncs: number;
  /** Barrier requests that had to wait for a sync. */
  waits: number;
  /** Effects waiting now. */
  waiting: number;
  /** Set once a sync failed (the barrier is poisoned). */
  failed: boolean;
}

export type DurabilityMode = 'barrier' | 'commit';

/** fdatasyncs of the WAL that may run at once (see the module comment). */
export const MAX_SYNCS_IN_FLIGHT = 2;

/** `MOSTROD_DB_SYNC`: how commits reach the disk (default `barrier`). */
export const DB_SYNC_ENV = 'MOSTROD_DB_SYNC';

/** The durability mode from the environment; a bad value throws naming the variable. */
export function durabilityFromEnv(env: NodeJS.ProcessEnv = process.env): DurabilityMode {
  const raw = env[DB_SYNC_ENV];
  if (raw === undefined || raw === '') return 'barrier';
  const v = raw.trim().toLowerCase();
  if (v === 'barrier' || v === 'commit') return v;
  throw new Error(`${DB_SYNC_ENV}: expected "barrier" or "commit", got ${JSON.stringify(raw)}`);
}

/** Every commit is already durable when it returns (synchronous = FULL, or an in-memory database). */
export class CommitDurability implements DurabilityBarrier {
  readonly durable: DurableFn = () => null;
  stats(): DurabilityStats {
    return { mode: 'commit', syncs: 0, waits: 0, waiting: 0, failed: false };
  }
  async close(): Promise<void> {}
}

/** What the barrier needs from the connection (the better-sqlite3 handle; a model in tests). */
export interface ChangeCounter {
  /** Rows written on this connection so far (SQLite `total_changes()`). */
  totalChanges(): number;
  /** A transaction is open on this connection. */
  inTransaction(): boolean;
}

export function sqliteChangeCounter(db: Database): ChangeCounter {
  const stmt = db.prepare('SELECT total_changes()').pluck();
  return {
    totalChanges: () => stmt.get() as number,
    inTransaction: () => db.inTransaction,
  };
}

export interface WalBarrierOptions {
  counter: ChangeCounter;
  /** fdatasync of the WAL; resolves when done (default: node:fs fdatasync of `walFile` on the thread pool). */
  sync: () => Promise<void>;
  /** Called once, with the error, when a sync fails. */
  onFatal?: (err: Error) => void;
  /** Retry a sync start that found a transaction open (default setImmediate). */
  defer?: (fn: () => void) => void;
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class WalBarrier implements DurabilityBarrier {
  /** Changes count known durable. */
  private syncedTo: number;
  /** Syncs running. */
  private inFlight = 0;
  /** The changes count the furthest-reaching running sync covers (meaningful while inFlight > 0). */
  private inFlightCovers = 0;
  private scheduled = false;
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  /** close() was called: a connection closed under a pending start is the shutdown, not a fault. */
  private closing = false;
  private idleWaiters: Array<() => void> = [];
  private counts = { syncs: 0, waits: 0 };
  private readonly defer: (fn: () => void) => void;

  constructor(private readonly o: WalBarrierOptions) {
    // Whatever was written before the barrier existed (migrations) was committed with FULL.
    this.syncedTo = o.counter.totalChanges();
    this.defer = o.defer ?? ((fn) => setImmediate(fn));
  }

  readonly durable: DurableFn = () => {
    if (this.failure !== null) return Promise.reject(this.failure);
    const target = this.o.counter.totalChanges();
    if (target <= this.syncedTo) return null;
    this.counts.waits++;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ target, resolve, reject }));
    this.kick();
    return p;
  };

  stats(): DurabilityStats {
    return { mode: 'barrier', ...this.counts, waiting: this.waiters.length, failed: this.failure !== null };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.inFlight === 0 && !this.scheduled && this.waiters.length === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /**
   * Start a sync for the waiters no running sync covers, unless one is scheduled or
   * MAX_SYNCS_IN_FLIGHT run (the next to end kicks again).
   */
  private kick(): void {
    if (this.scheduled || this.waiters.length === 0 || this.failure !== null) return;
    if (this.inFlight >= MAX_SYNCS_IN_FLIGHT) return;
    // Targets grow in request order: a running sync that covers the last waiter covers them all.
    if (this.inFlight > 0 && this.waiters[this.waiters.length - 1]!.target <= this.inFlightCovers) return;
    this.scheduled = true;
    this.start();
  }

  private start(): void {
    if (this.failure !== null) {
      // poisoned while this start waited for a transaction to end: nobody waits for it any more
      this.scheduled = false;
      if (this.inFlight === 0) for (const r of this.idleWaiters.splice(0)) r();
      return;
    }
    let open: boolean;
    let covers: number;
    try {
      open = this.o.counter.inTransaction();
      covers = open ? 0 : this.o.counter.totalChanges();
    } catch (err) {
      // The connection is gone (closed under a start that waited for a transaction, or broken):
      // nothing can be made durable any more. Fatal unless the barrier is being closed.
      this.scheduled = false;
      this.inFlight++;
      this.finished(0, err instanceof Error ? err : new Error(String(err)), !this.closing);
      return;
    }
    if (open) {
      // The count includes the open transaction's rows: starting now would claim them durable.
      this.defer(() => this.start());
      return;
    }
    this.scheduled = false;
    this.inFlightCovers = this.inFlight === 0 ? covers : Math.max(this.inFlightCovers, covers);
    this.inFlight++;
    this.counts.syncs++;
    this.o.sync().then(
      () => this.finished(covers, null),
      (err: unknown) => this.finished(covers, err instanceof Error ? err : new Error(String(err))),
    );
  }

  private finished(covers: number, err: Error | null, fatal = true): void {
    this.inFlight--;
    if (err !== null) {
      // Two syncs may fail: the barrier is poisoned, and the daemon told, once.
      const first = this.failure === null;
      this.failure ??= new Error(`database sync (fdatasync of the WAL) failed: ${err.message}`, { cause: err });
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
      if (first && fatal) this.o.onFatal?.(this.failure);
    } else {
      // A sync that began later may end first: what is durable is the furthest any finished one covered.
      if (covers > this.syncedTo) this.syncedTo = covers;
      // Targets grow in request order: the satisfied waiters are a prefix, resolved in order.
      let n = 0;
      while (n < this.waiters.length && this.waiters[n]!.target <= this.syncedTo) n++;
      for (const w of this.waiters.splice(0, n)) w.resolve();
    }
    if (this.waiters.length > 0) {
      this.kick();
      return;
    }
    if (this.inFlight === 0) for (const r of this.idleWaiters.splice(0)) r();
  }
}

/**
 * The barrier for a database file opened in WAL mode with synchronous = NORMAL: fdatasync of
 * `<file>-wal` through a descriptor kept open for the daemon's life.
 */
export function openWalBarrier(db: Database, file: string, onFatal?: (err: Error) => void): DurabilityBarrier {
  const walFile = `${file}-wal`;
  // The WAL exists once a connection has read the database in WAL mode; make sure it does.
  db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
  if (!existsSync(walFile)) throw new Error(`database: WAL file ${walFile} missing after opening in WAL mode`);
  const fd = openSync(walFile, 'r');
  // What a previous process committed may still be only in the page cache (it crashed, or ran in
  // barrier mode): its total_changes() is not ours, so sync it now, before this process acts on it.
  try {
    fdatasyncSync(fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const barrier = new WalBarrier({
    counter: sqliteChangeCounter(db),
    sync: () => new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err === null ? resolve() : reject(err)))),
    ...(onFatal !== undefined ? { onFatal } : {}),
  });
  return {
    durable: barrier.durable,
    stats: () => barrier.stats(),
    close: async () => {
      await barrier.close();
      closeSync(fd);
    },
  };
}
