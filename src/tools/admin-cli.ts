#!/usr/bin/env node
/**
 * mostrod-admin: the operator's command line for a running mostrod, over its gRPC services
 * (mostro.admin.v1.AdminService and mostro.operator.v1.OperatorService) — no grpcurl needed.
 *
 *   mostrod-admin [-d DIR] [--address HOST:PORT] [--token-file FILE] [--token-name NAME] [--json] COMMAND …
 *
 * The address and the token file come from DIR/settings.toml (`[rpc] listen_address`, `port`,
 * `auth_token_file`) unless given. Output is for humans, or the RPC's response as JSON with --json.
 * Exit status: 0 done; 1 the call failed or the action was refused; 2 usage error.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { parse as parseToml } from 'smol-toml';
import { clientTokenFromFile } from '../rpc/auth.js';
import { packageRoot } from '../package-root.js';

const ROOT = packageRoot();
const ADMIN_PROTO = fileURLToPath(new URL('proto/admin.proto', ROOT));
const OPERATOR_PROTO = fileURLToPath(new URL('proto/operator.proto', ROOT));
const LOADER: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

type Json = Record<string, unknown>;
type Service = 'admin' | 'operator';

interface Command {
  usage: string;
  help: string;
  service: Service;
  method: string;
  /** Request from the positional arguments and options; throws UsageError. */
  request: (args: string[], opts: Map<string, string>) => Json;
  /** Human output; returns the exit status. */
  print: (res: Json, out: (line: string) => void) => number;
}

class UsageError extends Error {}

const need = (args: string[], what: string): string => {
  const v = args[0];
  if (v === undefined || args.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return v;
};
const none = (args: string[]): Json => {
  if (args.length > 0) throw new UsageError(`unexpected argument '${args[0] ?? ''}'`);
  return {};
};
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
const num = (v: unknown): number => Number(str(v) || 0);
const when = (v: unknown): string => (num(v) > 0 ? new Date(num(v) * 1000).toISOString() : '—');
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const obj = (v: unknown): Json | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null);

function adminResult(res: Json, out: (l: string) => void): number {
  if (res.success === true) {
    out('ok');
    return 0;
  }
  out(`refused: ${str(res.error_message)}`);
  return 1;
}

function actionResult(res: Json, out: (l: string) => void): number {
  out(`${str(res.outcome)}: ${str(res.detail)}${str(res.order_status) ? ` (order now ${str(res.order_status)})` : ''}`);
  return res.outcome === 'refused' ? 1 : 0;
}

