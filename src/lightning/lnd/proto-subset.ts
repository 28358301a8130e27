/**
 * The part of LND's protos the daemon's client uses: the services' methods it calls and every
 * message and enum they reach, copied whole (every field, same numbers and names) out of LND's own
 * .proto files at load time. Loading the three files whole keeps ≈ 3.7 MB of protobufjs reflection
 * live for the process's life (lightning.proto alone declares ~200 RPCs); the subset is what the
 * wire needs and nothing else, and it cannot drift from LND's files since it is cut from them on
 * every start. The test simulator still loads the whole files (protos.ts `loadLndProto`).
 */
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
// proto-loader's own loader (include paths resolved as `loadSync` resolves them).
const { loadProtosWithOptionsSync } = require('@grpc/proto-loader/build/src/util.js') as {
  loadProtosWithOptionsSync(files: string[], options: object): Protobuf.Root;
};

/** Fully qualified service → the methods the client calls (LND's names). */
export type MethodSelection = Readonly<Record<string, readonly string[]>>;

/**
 * A protobufjs JSON namespace holding `methods` of their services and the closure of the types
 * they reach. Throws if a service or method is not in the files.
 */
export function protoSubsetJson(files: string[], includeDirs: string[], methods: MethodSelection, parseOptions: object): Protobuf.INamespace {
  const root = loadProtosWithOptionsSync(files, { ...parseOptions, includeDirs });
  const types = new Set<Protobuf.Type | Protobuf.Enum>();
  const visit = (t: Protobuf.ReflectionObject | null | undefined): void => {
    if (t === null || t === undefined || types.has(t as Protobuf.Type)) return;
    const ctor = t.constructor.name;
    if (ctor !== 'Type' && ctor !== 'Enum') return;
    // A nested type is copied with its parent (toJSON includes nested declarations): keep the
    // outermost type, and walk everything inside it.
    let top: Protobuf.ReflectionObject = t;
    while (top.parent !== null && top.parent.constructor.name === 'Type') top = top.parent;
    if (types.has(top as Protobuf.Type)) return;
    types.add(top as Protobuf.Type);
    walk(top);
  };
  const walk = (t: Protobuf.ReflectionObject): void => {
    if (t.constructor.name !== 'Type') return;
    const type = t as Protobuf.Type;
    for (const f of type.fieldsArray) visit(f.resolvedType);
    for (const n of type.nestedArray) walk(n);
  };
  const out = new Map<string, { service: Protobuf.Service; methods: Protobuf.Method[] }>();
  for (const [serviceName, names] of Object.entries(methods)) {
    const service = root.lookupService(serviceName);
    const chosen = names.map((n) => {
      const m = service.methods[n];
      if (m === undefined) throw new Error(`LND proto: ${serviceName} has no method ${n}`);
      m.resolve();
      visit(m.resolvedRequestType);
      visit(m.resolvedResponseType);
      return m;
    });
    out.set(serviceName, { service, methods: chosen });
  }
  const json: Protobuf.INamespace = { nested: {} };
  const place = (fullName: string, value: Protobuf.AnyNestedObject): void => {
    const parts = fullName.replace(/^\./, '').split('.');
    let ns = json;
    for (const p of parts.slice(0, -1)) {
      ns.nested ??= {};
      ns = (ns.nested[p] ??= { nested: {} }) as Protobuf.INamespace;
    }
    ns.nested ??= {};
    ns.nested[parts[parts.length - 1]!] = value;
  };
  for (const t of types) place(t.fullName, t.toJSON() as Protobuf.AnyNestedObject);
  for (const [name, { service, methods: ms }] of out) {
    const svc = service.toJSON() as Protobuf.IService;
    svc.methods = Object.fromEntries(ms.map((m) => [m.name, m.toJSON() as Protobuf.IMethod]));
    place(name, svc as Protobuf.AnyNestedObject);
  }
  return json;
}
