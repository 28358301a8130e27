import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Settings } from './config/types.js';
import type { Db } from './db/database.js';
import type { OrderChangeAcks } from './db/order-changes.js';
import type { LightningBackend } from './lightning/backend.js';
import type { LnurlResolver } from './lightning/lnurl.js';
import type { Outbox } from './nostr/outbox.js';
import type { PriceService } from './price/types.js';
import type { KeyedLock } from './app/locks.js';
import type { KeyTransports } from './nostr/transport-registry.js';
import type { BackupStatus } from './ops/backup-job.js';
import type { BanList } from './app/bans.js';
import type { UnratedBudgets } from './app/unrated-budget.js';

/** The node's own Nostr key pair. */
export interface MostroKeys {
  secretKey: Uint8Array;
  /** x-only public key, lowercase hex */
  pubkey: string;
}

/**
 * Everything a handler, flow or job needs, built once in main.ts (or by the test context) and
 * passed explicitly. No module-level state anywhere else.
 */
export interface AppContext {
  settings: Settings;
  db: Db;
  lightning: LightningBackend;
  lnurl: LnurlResolver;
  outbox: Outbox;
  prices: PriceService;
  keys: MostroKeys;
  clock: Clock;
  logger: Logger;
  locks: KeyedLock;
  /** Background work (payouts, ...) that shutdown must wait for. */
  tasks: TaskTracker;
  /** Order change-log rows deleted once a relay accepted their 38383 event (db/order-changes.ts). */
  orderChangeAcks: OrderChangeAcks;
  /** Identity keys the operator banned from starting trades (app/bans.ts), loaded at start. */
  bans: BanList;
  /** `[mostro] unrated_orders_per_minute` / `unrated_takes_per_minute`: the budgets of unrated users (app/unrated-budget.ts). */
  unrated: UnratedBudgets;
  /** Which transport each trade key speaks (protocol v2); absent = gift wrap for every key. */
  transports?: KeyTransports;
  /** Scheduled backups ([backup]): status for the operator, metrics and alerts. Absent in tests. */
  backups?: { status(): BackupStatus };
}

/** Tracks fire-and-forget work so shutdown can wait for it and tests can await quiescence. */
export class TaskTracker {
  private readonly running = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const done = () => this.running.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves when every task tracked so far (and any started meanwhile) has settled. */
  async idle(): Promise<void> {
    while (this.running.size > 0) {
      await Promise.allSettled([...this.running]);
    }
  }

  get size(): number {
    return this.running.size;
  }
}