const COMMANDS: Record<string, Command> = {
  status: {
    usage: 'status',
    help: 'node, Lightning, relays, orders by status, disputes, backups',
    service: 'operator',
    method: 'NodeStatus',
    request: none,
    print: (r, out) => {
      const ln = obj(r.lightning) ?? {};
      const b = obj(r.backup);
      out(`mostrod ${str(r.version)}  ${str(r.npub)}`);
      out(`  started     ${when(r.started_at)}`);
      out(`  lightning   ${str(ln.state)}  ${str(ln.alias)}  height ${str(ln.block_height)}  ${list(ln.networks).join(',')}`);
      out(`  relays      ${list(r.relays_connected).length}/${list(r.relays_configured).length} connected  ${list(r.relays_connected).join(' ')}`);
      out(`  orders      ${list(r.orders_by_status).map((c) => `${str(c.status)}=${str(c.count)}`).join('  ') || 'none'}`);
      out(`  disputes    ${str(r.open_disputes)} open`);
      if (b === null || str(b.schedule) === '') out('  backups     not scheduled');
      else {
        out(`  backups     "${str(b.schedule)}" → ${str(b.dir)} (keep ${str(b.keep)}); next ${when(b.next_run_at)}`);
        out(`              last ok ${when(b.last_success_at)}; ${str(b.failures)} failed of ${str(b.runs)}${str(b.last_error) ? `; last error: ${str(b.last_error)}` : ''}`);
      }
      out(`  auth        ${r.auth_required === true ? 'bearer token required' : 'none'}`);
      return 0;
    },
  },
  order: {
    usage: 'order ORDER_ID',
    help: 'the whole order row, its dispute and its last public event',
    service: 'operator',
    method: 'GetOrder',
    request: (a) => ({ order_id: need(a, 'ORDER_ID') }),
    print: (r, out) => {
      const o = obj(r.order) ?? {};
      const extra = obj(o.extra) ?? {};
      for (const [k, v] of Object.entries(o)) {
        if (k === 'extra' || str(v) === '') continue;
        out(`${k.padEnd(26)} ${str(v)}`);
      }
      for (const [k, v] of Object.entries(extra)) out(`${k.padEnd(26)} ${str(v)}`);
      const d = obj(r.dispute);
      if (d !== null) out(`dispute                    ${str(d.id)} ${str(d.status)} solver ${str(d.solver_pubkey) || '—'}`);
      const p = obj(r.published);
      if (p !== null) out(`public 38383               s=${str(p.status)} ${str(p.event_id)} at ${when(p.created_at)}`);
      return 0;
    },
  },
  stuck: {
    usage: 'stuck [--blocks N]',
    help: 'unpaid settled orders, stranded payouts, escrows near deadline, lagging public events, orphaned disputes',
    service: 'operator',
    method: 'ListStuck',
    request: (a, o) => {
      none(a);
      const blocks = o.get('blocks');
      if (blocks !== undefined && !/^\d+$/.test(blocks)) throw new UsageError('--blocks must be a number');
      return blocks === undefined ? {} : { deadline_blocks: blocks };
    },
    print: (r, out) => {
      const items = list(r.items);
      if (items.length === 0) out('nothing stuck');
      for (const i of items) out(`${str(i.kind).padEnd(21)} ${str(i.order_id)}  [${str(i.order_status)}]  ${str(i.detail)}`);
      for (const e of list(r.errors)) out(`warning: ${str(e)}`);
      return 0;
    },
  },
  disputes: {
    usage: 'disputes [--status STATUS]',
    help: 'disputes, newest first',
    service: 'operator',
    method: 'ListDisputes',
    request: (a, o) => {
      none(a);
      return { status: o.get('status') ?? '' };
    },
    print: (r, out) => {
      const ds = list(r.disputes);
      if (ds.length === 0) out('no disputes');
      for (const d of ds) {
        out(`${str(d.id)}  ${str(d.status).padEnd(15)} order ${str(d.order_id)} [${str(d.order_status)}]  opened ${when(d.created_at)}  solver ${str(d.solver_pubkey) || '—'}`);
      }
      return 0;
    },
  },
  reconcile: {
    usage: 'reconcile',
    help: 'run escrow + payout reconciliation and the escrow deadline guard now',
    service: 'operator',
    method: 'ReconcileNow',
    request: none,
    print: (r, out) => {
      out(`escrows checked ${str(r.escrows_watched)}; payouts: ${str(r.payouts_succeeded)} succeeded, ${str(r.payouts_failed)} failed, ${str(r.payouts_in_flight)} in flight, ${str(r.payouts_retried)} retried; ${str(r.settlements_finished)} settlements finished; deadline guard ${r.escrow_deadlines_checked === true ? 'ran' : 'did not run'}`);
      for (const e of list(r.errors)) out(`error: ${str(e)}`);
      return list(r.errors).length === 0 ? 0 : 1;
    },
  },
  'retry-payout': {
    usage: 'retry-payout ORDER_ID',
    help: 'pay the buyer of a settled-hold-invoice order with no payout in flight',
    service: 'operator',
    method: 'RetryPayout',
    request: (a) => ({ order_id: need(a, 'ORDER_ID') }),
    print: actionResult,
  },
  republish: {
    usage: 'republish ORDER_ID',
    help: "publish the order's kind-38383 event again from the database",
    service: 'operator',
    method: 'RepublishOrder',
    request: (a) => ({ order_id: need(a, 'ORDER_ID') }),
    print: actionResult,
  },
  ban: {
    usage: 'ban PUBKEY [--reason TEXT]',
    help: 'keep an identity key from new orders and takes; withdraw its pending orders',
    service: 'operator',
    method: 'BanUser',
    request: (a, o) => ({ pubkey: need(a, 'PUBKEY'), reason: o.get('reason') ?? '' }),
    print: (r, out) => {
      out(`${str(r.outcome)}: ${str(r.pubkey)}`);
      for (const id of list(r.canceled_orders)) out(`  withdrawn  ${str(id)}`);
      for (const id of list(r.kept_orders)) out(`  in trade   ${str(id)} (taken before the ban reached it)`);
      for (const id of list(r.failed_orders)) out(`  failed     ${str(id)} (see the daemon's log)`);
      return list(r.failed_orders).length === 0 ? 0 : 1;
    },
  },
  unban: {
    usage: 'unban PUBKEY',
    help: 'lift a ban',
    service: 'operator',
    method: 'UnbanUser',
    request: (a) => ({ pubkey: need(a, 'PUBKEY') }),
    print: (r, out) => {
      out(`${str(r.outcome)}: ${str(r.pubkey)}`);
      return 0;
    },
  },
  banned: {
    usage: 'banned',
    help: 'banned identity keys: when, by whom, why, open orders',
    service: 'operator',
    method: 'ListBanned',
    request: none,
    print: (r, out) => {
      const users = list(r.users);
      if (users.length === 0) out('nobody is banned');
      for (const u of users) {
        out(`${str(u.npub)}  ${str(u.pubkey)}  since ${when(u.banned_at)}${str(u.banned_by) ? ` by ${str(u.banned_by)}` : ''}  open orders ${str(u.open_orders)}${str(u.reason) ? `  "${str(u.reason)}"` : ''}`);
      }
      return 0;
    },
  },
  cancel: {
    usage: 'cancel ORDER_ID',
    help: 'admin-cancel an order (refunds the seller)',
    service: 'admin',
    method: 'CancelOrder',
    request: (a) => ({ order_id: need(a, 'ORDER_ID') }),
    print: adminResult,
  },
  settle: {
    usage: 'settle ORDER_ID',
    help: 'admin-settle an order (pays the buyer)',
    service: 'admin',
    method: 'SettleOrder',
    request: (a) => ({ order_id: need(a, 'ORDER_ID') }),
    print: adminResult,
  },
  'take-dispute': {
    usage: 'take-dispute DISPUTE_ID',
    help: 'take a dispute as the node key',
    service: 'admin',
    method: 'TakeDispute',
    request: (a) => ({ dispute_id: need(a, 'DISPUTE_ID') }),
    print: adminResult,
  },
  'add-solver': {
    usage: 'add-solver NPUB',
    help: 'make a key a dispute solver',
    service: 'admin',
    method: 'AddSolver',
    request: (a) => ({ solver_pubkey: need(a, 'NPUB') }),
    print: adminResult,
  },
  version: {
    usage: 'version',
    help: "the daemon's version",
    service: 'admin',
    method: 'GetVersion',
    request: none,
    print: (r, out) => {
      out(str(r.version));
      return 0;
    },
  },
};

