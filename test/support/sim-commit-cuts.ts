/**
 * Crash points at database commits for the money simulation (`cut(k,apply|drop,bits)`): the
 * process dies at its k-th commit from the moment the cut is armed — with that commit written
 * (`apply`) or not (`drop`) — instead of only while it waits on a Lightning op. better-sqlite3 is
 * synchronous, so in the daemon nothing else of the process runs between a commit and its death;
 * here the process is fenced instead: from the cut on, its writes, transactions and commits throw
 * (an open transaction is rolled back first, as SQLite does when a process dies), its Lightning
 * client never answers and its outbox sends nothing (the world marks it dead), so whatever its
 * tasks do next reaches nobody. Reads still run (they change nothing), so the connection is
 * released and the world can read the database until it restarts the process after the step.
 *
 * A commit is a transaction's COMMIT or a write statement outside a transaction (autocommit).
 */
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';

export interface CommitCut {
  /** die at the k-th commit from now (1 = the next one) */
  k: number;
  /** that commit is written before the process dies */
  applied: boolean;
}

/** What the wrapped connection does after the cut: every write of the dead process fails. */
export class ProcessCutError extends Error {
  constructor() {
    super('sim: the process died at a commit');
  }
}

const WRITE = /^\s*(insert|update|delete|replace)\b/i;

export class CommitCuts {
  private armed: CommitCut | null = null;
  private seen = 0;
  /** The cut fired: the process is dead (its writes fail). */
  fired = false;
  /** Commits this process made (tests). */
  commits = 0;

  constructor(private readonly onFire: () => void) {}

  arm(cut: CommitCut): void {
    this.armed = cut;
    this.seen = 0;
  }

  disarm(): void {
    this.armed = null;
  }

  get isArmed(): boolean {
    return this.armed !== null;
  }

  /** A commit is about to run: go on, or die with it applied or dropped. */
  next(): 'go' | 'apply' | 'drop' {
    if (this.fired) return 'drop';
    this.commits += 1;
    if (this.armed === null) return 'go';
    this.seen += 1;
    if (this.seen < this.armed.k) return 'go';
    const verdict = this.armed.applied ? 'apply' : 'drop';
    this.armed = null;
    this.fired = true;
    this.onFire();
    return verdict;
  }

  /** For `openDatabase({ wrapDriver })`. */
  readonly wrap = (driver: Driver): Driver => new CutDriver(driver, this);
}

class CutConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly driver: CutDriver,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const cuts = this.driver.cuts;
    if (WRITE.test(query.sql)) {
      if (cuts.fired) throw new ProcessCutError();
      if (!this.driver.inTransaction) {
        const verdict = cuts.next();
        if (verdict === 'drop') throw new ProcessCutError();
        if (verdict === 'apply') {
          await this.inner.executeQuery(query);
          throw new ProcessCutError();
        }
      }
    }
    return this.inner.executeQuery<R>(query);
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class CutDriver implements Driver {
  inTransaction = false;

  constructor(
    private readonly inner: Driver,
    readonly cuts: CommitCuts,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new CutConnection(await this.inner.acquireConnection(), this);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (this.cuts.fired) throw new ProcessCutError();
    await this.inner.beginTransaction(unwrap(connection), settings);
    this.inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const verdict = this.cuts.next();
    if (verdict === 'drop') {
      // The process dies before its COMMIT: SQLite rolls the transaction back.
      await this.rollbackTransaction(connection);
      throw new ProcessCutError();
    }
    await this.inner.commitTransaction(unwrap(connection));
    this.inTransaction = false;
    if (verdict === 'apply') throw new ProcessCutError();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    await this.inner.rollbackTransaction(unwrap(connection));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof CutConnection ? connection.inner : connection;
}
