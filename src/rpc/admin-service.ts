import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { AppContext } from '../context.js';
import type { Inbound } from '../app/inbound.js';
import type { Handler } from '../app/handler.js';
import { adminAddSolver } from '../app/handlers/admin-add-solver.js';
import { adminCancel } from '../app/handlers/admin-cancel.js';
import { adminSettle } from '../app/handlers/admin-settle.js';
import { adminTakeDispute } from '../app/handlers/admin-take-dispute.js';
import { recordAudit } from '../ops/audit.js';
import { buildMessage } from '../protocol/build.js';
import type { Message } from '../protocol/types.js';
import { describeFailure, parseRequestId, parseUuidField } from './input.js';
import type { Caller, RpcGate } from './auth.js';
import { packageFile } from '../package-root.js';

/** Wire shapes of mostro.admin.v1 (proto-loader with keepCase). */
interface AdminRequest {
  order_id?: string;
  dispute_id?: string;
  solver_pubkey?: string;
  request_id?: string;
}
interface AdminResponse {
  success: boolean;
  error_message?: string;
}
interface VersionResponse {
  version: string;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/** The daemon version reported by GetVersion (package.json's, i.e. the mostrod version ported). */
export function daemonVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(packageFile('package.json'), 'utf8'));
  if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
    return pkg.version;
  }
  throw new Error('package.json has no version');
}

/** A request "from the node key": the admin gRPC acts as the admin (DAEMON.md §7.3). */
function adminInbound(ctx: AppContext): Inbound {
  return {
    identity: ctx.keys.pubkey,
    tradeKey: ctx.keys.pubkey,
    createdAt: ctx.clock.now(),
    eventId: '',
    fullPrivacy: true,
  };
}

interface AdminCall {
  /** "Admin cancel" → error_message "Admin cancel failed: …" */
  prefix: string;
  handler: Handler;
  /** Lock key the Nostr router would take for the same request. */
  lockKey: (msg: Message) => string | null;
  /** Builds the synthetic protocol message; throws RpcInputError on bad input. */
  message: (req: AdminRequest) => Message;
}

const ORDER_LOCK = (msg: Message): string | null => (msg.kind.id === undefined ? null : `order:${msg.kind.id}`);
const DISPUTE_LOCK = (msg: Message): string | null => (msg.kind.id === undefined ? null : `dispute:${msg.kind.id}`);

const CALLS = {
  CancelOrder: {
    prefix: 'Admin cancel',
    handler: adminCancel,
    lockKey: ORDER_LOCK,
    message: (req) =>
      buildMessage({
        action: 'admin-cancel',
        id: parseUuidField('order_id', req.order_id),
        requestId: parseRequestId(req.request_id),
      }),
  },
  SettleOrder: {
    prefix: 'Admin settle',
    handler: adminSettle,
    lockKey: ORDER_LOCK,
    message: (req) =>
      buildMessage({
        action: 'admin-settle',
        id: parseUuidField('order_id', req.order_id),
        requestId: parseRequestId(req.request_id),
      }),
  },
  AddSolver: {
    prefix: 'Admin add solver',
    handler: adminAddSolver,
    lockKey: () => null,
    message: (req) =>
      buildMessage({
        wrapper: 'dispute',
        action: 'admin-add-solver',
        requestId: parseRequestId(req.request_id),
        payload: { text_message: req.solver_pubkey ?? '' },
      }),
  },
  TakeDispute: {
    prefix: 'Admin take dispute',
    handler: adminTakeDispute,
    lockKey: DISPUTE_LOCK,
    message: (req) =>
      buildMessage({
        wrapper: 'dispute',
        action: 'admin-take-dispute',
        id: parseUuidField('dispute_id', req.dispute_id),
        requestId: parseRequestId(req.request_id),
      }),
  },
} satisfies Record<string, AdminCall>;

/**
 * The AdminService implementation: each admin RPC runs the SAME handler as the Nostr admin action,
 * as the node key, under the same per-order (per-dispute) lock, and maps the outcome to
 * success / error_message like mostrod. Every RPC passes the gate first (bearer token when
 * configured; only failed authentications are rate-limited — a refused admin action is an answer,
 * not a failed login, see auth.ts). Each of the four admin actions is recorded in the operator
 * audit table (who, what, which order/dispute, when, outcome).
 */
export function createAdminService(ctx: AppContext, gate: RpcGate): grpc.UntypedServiceImplementation {
  const log = ctx.logger.child({ component: 'rpc' });
  const version = daemonVersion();

  const admit = <Req, Res>(rpc: string, call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>): Caller | null =>
    gate.admit(rpc, call, cb);

  const adminRpc = (name: keyof typeof CALLS): Unary<AdminRequest, AdminResponse> => {
    const spec: AdminCall = CALLS[name];
    return (call, callback) => {
      const caller = admit(name, call, callback);
      if (caller === null) return;
      const client = caller.who;
      const at = ctx.clock.now();
      let target: string | null = null;
      const run = async (): Promise<AdminResponse> => {
        try {
          const msg = spec.message(call.request);
          target = msg.kind.id ?? null;
          const key = spec.lockKey(msg);
          const inbound = adminInbound(ctx);
          log.info({ rpc: name, client, id: msg.kind.id }, 'admin rpc');
          if (key === null) await spec.handler(ctx, msg, inbound);
          else await ctx.locks.run(key, () => spec.handler(ctx, msg, inbound));
          return { success: true };
        } catch (err) {
          const error_message = `${spec.prefix} failed: ${describeFailure(err)}`;
          log.warn({ rpc: name, client, err }, error_message);
          return { success: false, error_message };
        }
      };
      // Every admin decision is audited like the operator's repairs (mostrod_ts_operator_audit).
      const audited = async (): Promise<AdminResponse> => {
        const res = await run();
        await recordAudit(ctx.db, {
          at,
          who: caller.who,
          action: name,
          target: target ?? (name === 'AddSolver' ? (call.request.solver_pubkey ?? null) : null),
          request: call.request,
          outcome: res.success ? 'ok' : 'refused',
          detail: res.error_message ?? 'success',
        });
        return res;
      };
      audited().then(
        (res) => callback(null, res),
        (err: unknown) => callback({ code: grpc.status.INTERNAL, details: String(err) }),
      );
    };
  };

  const validateDbPassword: Unary<{ password?: string }, AdminResponse> = (call, callback) => {
    const caller = admit('ValidateDbPassword', call, callback);
    if (caller === null) return;
    log.info({ client: caller.who }, 'ValidateDbPassword (compatibility stub, password ignored)');
    callback(null, { success: true });
  };

  const getVersion: Unary<Record<string, never>, VersionResponse> = (call, callback) => {
    if (admit('GetVersion', call, callback) === null) return;
    callback(null, { version });
  };

  return {
    CancelOrder: adminRpc('CancelOrder'),
    SettleOrder: adminRpc('SettleOrder'),
    AddSolver: adminRpc('AddSolver'),
    TakeDispute: adminRpc('TakeDispute'),
    ValidateDbPassword: validateDbPassword,
    GetVersion: getVersion,
  };
}
