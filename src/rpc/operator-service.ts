/**
 * mostro.operator.v1.OperatorService (proto/operator.proto): status, inspection and repair for the
 * operator. Reads answer from the database (and LND for escrow deadlines); the actions
 * (ReconcileNow, RetryPayout, RepublishOrder, BanUser, UnbanUser) run the same flows as the daemon,
 * under the order lock, are idempotent, and are written to the audit table (who, what, when,
 * outcome) — refused and failed ones included. Every call passes the gate (auth.ts) first.
 */
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { sql } from 'kysely';
import { nip19 } from '../crypto/nip19.js';
import type { AppContext } from '../context.js';
import { disputeFromDb, findDisputes, getDisputeByOrder } from '../db/disputes.js';
import { getOrder } from '../db/orders.js';
import type { DisputeRow } from '../db/types.js';
import { blobToUuid, uuidToBlob } from '../db/uuid-blob.js';
import { recordAudit, type AuditOutcome } from '../ops/audit.js';
import { banAuditDetail, banUser, listBanned, unbanUser } from '../ops/ban-user.js';
import type { BackupStatus } from '../ops/backup-job.js';
import { reconcileNow } from '../ops/reconcile.js';
import { retryPayout, republishOrder, type ActionResult } from '../ops/repair.js';
import { expectedPublicStatus, listStuck } from '../ops/stuck.js';
import { opsDb } from '../ops/tables.js';
import { parsePubkeyText } from '../protocol/pubkey.js';
import { DISPUTE_STATUSES } from '../protocol/types.js';
import type { Caller, RpcGate } from './auth.js';
import { parseUuidField, RpcInputError } from './input.js';

