/**
 * Composition root: settings → db → lightning → prices → relays/outbox → ctx → boot reconciliation
 * → rpc, scheduler, intake. Nothing else constructs long-lived objects.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { KeyedLock } from './app/locks.js';
import { dispatch } from './app/router.js';
import { systemClock, type Clock } from './clock.js';
import { databasePath, parseNodeSecretKey } from './config/settings.js';
import type { Settings } from './config/types.js';
import { TaskTracker, type AppContext } from './context.js';
import { isNostrEventShape } from './crypto/event.js';
import { cryptoBackend, getPublicKey } from './crypto/secp.js';
import { attachWalCheckpointer, checkpointerOf, closeDatabase, durabilityOf, openDatabase } from './db/database.js';
import { walCheckpointFromEnv } from './db/wal-checkpointer.js';
import { durabilityFromEnv } from './db/durability.js';
import { dbTradeIndexStore } from './db/trade-index-store.js';
import { OrderChangeAcks } from './db/order-changes.js';
import { DurableLightning } from './lightning/durable.js';
import { createLndBackend } from './lightning/lnd/index.js';
import { HttpLnurlResolver } from './lightning/lnurl.js';
import { IDLE_INTAKE, Intake, type CryptoLane, type IntakeLoad } from './nostr/intake.js';
import { createCryptoExecutor, cryptoThreadsFor, inlineFromEnv } from './nostr/crypto-pool.js';
import type { MessageQueue } from './nostr/outbox.js';
import { RelayOutbox } from './nostr/relay-outbox.js';
import { RelayPool } from './nostr/relay-pool.js';
import { ActiveKeys } from './nostr/active-keys.js';
import { TransportRegistry } from './nostr/transport-registry.js';
import { directMessageLifetime, servesNip44, subscriptionKinds } from './nostr/transport.js';
import { buildPriceService } from './price/build-price-service.js';
import { effectivePriceConfig } from './price/price-config.js';
import { RelayRatesReader } from './nostr/rates-query.js';
import { startRpcServer } from './rpc/server.js';
import { loadTokenFile, type AuthToken } from './rpc/auth.js';
import { BackupJob } from './ops/backup-job.js';
import { BanList } from './app/bans.js';
import { UnratedBudgets } from './app/unrated-budget.js';
import { PublicationLedgerOutbox, restoreOrderEventTimes } from './ops/publication-ledger.js';
import { Observability } from './observability/observability.js';
import { priceCurrencySources, priceSourceAges } from './observability/price-ages.js';
import { Scheduler } from './scheduler/scheduler.js';
import { newDevFeeState } from './scheduler/jobs/dev-fee.js';
import { bootReconcile, publishMetadata, registerJobs } from './scheduler/register.js';
import { MOSTRO_VERSION } from './version.js';

export interface DaemonOptions {
  dir: string;
  settings: Settings;
  logger: Logger;
  clock?: Clock;
  /**
   * Called once when the daemon can no longer run safely (an fdatasync of the database failed:
   * nothing more may leave the process). main.ts shuts down and exits 1. Default: log only.
   */
  onFatal?: (err: Error) => void;
}

export interface Daemon {
  ctx: AppContext;
  stop(): Promise<void>;
}

/** Bound on how long shutdown waits for in-flight work (payouts are reconciled at next boot anyway). */
const SHUTDOWN_GRACE_MS = 20_000;
/** How long startup waits for a first relay connection before saying ready anyway. */
const READY_WAIT_MS = 10_000;

