/**
 * grpcurl-lite — a small stand-in for grpcurl (not installable here) that talks to the admin gRPC
 * through server reflection only, like `grpcurl -plaintext`:
 *
 *   node --import tsx scripts/grpcurl-lite.ts [-plaintext] HOST:PORT list [SERVICE]
 *   node --import tsx scripts/grpcurl-lite.ts [-plaintext] HOST:PORT describe SERVICE
 *   node --import tsx scripts/grpcurl-lite.ts [-plaintext] HOST:PORT call SERVICE/Method '{"json":"request"}'
 *   node --import tsx scripts/grpcurl-lite.ts [-plaintext] -d '{"json":"request"}' HOST:PORT SERVICE/Method
 *
 * SERVICE/Method may also be written SERVICE.Method (as grpcurl accepts). Output is JSON.
 * Exit status: 0 on success, 1 on an RPC error, 2 on a usage error.
 */
import * as grpc from '@grpc/grpc-js';
import { GrpcReflection } from 'grpc-js-reflection-client';

const USAGE = `usage: grpcurl-lite [-plaintext] HOST:PORT list [SERVICE]
       grpcurl-lite [-plaintext] HOST:PORT describe SERVICE
       grpcurl-lite [-plaintext] HOST:PORT call SERVICE/Method '{json}'
       grpcurl-lite [-plaintext] -d '{json}' HOST:PORT SERVICE/Method`;

interface Parsed {
  host: string;
  command: 'list' | 'describe' | 'call';
  target?: string;
  data: string;
}

function parseArgs(argv: string[]): Parsed | null {
  const rest: string[] = [];
  let data: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-plaintext' || a === '--plaintext') continue;
    if (a === '-d') {
      data = argv[++i] ?? null;
      if (data === null) return null;
      continue;
    }
    rest.push(a);
  }
  const [host, cmd, target, json] = rest;
  if (host === undefined || cmd === undefined) return null;
  if (cmd === 'list') return { host, command: 'list', target, data: '{}' };
  if (cmd === 'describe') return target === undefined ? null : { host, command: 'describe', target, data: '{}' };
  if (cmd === 'call') return target === undefined ? null : { host, command: 'call', target, data: json ?? data ?? '{}' };
  // grpcurl style: HOST:PORT SERVICE/Method with -d
  return { host, command: 'call', target: cmd, data: data ?? '{}' };
}

function splitMethod(target: string): { service: string; method: string } | null {
  const slash = target.lastIndexOf('/');
  const cut = slash >= 0 ? slash : target.lastIndexOf('.');
  if (cut <= 0 || cut === target.length - 1) return null;
  return { service: target.slice(0, cut), method: target.slice(cut + 1) };
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === null) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const creds = grpc.credentials.createInsecure();
  const reflection = new GrpcReflection(args.host, creds);

  if (args.command === 'list') {
    if (args.target === undefined) {
      for (const s of await reflection.listServices()) process.stdout.write(`${s}\n`);
    } else {
      for (const m of await reflection.listMethods(args.target)) process.stdout.write(`${args.target}.${m.name}\n`);
    }
    return 0;
  }

  if (args.command === 'describe') {
    process.stdout.write(`${args.target!} is a service:\nservice ${args.target!.split('.').pop()} {\n`);
    for (const m of await reflection.listMethods(args.target!)) {
      const d = m.definition as any;
      const req = d.requestType?.type?.name ?? '?';
      const res = d.responseType?.type?.name ?? '?';
      const rs = d.requestStream ? 'stream ' : '';
      const ss = d.responseStream ? 'stream ' : '';
      process.stdout.write(`  rpc ${m.name} ( ${rs}${req} ) returns ( ${ss}${res} );\n`);
    }
    process.stdout.write('}\n');
    return 0;
  }

  const parts = splitMethod(args.target!);
  if (parts === null) {
    process.stderr.write(`bad method name ${args.target}\n${USAGE}\n`);
    return 2;
  }
  let request: unknown;
  try {
    request = JSON.parse(args.data);
  } catch (err) {
    process.stderr.write(`request is not JSON: ${(err as Error).message}\n`);
    return 2;
  }
  const descriptor = await reflection.getDescriptorBySymbol(parts.service);
  const pkg: any = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String, defaults: true });
  const Ctor = parts.service.split('.').reduce((o: any, k) => o?.[k], pkg);
  if (typeof Ctor !== 'function' || Ctor.service?.[parts.method] === undefined) {
    process.stderr.write(`service ${parts.service} has no method ${parts.method}\n`);
    return 1;
  }
  const client = new Ctor(args.host, creds);
  try {
    const reply = await new Promise<unknown>((resolve, reject) => {
      client[parts.method](request, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
    });
    process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
    return 0;
  } catch (err) {
    const e = err as grpc.ServiceError;
    process.stderr.write(`ERROR:\n  Code: ${grpc.status[e.code] ?? e.code}\n  Message: ${e.details ?? e.message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`grpcurl-lite: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