/** What the service needs beyond the AppContext (from the composition root). */
export interface OperatorDeps {
  /** Relay URLs with an open subscription now. */
  connectedRelays: () => string[];
  /** Scheduled-backup status, or null when the daemon has no backup job. */
  backupStatus: () => BackupStatus | null;
  /** Unix time the daemon started. */
  startedAt: number;
  version: string;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;
type Fields = Record<string, unknown>;

interface FieldDescriptor {
  name: string;
  type: string;
}

/** proto field name → descriptor type of mostro.operator.v1.Order (read from the loaded proto). */
export function orderFieldTypes(definition: protoLoader.PackageDefinition): Map<string, string> {
  const def = definition['mostro.operator.v1.Order'];
  const fields: FieldDescriptor[] =
    def !== undefined && 'type' in def && typeof def.type === 'object' && def.type !== null && 'field' in def.type
      ? (def.type as { field: FieldDescriptor[] }).field
      : [];
  return new Map(fields.map((f) => [f.name, f.type]));
}

/**
 * An orders row as stored (every column, including ones added later) → the Order message:
 * UUID blobs to text, 0/1 flags to bool, NULL left unset; columns the message does not name go to
 * `extra` as text.
 */
export function decodeOrderRow(raw: Record<string, unknown>, types: Map<string, string>): Fields {
  const out: Fields = {};
  const extra: Record<string, string> = {};
  for (const [column, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    const text = value instanceof Uint8Array ? (value.length === 16 ? blobToUuid(value) : Buffer.from(value).toString('hex')) : value;
    const type = types.get(column);
    if (type === undefined) {
      extra[column] = typeof text === 'string' ? text : String(text as number | bigint | boolean);
    } else if (type === 'TYPE_BOOL') {
      out[column] = text === 1 || text === true || text === '1';
    } else if (type === 'TYPE_STRING') {
      out[column] = typeof text === 'string' ? text : String(text as number | bigint | boolean);
    } else {
      out[column] = typeof text === 'bigint' ? Number(text) : text;
    }
  }
  out.extra = extra;
  return out;
}

function disputeMessage(d: DisputeRow, orderStatus?: string): Fields {
  return {
    id: d.id,
    order_id: d.order_id,
    status: d.status,
    order_previous_status: d.order_previous_status,
    solver_pubkey: d.solver_pubkey ?? '',
    created_at: d.created_at,
    taken_at: d.taken_at,
    order_status: orderStatus ?? '',
  };
}

function backupMessage(s: BackupStatus | null): Fields | null {
  if (s === null) return null;
  return {
    schedule: s.schedule ?? '',
    dir: s.dir,
    keep: s.keep,
    runs: s.runs,
    failures: s.failures,
    consecutive_failures: s.consecutiveFailures,
    last_run_at: s.lastRunAt ?? 0,
    last_success_at: s.lastSuccessAt ?? 0,
    last_error: s.lastError ?? '',
    last_backup: s.lastBackup?.out ?? '',
    last_backup_bytes: s.lastBackup?.bytes ?? 0,
    next_run_at: s.nextRunAt ?? 0,
  };
}

function actionMessage(r: ActionResult): Fields {
  return { outcome: r.outcome, detail: r.detail, order_status: r.orderStatus };
}

export function createOperatorService(
  ctx: AppContext,
  gate: RpcGate,
  deps: OperatorDeps,
  definition: protoLoader.PackageDefinition,
): grpc.UntypedServiceImplementation {
  const log = ctx.logger.child({ component: 'rpc', service: 'operator' });
  const orderTypes = orderFieldTypes(definition);

  /** Run `fn` for an admitted call; RpcInputError → INVALID_ARGUMENT, NotFound → NOT_FOUND. */
  const rpc = <Req, Res>(name: string, fn: (req: Req, caller: Caller) => Promise<Res>): Unary<Req, Res> => {
    return (call, callback) => {
      const caller = gate.admit(name, call, callback);
      if (caller === null) return;
      fn(call.request, caller).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof RpcInputError) callback({ code: grpc.status.INVALID_ARGUMENT, details: err.message });
          else if (err instanceof NotFound) callback({ code: grpc.status.NOT_FOUND, details: err.message });
          else {
            log.error({ err, rpc: name, who: caller.who }, 'operator rpc failed');
            callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
          }
        },
      );
    };
  };

  /** Run an action and audit it, whatever its outcome. */
  const audited = async <T>(
    caller: Caller,
    action: string,
    target: string | null,
    request: unknown,
    run: () => Promise<T>,
    judge: (r: T) => { outcome: AuditOutcome; detail: string },
  ): Promise<T> => {
    const at = ctx.clock.now();
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await recordAudit(ctx.db, { at, who: caller.who, action, target, request, outcome: 'error', detail: (err as Error).message });
      throw err;
    }
    const { outcome, detail } = judge(result);
    await recordAudit(ctx.db, { at, who: caller.who, action, target, request, outcome, detail });
    log.info({ action, target, who: caller.who, outcome, detail }, 'operator action');
    return result;
  };

  const nodeStatus = rpc<Fields, Fields>('NodeStatus', async () => {
    const byStatus = await ctx.db
      .selectFrom('orders')
      .select(['status', sql<number>`count(*)`.as('n')])
      .groupBy('status')
      .orderBy('status')
      .execute();
    const open = await ctx.db
      .selectFrom('disputes')
      .select(sql<number>`count(*)`.as('n'))
      .where('status', 'in', ['initiated', 'in-progress'])
      .executeTakeFirst();
    const info = ctx.lightning.info;
    return {
      version: deps.version,
      pubkey: ctx.keys.pubkey,
      npub: nip19.npubEncode(ctx.keys.pubkey),
      now: ctx.clock.now(),
      started_at: deps.startedAt,
      lightning: {
        state: ctx.lightning.state,
        alias: info?.alias ?? '',
        version: info?.version ?? '',
        block_height: info?.blockHeight ?? 0,
        networks: info?.networks ?? [],
      },
      relays_configured: ctx.settings.nostr.relays,
      relays_connected: deps.connectedRelays(),
      orders_by_status: byStatus.map((r) => ({ status: r.status, count: Number(r.n) })),
      open_disputes: Number(open?.n ?? 0),
      backup: backupMessage(deps.backupStatus()),
      auth_required: gate.authRequired,
    };
  });

  const getOrderRpc = rpc<{ order_id?: string }, Fields>('GetOrder', async (req) => {
    const id = parseUuidField('order_id', req.order_id);
    const raw = await ctx.db.selectFrom('orders').selectAll().where('id', '=', uuidToBlob(id)).executeTakeFirst();
    const row = await getOrder(ctx.db, id);
    if (raw === undefined || row === undefined) throw new NotFound(`order ${id} not found`);
    const order = decodeOrderRow(raw as unknown as Record<string, unknown>, orderTypes);
    order.buyer_payout_sats = Math.max(0, row.amount - row.fee);
    order.expected_public_status = expectedPublicStatus(row) ?? '';
    const dispute = await getDisputeByOrder(ctx.db, id);
    const published = await opsDb(ctx.db)
      .selectFrom('mostrod_ts_order_publications')
      .selectAll()
      .where('order_id', '=', id)
      .executeTakeFirst();
    return {
      order,
      dispute: dispute === undefined ? null : disputeMessage(dispute, row.status),
      published: published === undefined ? null : { status: published.status, event_id: published.event_id, created_at: published.created_at },
    };
  });

  const listStuckRpc = rpc<{ deadline_blocks?: string | number }, Fields>('ListStuck', async (req) => {
    const asked = Number(req.deadline_blocks ?? 0);
    if (!Number.isSafeInteger(asked) || asked < 0) throw new RpcInputError('deadline_blocks must be a non-negative integer');
    const report = await listStuck(ctx, { deadlineBlocks: asked > 0 ? asked : ctx.settings.alerts.escrow_deadline_blocks });
    return {
      items: report.items.map((i) => ({
        kind: i.kind,
        order_id: i.orderId,
        dispute_id: i.disputeId ?? '',
        order_status: i.orderStatus,
        detail: i.detail,
        since: i.since,
      })),
      errors: report.errors,
    };
  });

  const reconcileNowRpc = rpc<Fields, Fields>('ReconcileNow', async (_req, caller) => {
    const s = await audited(caller, 'ReconcileNow', null, {}, () => reconcileNow(ctx), (r) => ({
      outcome: r.errors.length === 0 ? 'ok' : 'error',
      detail: JSON.stringify({ escrowsChecked: r.escrowsChecked, payouts: r.payouts, escrowDeadlinesChecked: r.escrowDeadlinesChecked, errors: r.errors }),
    }));
    return {
      escrows_watched: s.escrowsChecked,
      payouts_succeeded: s.payouts?.succeeded ?? 0,
      payouts_failed: s.payouts?.failed ?? 0,
      payouts_in_flight: s.payouts?.inFlight ?? 0,
      payouts_retried: s.payouts?.retried ?? 0,
      settlements_finished: s.payouts?.settled ?? 0,
      escrow_deadlines_checked: s.escrowDeadlinesChecked,
      errors: s.errors,
    };
  });

  const orderAction = (name: string, act: (ctx: AppContext, id: string) => Promise<ActionResult>) =>
    rpc<{ order_id?: string }, Fields>(name, async (req, caller) => {
      let id: string;
      try {
        id = parseUuidField('order_id', req.order_id);
      } catch (err) {
        await recordAudit(ctx.db, {
          at: ctx.clock.now(),
          who: caller.who,
          action: name,
          target: null,
          request: req,
          outcome: 'refused',
          detail: (err as Error).message,
        });
        throw err;
      }
      const r = await audited(caller, name, id, { order_id: id }, () => act(ctx, id), (res) => ({
        outcome: res.outcome === 'refused' ? 'refused' : 'ok',
        detail: `${res.outcome}: ${res.detail}`,
      }));
      return actionMessage(r);
    });

  const listDisputesRpc = rpc<{ status?: string }, Fields>('ListDisputes', async (req) => {
    const status = (req.status ?? '').trim();
    if (status !== '' && !(DISPUTE_STATUSES as readonly string[]).includes(status)) {
      throw new RpcInputError(`unknown dispute status ${JSON.stringify(status)} (one of ${DISPUTE_STATUSES.join(', ')})`);
    }
    const rows =
      status === ''
        ? (await ctx.db.selectFrom('disputes').selectAll().orderBy('created_at', 'desc').execute()).map(disputeFromDb)
        : (await findDisputes(ctx.db, { status: status as DisputeRow['status'] })).sort((a, b) => b.created_at - a.created_at);
    const disputes: Fields[] = [];
    for (const d of rows) disputes.push(disputeMessage(d, (await getOrder(ctx.db, d.order_id))?.status));
    return { disputes };
  });

  /** The `pubkey` of a ban request (hex or npub), or RpcInputError — refused calls are audited. */
  const pubkeyOf = async (name: string, req: { pubkey?: string }, caller: Caller): Promise<string> => {
    const text = typeof req.pubkey === 'string' ? req.pubkey.trim() : '';
    const pubkey = parsePubkeyText(text);
    if (pubkey !== null) return pubkey;
    const err = new RpcInputError(`invalid pubkey ${JSON.stringify(req.pubkey ?? '')}: expected 64 hex characters or an npub`);
    await recordAudit(ctx.db, { at: ctx.clock.now(), who: caller.who, action: name, target: null, request: req, outcome: 'refused', detail: err.message });
    throw err;
  };

  const banUserRpc = rpc<{ pubkey?: string; reason?: string }, Fields>('BanUser', async (req, caller) => {
    const pubkey = await pubkeyOf('BanUser', req, caller);
    if (pubkey === ctx.keys.pubkey) {
      const detail = "the node's own key cannot be banned";
      await recordAudit(ctx.db, { at: ctx.clock.now(), who: caller.who, action: 'BanUser', target: pubkey, request: req, outcome: 'refused', detail });
      throw new RpcInputError(detail);
    }
    const reason = (req.reason ?? '').trim();
    const r = await audited(caller, 'BanUser', pubkey, { pubkey, reason }, () => banUser(ctx, pubkey), (res) => ({
      outcome: 'ok',
      detail: banAuditDetail(res),
    }));
    return { outcome: r.outcome, pubkey, canceled_orders: r.canceled, kept_orders: r.kept, failed_orders: r.failed };
  });

  const unbanUserRpc = rpc<{ pubkey?: string }, Fields>('UnbanUser', async (req, caller) => {
    const pubkey = await pubkeyOf('UnbanUser', req, caller);
    const lifted = await audited(caller, 'UnbanUser', pubkey, { pubkey }, () => unbanUser(ctx, pubkey), (res) => ({
      outcome: 'ok',
      detail: res ? 'unbanned' : 'not-banned',
    }));
    return { outcome: lifted ? 'unbanned' : 'not-banned', pubkey, canceled_orders: [], kept_orders: [], failed_orders: [] };
  });

  const listBannedRpc = rpc<Fields, Fields>('ListBanned', async () => ({
    users: (await listBanned(ctx)).map((u) => ({
      pubkey: u.pubkey,
      npub: nip19.npubEncode(u.pubkey),
      banned_at: u.bannedAt,
      banned_by: u.bannedBy,
      reason: u.reason,
      open_orders: u.openOrders,
    })),
  }));

  return {
    NodeStatus: nodeStatus,
    GetOrder: getOrderRpc,
    ListStuck: listStuckRpc,
    ReconcileNow: reconcileNowRpc,
    RetryPayout: orderAction('RetryPayout', retryPayout),
    RepublishOrder: orderAction('RepublishOrder', republishOrder),
    ListDisputes: listDisputesRpc,
    BanUser: banUserRpc,
    UnbanUser: unbanUserRpc,
    ListBanned: listBannedRpc,
  };
}

class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}