/** Resolves true when `p` settled within `ms`, false on timeout (p keeps running); rejects with p's error. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { settings, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const secretKey = parseNodeSecretKey(settings.nostr.nsec_privkey);
  const keys = { secretKey, pubkey: getPublicKey(secretKey) };
  logger.info({ version: MOSTRO_VERSION, pubkey: keys.pubkey, dir: opts.dir, crypto: cryptoBackend() }, 'starting mostrod');

  // Commits are written without an fsync each; every effect that depends on them (relay hand-off,
  // LND call, admin answer) waits for one shared fdatasync of the WAL (db/durability.ts).
  // MOSTROD_DB_SYNC=commit: SQLite fsyncs every commit instead, as mostrod does.
  const durabilityMode = durabilityFromEnv();
  // WAL checkpoints off the event loop (db/wal-checkpointer.ts): MOSTROD_DB_CHECKPOINT=auto (default)
  // on a crypto thread once the pool exists (below), =background on a thread of their own,
  // =inline SQLite's own on the event loop.
  const walCheckpoint = walCheckpointFromEnv();
  const db = await openDatabase(databasePath(opts.dir), {
    logger: logger.child({ module: 'db' }),
    durability: durabilityMode,
    walCheckpoint: walCheckpoint === 'background' ? 'background' : 'inline',
    checkpointLogger: logger.child({ module: 'db-checkpoint' }),
    onDurabilityLost: (err) => {
      logger.fatal({ err }, 'database sync failed: nothing more leaves the node; stopping');
      opts.onFatal?.(err);
    },
  });
  const durable = durabilityOf(db).durable;
  logger.info({ sync: durabilityMode }, 'database open');

  const lightning = new DurableLightning(
    createLndBackend({
      host: settings.lightning.lnd_grpc_host,
      certPath: settings.lightning.lnd_cert_file,
      macaroonPath: settings.lightning.lnd_macaroon_file,
      logger: logger.child({ module: 'lnd' }),
      clock,
    }),
    durable,
  );
  const lnurl = new HttpLnurlResolver({
    timeoutMs: 10_000,
    allowPrivateHosts: settings.mostro.lnurl_allow_private_hosts,
    logger: logger.child({ module: 'lnurl' }),
    // A service's invoice issued before this process started is refused (simulation finding F10s).
    issuedNotBefore: clock.now(),
  });
  const priceConfig = effectivePriceConfig(settings);
  const priceLogger = logger.child({ module: 'price' });
  const prices = buildPriceService(priceConfig, {
    clock,
    logger: priceLogger,
    userAgent: `mostro/${MOSTRO_VERSION}`,
    nostrReader: priceConfig.providers.some((p) => p.id === 'nostr')
      ? new RelayRatesReader({ urls: settings.nostr.relays, logger: priceLogger })
      : null,
  });

  const pool = new RelayPool({
    urls: settings.nostr.relays,
    pubkey: keys.pubkey,
    // Gift wraps and/or protocol-v2 kind 14 addressed to the node, as `[mostro] transport` says.
    filter: { kinds: subscriptionKinds(settings), '#p': [keys.pubkey], limit: 0 },
    clock,
    logger: logger.child({ module: 'relays' }),
    // Intake checks kind, size and PoW before the signature and de-duplicates verified ids only,
    // so the pool does no crypto of its own (junk without PoW costs no signature check).
    verify: isNostrEventShape,
    dedupe: false,
    // Events without the configured PoW are dropped from the raw frame, before JSON parsing.
    minPowBits: settings.mostro.pow,
  });
  // The transport each trade key speaks (persisted) and, for protocol v2, the known-sender set of
  // the first-contact lane; both loaded before the first event is read.
  const transports = new TransportRegistry(db, settings, logger.child({ module: 'transport' }));
  const activeKeys = servesNip44(settings) ? new ActiveKeys(db, [keys.pubkey]) : undefined;
  {
    const remembered = await transports.load();
    const active = activeKeys === undefined ? 0 : await activeKeys.reload();
    logger.info({ transport: settings.mostro.transport, remembered, active }, 'transports loaded');
  }
  // Nostr crypto (unwrap, wrap, signatures) on worker threads sized to the cores when the event
  // loop is busy; while it is idle enough, on this thread (no hand-off; crypto-pool.ts
  // InlinePolicy). `[nostr] crypto_threads = 0` keeps it all on this thread.
  const inline = inlineFromEnv();
  const crypto = createCryptoExecutor({
    threads: cryptoThreadsFor(settings.nostr.crypto_threads),
    keys,
    logger: logger.child({ module: 'crypto' }),
    inline,
  });
  logger.info({ threads: crypto.threads, inline: crypto.threads > 0 ? inline : 'off' }, 'crypto threads started');
  if (walCheckpoint === 'auto') {
    const runner = crypto.checkpointRunner?.() ?? null;
    if (runner !== null) attachWalCheckpointer(db, runner, logger.child({ module: 'db-checkpoint' }));
  }
  const checkpointer = checkpointerOf(db);
  logger.info({ mode: walCheckpoint, where: checkpointer?.stats().where ?? 'event-loop' }, 'WAL checkpoints');
  // Set once the metrics exist (below), only with [http] enabled.
  const handOffs: { observe: ((queue: MessageQueue, seconds: number) => void) | null } = { observe: null };
  const outbox = new RelayOutbox({
    crypto,
    pool,
    keys,
    clock,
    logger: logger.child({ module: 'outbox' }),
    transports,
    dmLifetimeSeconds: directMessageLifetime(settings),
    durable,
    onHandOff: (queue, seconds) => handOffs.observe?.(queue, seconds),
  });

  // Scheduled online backups ([backup] schedule; off without one). Started with the scheduler.
  const backups = new BackupJob({ settingsDir: opts.dir, settings: settings.backup, clock, logger: logger.child({ module: 'backup' }) });
  const startedAt = clock.now();

  const ctx: AppContext = {
    settings,
    db,
    lightning,
    lnurl,
    // Records the last 38383 queued per order (the operator's "public event lags the DB" check).
    outbox: new PublicationLedgerOutbox(outbox, db, clock, logger.child({ module: 'publication-ledger' })),
    backups,
    prices,
    keys,
    clock,
    logger,
    locks: new KeyedLock(),
    tasks: new TaskTracker(),
    orderChangeAcks: new OrderChangeAcks(db, logger.child({ module: 'order-changes' })),
    transports,
    bans: new BanList(),
    unrated: new UnratedBudgets(),
  };
  // Before the first request is read: the identities the operator banned (app/bans.ts).
  {
    const banned = await ctx.bans.load(db);
    if (banned > 0) logger.info({ banned }, 'banned identities loaded');
  }

  // Before anything is published: this process's next event of an order changed in the last minute
  // must come after the one the previous process published (nostr/created-at.ts).
  {
    const restored = await restoreOrderEventTimes(db, ctx.outbox, clock.now());
    if (restored > 0) logger.info({ events: restored }, 'event times restored from the publication ledger');
  }

  // Before anything may pay or settle: re-watch every live escrow and resolve every payout claim
  // against LND — at boot once LND is reachable, and again after every reconnect.
  const devFeeState = newDevFeeState();
  let reconciling: Promise<void> | null = null;
  let firstReconcile = true;
  const reconcile = (): void => {
    if (reconciling !== null) return;
    // The backend re-subscribes its own watches after a reconnect; escrows are re-watched once.
    const rewatchEscrows = firstReconcile;
    firstReconcile = false;
    reconciling = ctx.tasks
      .track(bootReconcile(ctx, { rewatchEscrows, devFeeState }))
      .then((summary) => logger.info({ summary }, 'reconciliation with the lightning node done'))
      .catch((err: unknown) => logger.error({ err }, 'boot reconciliation failed'))
      .finally(() => {
        reconciling = null;
      });
  };
  // Operator cockpit ([http], [alerts]): metrics, monitor job, alert DMs, HTTP listener.
  const intakeCounters: { read: () => Record<string, number> } = { read: () => ({}) };
  const intakeLoad: { read: (() => IntakeLoad) | null } = { read: null };
  const observability = new Observability({
    ctx,
    dbFile: databasePath(opts.dir),
    relays: pool,
    intakeCounters: () => intakeCounters.read(),
    intakeLoad: () => intakeLoad.read?.() ?? IDLE_INTAKE,
    outboxStats: () => outbox.stats(),
    cryptoStats: () => crypto.stats(),
    prices: () => priceSourceAges(ctx.prices),
    priceCurrencies: () => priceCurrencySources(ctx.prices),
    version: MOSTRO_VERSION,
    logger: logger.child({ module: 'observability' }),
  });
  if (settings.http.enabled) handOffs.observe = (queue, seconds) => observability.observeHandOff(queue, seconds);
  const scheduler = new Scheduler({
    clock,
    logger: logger.child({ module: 'scheduler' }),
    onRun: (run) => observability.observeJob(run),
  });
  registerJobs(scheduler, ctx, { connectedRelays: () => pool.connectedRelays(), devFeeState });
  if (activeKeys !== undefined) {
    scheduler.every(
      'active-keys',
      settings.mostro.active_pubkeys_refresh_interval,
      async () => {
        await activeKeys.reload();
      },
      { runAtStart: false },
    );
  }
  observability.registerJobs(scheduler);
  const offLink = lightning.onStateChange((state) => {
    if (state === 'up') {
      logger.info('lightning node up: reconciling escrows and payouts');
      reconcile();
      // The info event carries the node's data: publish it as soon as the node is known.
      scheduler.runNow('info-event').catch((err: unknown) => logger.warn({ err }, 'info event not published'));
    } else if (state === 'down') {
      logger.warn('lightning node unreachable: trades that need Lightning are refused until it is back');
    }
  });
  if (lightning.state === 'up') reconcile();

  let rpc: { close(): Promise<void> } | null = null;
  if (settings.rpc.enabled) {
    try {
      // With [rpc] auth_token_file every call needs its bearer token; an unreadable or invalid
      // file keeps the RPC server off (never open without the authentication asked for).
      const tokenFile = settings.rpc.auth_token_file;
      const authTokens: AuthToken[] | null =
        tokenFile === undefined ? null : loadTokenFile(isAbsolute(tokenFile) ? tokenFile : resolvePath(opts.dir, tokenFile), logger);
      const handle = await startRpcServer(ctx, {
        listenAddress: settings.rpc.listen_address,
        port: settings.rpc.port,
        staleSeconds: settings.rpc.rate_limiter_stale_duration,
        authTokens,
        operator: { connectedRelays: () => pool.connectedRelays(), backupStatus: () => backups.status(), startedAt },
      });
      rpc = handle;
    } catch (err) {
      logger.error({ err }, 'RPC server failed to start; continuing without it');
    }
  }


  const intake = new Intake({
    crypto,
    keys,
    settings,
    clock,
    logger: logger.child({ module: 'intake' }),
    tradeIndexStore: dbTradeIndexStore(db),
    ...(activeKeys !== undefined ? { knownSenders: activeKeys } : {}),
    transports,
    outbox,
    authorLimits: {
      ...(settings.nostr.author_rate !== undefined ? { rate: settings.nostr.author_rate } : {}),
      ...(settings.nostr.author_burst !== undefined ? { burst: settings.nostr.author_burst } : {}),
    },
    dispatch: (msg, inbound) => observability.timeHandler(msg.kind.action, () => dispatch(ctx, msg, inbound)),
    ...(settings.http.enabled ? { onLaneWait: (lane: CryptoLane, seconds: number) => observability.observeLaneWait(lane, seconds) } : {}),
  });
  intakeCounters.read = () => intake.counters();
  intakeLoad.read = () => intake.stats();
  // A listener that was asked for but cannot bind stops the start (a HEALTHCHECK would fail anyway).
  await observability.startHttp();
  pool.onEvent((event) => {
    void intake.handle(event);
  });
  // A kind-14 author over its allowance is refused from the raw frame, before decoding.
  pool.setFrameGate((frame) => intake.refusesFrame(frame));

  pool.start();
  // Ready = subscribed on at least one relay (requests published before that are never replayed).
  // Lightning is not waited for: the daemon serves what it can and refuses escrow work until it is up.
  await pool.waitForConnection(READY_WAIT_MS, 1).catch(() =>
    logger.warn({ relays: settings.nostr.relays }, 'no relay connected yet; continuing, the pool keeps retrying'),
  );
  scheduler.start();
  backups.start();
  void publishMetadata(ctx).catch((err: unknown) => logger.warn({ err }, 'kind 0 metadata not published'));
  logger.info({ relays: pool.connectedRelays(), lightning: lightning.state }, 'mostrod ready');

  let stopped = false;
  return {
    ctx,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Every step is bounded: a dead relay, LND or a stuck job must not keep the process alive
      // (anything unfinished is reconciled at the next start).
      const step = async (name: string, p: () => Promise<unknown>, ms: number): Promise<void> => {
        try {
          const done = await withTimeout(p(), ms);
          if (!done) logger.warn({ step: name, ms }, 'shutdown step timed out; continuing');
        } catch (err) {
          logger.error({ err, step: name }, 'shutdown step failed; continuing');
        }
      };
      logger.info('stopping intake');
      pool.stopIntake();
      await step('intake', () => intake.idle(), 10_000);
      await step('scheduler', () => scheduler.stop(), 10_000);
      await step('backups', () => backups.stop(), 30_000);
      await step('http', () => observability.close(), 5_000);
      if (rpc !== null) {
        const r = rpc;
        await step('rpc', () => r.close(), 5_000);
      }
      logger.info({ tasks: ctx.tasks.size }, 'waiting for in-flight work');
      await step('in-flight work', () => ctx.tasks.idle(), SHUTDOWN_GRACE_MS);
      await step('outbox', () => outbox.flush(), 5_000);
      offLink();
      await step('relays', () => pool.close(), 5_000);
      // the change-log rows of the order events relays accepted (the rest stay for the republish job)
      await step('order change log', () => ctx.orderChangeAcks.flush(), 5_000);
      // before the crypto pool: the passes may run on its threads
      await step('checkpoints', async () => checkpointerOf(db)?.close(), 5_000);
      await step('crypto', () => crypto.close(), 5_000);
      await step('lightning', () => lightning.close(), 5_000);
      await step('transport writes', () => transports.idle(), 2_000);
      await step('database', () => closeDatabase(db), 5_000);
      logger.info('mostrod stopped');
    },
  };
}