export function adminUsage(): string {
  const lines = [
    'Operate a running mostrod over its gRPC services.',
    '',
    'Usage: mostrod-admin [OPTIONS] COMMAND [ARGS]',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(28)} ${c.help}`),
    '',
    'Options:',
    '  -d, --dirsettings <DIR>   settings directory [default: ~/.mostro]; address and token from its settings.toml',
    '  -a, --address <HOST:PORT> gRPC address [default: [rpc] listen_address:port]',
    '  -t, --token-file <FILE>   bearer token file [default: [rpc] auth_token_file]',
    '      --token-name <NAME>   use the token with this name from the file',
    '      --timeout <SECONDS>   call deadline [default: 120]',
    '      --json                print the response as JSON',
    '  -h, --help                print help',
    '',
  ];
  return lines.join('\n');
}

interface Parsed {
  dir: string;
  address?: string;
  tokenFile?: string;
  tokenName?: string;
  timeout: number;
  json: boolean;
  command: string;
  args: string[];
  opts: Map<string, string>;
}

const VALUE_OPTS: Record<string, string> = {
  '-d': 'dir',
  '--dirsettings': 'dir',
  '-a': 'address',
  '--address': 'address',
  '-t': 'token-file',
  '--token-file': 'token-file',
  '--token-name': 'token-name',
  '--timeout': 'timeout',
  '--blocks': 'blocks',
  '--status': 'status',
  '--reason': 'reason',
};

export function parseAdminArgs(argv: string[]): Parsed | { exit: number; output: string } {
  const values = new Map<string, string>();
  const positional: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    if (raw === '-h' || raw === '--help') return { exit: 0, output: adminUsage() };
    if (raw === '--json') {
      json = true;
      continue;
    }
    const [flag, inline] = raw.startsWith('--') && raw.includes('=') ? [raw.slice(0, raw.indexOf('=')), raw.slice(raw.indexOf('=') + 1)] : [raw, undefined];
    const key = VALUE_OPTS[flag];
    if (key !== undefined) {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') return { exit: 2, output: `error: a value is required for '${flag}'\n\n${adminUsage()}` };
      values.set(key, v);
    } else if (raw.startsWith('-') && raw !== '-') {
      return { exit: 2, output: `error: unexpected argument '${raw}'\n\n${adminUsage()}` };
    } else {
      positional.push(raw);
    }
  }
  const [command, ...args] = positional;
  if (command === undefined) return { exit: 2, output: `error: a command is required\n\n${adminUsage()}` };
  if (COMMANDS[command] === undefined) return { exit: 2, output: `error: unknown command '${command}'\n\n${adminUsage()}` };
  const timeout = Number(values.get('timeout') ?? 120);
  if (!Number.isFinite(timeout) || timeout <= 0) return { exit: 2, output: 'error: --timeout must be a positive number of seconds\n' };
  const dirOpt = values.get('dir');
  return {
    dir: dirOpt ?? join(homedir(), '.mostro'),
    ...(values.has('address') ? { address: values.get('address') } : {}),
    ...(values.has('token-file') ? { tokenFile: values.get('token-file') } : {}),
    ...(values.has('token-name') ? { tokenName: values.get('token-name') } : {}),
    timeout,
    json,
    command,
    args,
    opts: values,
  };
}

/** Address and token file from DIR/settings.toml's [rpc] (only those keys are read). */
function rpcFromSettings(dir: string): { address?: string; tokenFile?: string } {
  const file = join(dir, 'settings.toml');
  if (!existsSync(file)) return {};
  const doc = parseToml(readFileSync(file, 'utf8'));
  const rpc = obj(doc.rpc) ?? {};
  const host = typeof rpc.listen_address === 'string' ? rpc.listen_address : '127.0.0.1';
  const port = typeof rpc.port === 'number' || typeof rpc.port === 'bigint' ? Number(rpc.port) : 50051;
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const out: { address?: string; tokenFile?: string } = { address: `${bracketed}:${port}` };
  if (typeof rpc.auth_token_file === 'string') {
    out.tokenFile = isAbsolute(rpc.auth_token_file) ? rpc.auth_token_file : resolve(dir, rpc.auth_token_file);
  }
  return out;
}

function serviceClient(service: Service, address: string): grpc.Client {
  const def = protoLoader.loadSync(service === 'admin' ? ADMIN_PROTO : OPERATOR_PROTO, LOADER);
  const pkg = grpc.loadPackageDefinition(def);
  const path = service === 'admin' ? ['mostro', 'admin', 'v1', 'AdminService'] : ['mostro', 'operator', 'v1', 'OperatorService'];
  let node: unknown = pkg;
  for (const p of path) node = (node as Record<string, unknown>)[p];
  const Ctor = node as grpc.ServiceClientConstructor;
  return new Ctor(address, grpc.credentials.createInsecure());
}

function invoke(client: grpc.Client, method: string, req: Json, md: grpc.Metadata, deadlineMs: number): Promise<Json> {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`no method ${method}`));
  return new Promise((resolvePromise, reject) => {
    (fn as (r: Json, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: Json) => void) => void).call(
      client,
      req,
      md,
      { deadline: Date.now() + deadlineMs },
      (err, res) => (err !== null ? reject(err) : resolvePromise(res)),
    );
  });
}

/** Drop proto3 synthetic-oneof keys so --json shows only the fields. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v as Json).filter(([k]) => !k.startsWith('_')).map(([k, x]) => [k, clean(x)]));
  }
  return v;
}

export async function runAdmin(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const parsed = parseAdminArgs(argv);
  if ('exit' in parsed) {
    (parsed.exit === 0 ? out : err)(parsed.output);
    return parsed.exit;
  }
  const cmd = COMMANDS[parsed.command];
  if (cmd === undefined) return 2;
  let req: Json;
  try {
    req = cmd.request(parsed.args, parsed.opts);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`error: ${e.message}\n\nUsage: mostrod-admin [OPTIONS] ${cmd.usage}\n`);
      return 2;
    }
    throw e;
  }
  let fromSettings: { address?: string; tokenFile?: string };
  try {
    fromSettings = rpcFromSettings(parsed.dir);
  } catch (e) {
    err(`mostrod-admin: cannot read ${join(parsed.dir, 'settings.toml')}: ${(e as Error).message}\n`);
    return 1;
  }
  const address = parsed.address ?? fromSettings.address ?? '127.0.0.1:50051';
  const tokenFile = parsed.tokenFile ?? fromSettings.tokenFile;
  const md = new grpc.Metadata();
  if (tokenFile !== undefined) {
    try {
      md.set('authorization', `Bearer ${clientTokenFromFile(readFileSync(tokenFile, 'utf8'), parsed.tokenName)}`);
    } catch (e) {
      err(`mostrod-admin: token file ${tokenFile}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const client = serviceClient(cmd.service, address);
  try {
    const res = await invoke(client, cmd.method, req, md, parsed.timeout * 1000);
    const lines: string[] = [];
    let code: number;
    if (parsed.json) {
      lines.push(JSON.stringify(clean(res), null, 2));
      code = cmd.service === 'admin' ? (res.success === false ? 1 : 0) : res.outcome === 'refused' ? 1 : 0;
    } else {
      code = cmd.print(res, (l) => lines.push(l));
    }
    out(`${lines.join('\n')}\n`);
    return code;
  } catch (e) {
    const se = e as Partial<grpc.ServiceError>;
    const code = se.code !== undefined ? (grpc.status[se.code] ?? String(se.code)) : 'ERROR';
    err(`mostrod-admin: ${cmd.method} at ${address} failed: ${code}: ${se.details ?? (e as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  runAdmin(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  ).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`mostrod-admin: fatal: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
