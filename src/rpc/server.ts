import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { AppContext } from '../context.js';
import { durabilityOf } from '../db/database.js';
import type { DurableFn } from '../db/durability.js';
import { createAdminService, daemonVersion } from './admin-service.js';
import { RpcGate, type AuthToken } from './auth.js';
import { createOperatorService, type OperatorDeps } from './operator-service.js';
import { RateLimiter } from './rate-limiter.js';
import { packageFile } from '../package-root.js';

/** proto/admin.proto at the package root. */
export const ADMIN_PROTO_PATH = fileURLToPath(packageFile('proto/admin.proto'));
export const ADMIN_SERVICE_NAME = 'mostro.admin.v1.AdminService';
/** proto/operator.proto (this port's operator service). */
export const OPERATOR_PROTO_PATH = fileURLToPath(packageFile('proto/operator.proto'));
export const OPERATOR_SERVICE_NAME = 'mostro.operator.v1.OperatorService';

/** proto-loader options shared by the server, the tests and scripts (snake_case fields kept). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export function loadAdminProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(ADMIN_PROTO_PATH, PROTO_LOADER_OPTIONS);
}

/** Both services' definitions (what the server serves and reflects). */
export function loadRpcProtos(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([ADMIN_PROTO_PATH, OPERATOR_PROTO_PATH], PROTO_LOADER_OPTIONS);
}

export interface RpcServerOptions {
  listenAddress: string;
  port: number;
  /** rpc.rate_limiter_stale_duration: seconds after which an idle limiter entry is forgotten. */
  staleSeconds: number;
  /**
   * Bearer tokens every call of both services must carry ([rpc] auth_token_file, parsed by
   * auth.ts loadTokenFile); null/absent = no authentication.
   */
  authTokens?: readonly AuthToken[] | null;
  /** Operator service dependencies; defaults: no relays known, no backup job, started now. */
  operator?: Partial<OperatorDeps>;
}

export interface RpcServerHandle {
  /** The bound port (the real one when 0 was asked). */
  port: number;
  close(): Promise<void>;
}

/** "127.0.0.1" + 50051 → "127.0.0.1:50051"; a bare IPv6 literal gets brackets. */
export function bindAddress(listenAddress: string, port: number): string {
  const host = listenAddress.includes(':') && !listenAddress.startsWith('[') ? `[${listenAddress}]` : listenAddress;
  return `${host}:${port}`;
}

/**
 * Start the gRPC server — mostro.admin.v1.AdminService and mostro.operator.v1.OperatorService,
 * plaintext HTTP/2 (keep it on loopback or behind a tunnel), bearer-token authentication when
 * tokens are given — with server reflection, so `grpcurl -plaintext HOST:PORT list` works without
 * the proto files (reflection itself needs no token: it only describes the API). Rejects when the
 * address cannot be bound.
 */
export async function startRpcServer(ctx: AppContext, opts: RpcServerOptions): Promise<RpcServerHandle> {
  const log = ctx.logger.child({ component: 'rpc' });
  const definition = loadRpcProtos();
  const serviceDef = definition[ADMIN_SERVICE_NAME];
  if (serviceDef === undefined || !isServiceDefinition(serviceDef)) {
    throw new Error(`${ADMIN_PROTO_PATH} does not define ${ADMIN_SERVICE_NAME}`);
  }
  const operatorDef = definition[OPERATOR_SERVICE_NAME];
  if (operatorDef === undefined || !isServiceDefinition(operatorDef)) {
    throw new Error(`${OPERATOR_PROTO_PATH} does not define ${OPERATOR_SERVICE_NAME}`);
  }
  const limiter = new RateLimiter(ctx.clock, opts.staleSeconds * 1000);
  const gate = new RpcGate(opts.authTokens ?? null, limiter, log);
  const deps: OperatorDeps = {
    connectedRelays: opts.operator?.connectedRelays ?? (() => []),
    backupStatus: opts.operator?.backupStatus ?? (() => null),
    startedAt: opts.operator?.startedAt ?? ctx.clock.now(),
    version: opts.operator?.version ?? daemonVersion(),
  };
  const server = new grpc.Server();
  const durable = durabilityOf(ctx.db).durable;
  server.addService(serviceDef, answerWhenDurable(createAdminService(ctx, gate), durable));
  server.addService(operatorDef, answerWhenDurable(createOperatorService(ctx, gate, deps, definition), durable));
  new ReflectionService(definition).addToServer(server);

  const address = bindAddress(opts.listenAddress, opts.port);
  log.info({ address }, `Starting RPC server on ${address}`);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err !== null) reject(new Error(`RPC server failed to bind ${address}: ${err.message}`, { cause: err }));
      else resolve(bound);
    });
  });
  log.info({ port, auth: gate.authRequired }, 'RPC server listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => server.forceShutdown(), 5_000);
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    return closing;
  };
  return { port, close };
}

/**
 * Each unary answer leaves only once the commits made before it are on disk (db/durability.ts): an
 * admin told "done" is never ahead of the database after a power loss.
 */
export function answerWhenDurable(impl: grpc.UntypedServiceImplementation, durable: DurableFn): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(impl)) {
    if (typeof handler !== 'function' || handler.length !== 2) {
      out[name] = handler;
      continue;
    }
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    out[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      unary(call, (err, value, trailer, flags) => {
        const wait = durable();
        if (wait === null) return callback(err, value, trailer, flags);
        wait.then(
          () => callback(err, value, trailer, flags),
          (e: unknown) => callback({ code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e) }),
        );
      });
    }) as grpc.UntypedHandleCall;
  }
  return out;
}

function isServiceDefinition(def: protoLoader.AnyDefinition): def is protoLoader.ServiceDefinition {
  return !('format' in def);
}
