import {
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Compilable,
  type CompiledQuery,
  type QueryResult,
} from 'kysely';
import type { DbSchema, Executor } from './schema.js';

/**
 * Hot statements built by Kysely once instead of per call.
 *
 * A repository query is an immutable Kysely AST built and compiled to SQL at every call (the
 * `visitNode` / `freeze` / value-parser share of the daemon's profile), although the SQL text only
 * depends on the query's shape. `compiledOnce(build)` runs the same Kysely builder once, with a
 * placeholder object in place of each argument, keeps the compiled SQL and the parameter list, and
 * per call only puts the arguments where their placeholders were. The bound query runs through the
 * caller's executor (`ex.executeQuery`): the same connection, mutex and transaction as the builder's
 * own `execute()`, and the same prepared-statement cache (database.ts `StatementCache`; the SQL is
 * now the very same string each time, so its lookup no longer hashes a fresh string either).
 *
 * Rules for a builder: each argument may only be passed to Kysely as a value (bound parameter) —
 * not inspected, branched on, converted or turned into an identifier, since the builder sees a
 * placeholder, not the value. An argument that does not end up among the parameters makes the
 * first compilation throw. The SQL is Kysely's own SQLite compilation, the same text the builder
 * compiles to on the daemon's database (which has no plugins); test/unit/db/compiled-once.test.ts
 * asserts it for every hot query.
 */

/** Stand-in for argument `index` while the query is built. */
class Slot {
  constructor(readonly index: number) {}
  [Symbol.toPrimitive](): never {
    throw new TypeError('a compiled-once query argument was used as a value by its builder (not as a parameter)');
  }
}

/** SQL compilation only (Kysely's documented "dummy driver" set-up): never executes anything. */
const compiler = new Kysely<DbSchema>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

function compileWithSlots<O>(arity: number, build: (db: Kysely<DbSchema>, slots: Slot[]) => Compilable<O>): CompiledQuery<O> {
  const slots = Array.from({ length: arity }, (_, i) => new Slot(i));
  const compiled = build(compiler, slots).compile();
  const bound = new Set<number>();
  for (const p of compiled.parameters) if (p instanceof Slot) bound.add(p.index);
  if (bound.size !== arity) {
    throw new TypeError(`compiled-once query: ${arity - bound.size} of ${arity} arguments are not parameters (${compiled.sql})`);
  }
  return compiled;
}

function bind<O>(template: CompiledQuery<O>, args: readonly unknown[]): CompiledQuery<O> {
  const parameters = template.parameters.map((p) => (p instanceof Slot ? args[p.index] : p));
  return { query: template.query, queryId: template.queryId, sql: template.sql, parameters };
}

export interface CompiledOnce<A extends readonly unknown[], O> {
  /** The query with these arguments, as the builder would have compiled it (tests; run() uses it). */
  compile(...args: A): CompiledQuery<O>;
  /**
   * Run on `ex` (the database or an open transaction). The raw driver result: `rows` for a select
   * or a `returning`, `numAffectedRows` for a write (what Kysely's `execute()` derives its results from).
   */
  run(ex: Executor, ...args: A): Promise<QueryResult<O>>;
}

/**
 * `build(db, ...args)` compiled once (at first use), then bound and run per call. Every argument
 * must be a plain value for Kysely (see the module comment). Arity = `build.length - 1`.
 */
export function compiledOnce<A extends readonly unknown[], O>(
  build: (db: Kysely<DbSchema>, ...args: A) => Compilable<O>,
): CompiledOnce<A, O> {
  let template: CompiledQuery<O> | undefined;
  const compile = (...args: A): CompiledQuery<O> => {
    template ??= compileWithSlots(build.length - 1, (db, slots) => build(db, ...(slots as unknown as A)));
    return bind(template, args);
  };
  return {
    compile,
    run: (ex, ...args) => ex.executeQuery(compile(...args)),
  };
}

/** Row objects of distinct column sets kept per insert (more are built by Kysely per call). */
const MAX_ROW_SHAPES = 16;

export interface CompiledOncePerShape<R extends object, O> {
  compile(row: R): CompiledQuery<O>;
  run(ex: Executor, row: R): Promise<QueryResult<O>>;
}

/**
 * For `insertInto(…).values(row)`: Kysely takes the columns from the row's own keys, in their order,
 * leaving out undefined values, so the SQL depends on the row's shape. One compiled query per shape
 * (key list), each built once with a placeholder per column; rows of a new shape past the
 * `MAX_ROW_SHAPES`-th are built by Kysely per call, as before.
 */
export function compiledOncePerShape<R extends object, O>(
  build: (db: Kysely<DbSchema>, row: R) => Compilable<O>,
): CompiledOncePerShape<R, O> {
  const shapes = new Map<string, { keys: string[]; template: CompiledQuery<O> }>();
  const compile = (row: R): CompiledQuery<O> => {
    const values = row as Record<string, unknown>;
    const keys = Object.keys(values).filter((k) => values[k] !== undefined);
    const shape = keys.join(',');
    let entry = shapes.get(shape);
    if (entry === undefined) {
      if (shapes.size >= MAX_ROW_SHAPES) return build(compiler, row).compile();
      const template = compileWithSlots(keys.length, (db, slots) =>
        build(db, Object.fromEntries(keys.map((k, i) => [k, slots[i]])) as R),
      );
      entry = { keys, template };
      shapes.set(shape, entry);
    }
    return bind(
      entry.template,
      entry.keys.map((k) => values[k]),
    );
  };
  return {
    compile,
    run: (ex, row) => ex.executeQuery(compile(row)),
  };
}
