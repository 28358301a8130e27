/**
 * Scheduled online backups (`[backup] schedule`, `dir`, `keep`): on every tick of the cron schedule
 * (`cron.ts`, evaluated in UTC, never two runs at once: a tick during a run joins it) the database is copied with the same
 * online backup as `mostrod-backup` (SQLite backup API, `PRAGMA integrity_check` on the copy, rows
 * counted, renamed into place only when sound), then the oldest scheduled backups beyond `keep`
 * are deleted. Failures are logged, counted and reported by status() (for metrics and alerts); a
 * failed run never deletes an older backup.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { BackupSettings } from '../config/types.js';
import { parseCron, scheduleCron, type CronTask } from './cron.js';
import { runBackup, type BackupResult } from './backup.js';

/** Scheduled backup files: mostro-20261203T031500Z.db (optionally -N when a second is taken twice). */
const BACKUP_FILE = /^mostro-\d{8}T\d{6}Z(-\d+)?\.db$/;

export interface BackupStatus {
  /** The cron expression, or null when scheduled backups are off. */
  schedule: string | null;
  dir: string;
  keep: number;
  /** Runs started since the process started. */
  runs: number;
  /** Failed runs since the process started. */
  failures: number;
  /** Failed runs since the last success (0 after a success). */
  consecutiveFailures: number;
  lastRunAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastBackup: BackupResult | null;
  /** Backups deleted by pruning since the process started. */
  pruned: number;
  /** Unix time of the next scheduled run (null when not scheduled). */
  nextRunAt: number | null;
}

export interface BackupJobOptions {
  /** The settings directory (holds mostro.db). */
  settingsDir: string;
  settings: BackupSettings;
  clock: Clock;
  logger: Logger;
}

export function backupDir(settingsDir: string, settings: Pick<BackupSettings, 'dir'>): string {
  const dir = settings.dir ?? 'backups';
  return isAbsolute(dir) ? dir : resolve(settingsDir, dir);
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export class BackupJob {
  private task: CronTask | null = null;
  private running: Promise<BackupResult | null> | null = null;
  private readonly state: Omit<BackupStatus, 'schedule' | 'dir' | 'keep' | 'nextRunAt'> = {
    runs: 0,
    failures: 0,
    consecutiveFailures: 0,
    lastRunAt: null,
    lastSuccessAt: null,
    lastError: null,
    lastBackup: null,
    pruned: 0,
  };
  readonly dir: string;

  constructor(private readonly o: BackupJobOptions) {
    this.dir = backupDir(o.settingsDir, o.settings);
  }

  /** Start the cron schedule (no-op without `schedule`). */
  start(): void {
    const schedule = this.o.settings.schedule;
    if (schedule === undefined || this.task !== null) return;
    this.task = scheduleCron(parseCron(schedule), () => this.runOnce());
    this.o.logger.info({ schedule, dir: this.dir, keep: this.o.settings.keep }, 'scheduled backups on');
  }

  /** Stop the schedule and wait for a running backup to end. */
  async stop(): Promise<void> {
    const task = this.task;
    this.task = null;
    task?.stop();
    if (this.running !== null) await this.running;
  }

  /**
   * One backup + prune now (what the schedule runs). Resolves with the backup, or null when it
   * failed (the failure is logged and counted). A call while one runs joins it.
   */
  runOnce(): Promise<BackupResult | null> {
    this.running ??= this.backupAndPrune().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  status(): BackupStatus {
    const next = this.task?.nextRun() ?? null;
    return {
      schedule: this.o.settings.schedule ?? null,
      dir: this.dir,
      keep: this.o.settings.keep,
      ...this.state,
      nextRunAt: next === null ? null : Math.floor(next / 1000),
    };
  }

  private async backupAndPrune(): Promise<BackupResult | null> {
    const log = this.o.logger.child({ job: 'backup' });
    const s = this.state;
    s.runs += 1;
    s.lastRunAt = this.o.clock.now();
    let result: BackupResult;
    try {
      result = await runBackup({ dir: this.o.settingsDir, out: this.freshName(), clock: this.o.clock });
    } catch (err) {
      s.failures += 1;
      s.consecutiveFailures += 1;
      s.lastError = err instanceof Error ? err.message : String(err);
      log.error({ err, failures: s.failures, consecutive: s.consecutiveFailures }, 'scheduled backup failed');
      return null;
    }
    s.consecutiveFailures = 0;
    s.lastError = null;
    s.lastSuccessAt = this.o.clock.now();
    s.lastBackup = result;
    log.info(result, 'scheduled backup written and integrity-checked');
    try {
      const removed = this.prune();
      s.pruned += removed.length;
      if (removed.length > 0) log.info({ removed }, 'old backups pruned');
    } catch (err) {
      log.error({ err }, 'pruning old backups failed');
    }
    return result;
  }

  private freshName(): string {
    const base = `mostro-${stamp(this.o.clock.nowMs())}`;
    let name = join(this.dir, `${base}.db`);
    for (let i = 1; existsSync(name); i++) name = join(this.dir, `${base}-${i}.db`);
    return name;
  }

  /** Delete the oldest scheduled backups beyond `keep`; returns the deleted file names. */
  private prune(): string[] {
    const files = readdirSync(this.dir)
      .filter((f) => BACKUP_FILE.test(f))
      .sort(compareBackupNames);
    const excess = files.slice(0, Math.max(0, files.length - this.o.settings.keep));
    for (const f of excess) rmSync(join(this.dir, f), { force: true });
    return excess;
  }
}

/** Oldest first: by timestamp, then by the -N suffix. */
export function compareBackupNames(a: string, b: string): number {
  const key = (f: string): [string, number] => {
    const m = /^mostro-(\d{8}T\d{6}Z)(?:-(\d+))?\.db$/.exec(f);
    return [m?.[1] ?? '', Number(m?.[2] ?? 0)];
  };
  const [ta, na] = key(a);
  const [tb, nb] = key(b);
  return ta < tb ? -1 : ta > tb ? 1 : na - nb;
}
