import { createQueryId, PostgresQueryCompiler, RawNode, ValueNode, type CompiledQuery, type Compilable, type Kysely, type OperationNodeSource, type QueryResult, type RawBuilder } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Statements built and compiled once, then run with new parameters (the payment's hot path).
 *
 * Building a statement with Kysely allocates and freezes its operation nodes, and compiling walks
 * them, on every call: for the payment's first read and outcome that was the largest share of the
 * database client's CPU in paycore (docs/performance.md). A template calls its builder once, with
 * a placeholder for each argument, keeps the SQL text and where each argument goes, and from then
 * on only lays the arguments out. The text is the same string instance every time, so the prepared
 * statement's name is found without hashing it again (src/db/prepared.ts).
 *
 * The builder must build the same statement whatever the arguments are: an argument may only be
 * passed to Kysely as a value (a parameter), never looked at, branched on or transformed. A
 * builder that does anything else with a placeholder fails when the template is first used (an
 * argument that does not become a parameter, a parameter that is neither an argument nor a
 * constant scalar), never silently.
 */
class Placeholder {
  constructor(readonly index: number) {}
}

/** Where each parameter of the compiled text comes from: an argument's index, or a constant. */
type ParameterSource = { arg: number } | { constant: unknown };

interface Compiled {
  sql: string;
  sources: readonly ParameterSource[];
  query: CompiledQuery["query"];
  query_id: CompiledQuery["queryId"];
  /** The text split around its `$n` parameters (fragments.length = sources.length + 1). */
  fragments: readonly string[];
}

const CONSTANT_TYPES = new Set(["string", "number", "boolean", "bigint"]);

function compile(db: Kysely<Database> | null, built: Compilable<unknown> | RawBuilder<unknown>, arity: number): Compiled {
  const q = "isRawBuilder" in built ? built.compile(db!) : built.compile();
  const used = new Set<number>();
  const sources = q.parameters.map((p): ParameterSource => {
    if (p instanceof Placeholder) {
      used.add(p.index);
      return { arg: p.index };
    }
    if (p !== null && !CONSTANT_TYPES.has(typeof p)) throw new Error(`statement template: parameter ${String(p)} is neither an argument nor a constant scalar`);
    return { constant: p };
  });
  for (let i = 0; i < arity; i++) if (!used.has(i)) throw new Error(`statement template: argument ${i} is not a parameter of the statement`);
  return { sql: q.sql, sources, query: q.query, query_id: q.queryId, fragments: splitAtParameters(q.sql, sources.length) };
}

/**
 * The compiled text around its parameters. PostgreSQL's compiler numbers them `$1`, `$2`, … in the
 * order they appear; anything else (a `$n` inside a literal) refuses the template.
 */
function splitAtParameters(text: string, count: number): string[] {
  const fragments: string[] = [];
  const re = /\$(\d+)/g;
  let last = 0;
  let seen = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (Number(m[1]) !== seen + 1) throw new Error(`statement template: $${m[1]} out of order in ${text.slice(0, 80)}`);
    fragments.push(text.slice(last, m.index));
    last = m.index + m[0].length;
    seen++;
  }
  if (seen !== count) throw new Error(`statement template: ${seen} parameter markers for ${count} parameters`);
  fragments.push(text.slice(last));
  return fragments;
}

function parametersOf(c: Compiled, args: readonly unknown[]): unknown[] {
  const out = new Array<unknown>(c.sources.length);
  for (let i = 0; i < c.sources.length; i++) {
    const s = c.sources[i]!;
    out[i] = "arg" in s ? args[s.arg] : s.constant;
  }
  return out;
}

export interface StatementTemplate<A extends readonly unknown[], R> {
  /** Runs the statement on `db` (a transaction too) with these arguments. */
  execute(db: Kysely<Database>, ...args: A): Promise<QueryResult<R>>;
  /** The statement as a part of another (a `WITH` entry): parameters renumbered by the outer statement. */
  fragment(db: Kysely<Database>, ...args: A): OperationNodeSource;
}

/**
 * A template of `arity` arguments: `build(db, ...args)` is called once per query compiler with
 * placeholders for the arguments and must answer the same statement for any arguments.
 */
export function statementTemplate<A extends readonly unknown[], R>(arity: A["length"], build: (db: Kysely<Database>, ...args: A) => Compilable<R> | RawBuilder<R>): StatementTemplate<A, R> {
  // One compiled form per adapter (every handle here compiles for PostgreSQL; the cache does not assume it).
  const compiled = new WeakMap<object, Compiled>();
  const of = (db: Kysely<Database>): Compiled => {
    const key = db.getExecutor().adapter;
    let c = compiled.get(key);
    if (!c) {
      const placeholders = Array.from({ length: arity }, (_, i) => new Placeholder(i)) as unknown as A;
      c = compile(db, build(db, ...placeholders), arity);
      compiled.set(key, c);
    }
    return c;
  };
  return {
    execute(db, ...args) {
      const c = of(db);
      // queryId is only read by plugins; paycore's handles have none, so one per template serves.
      return db.executeQuery<R>({ sql: c.sql, parameters: parametersOf(c, args), query: c.query, queryId: c.query_id });
    },
    fragment(db, ...args) {
      const c = of(db);
      const node = RawNode.create(c.fragments, parametersOf(c, args).map((v) => ValueNode.create(v)));
      return { toOperationNode: () => node };
    },
  };
}

/** Every engine paycore opens compiles for PostgreSQL (PGlite too): a raw fragment needs no handle. */
const POSTGRES_COMPILER = new PostgresQueryCompiler();

/**
 * A part of statements (a `WITH` entry, a `VALUES` row) written with `sql`, built and compiled once
 * like a statementTemplate, with the same rules for its builder.
 */
export function fragmentTemplate<A extends readonly unknown[]>(arity: A["length"], build: (...args: A) => RawBuilder<unknown>): (...args: A) => OperationNodeSource {
  let c: Compiled | null = null;
  return (...args) => {
    if (c === null) {
      const placeholders = Array.from({ length: arity }, (_, i) => new Placeholder(i)) as unknown as A;
      const built = build(...placeholders);
      c = compile(null, { compile: () => POSTGRES_COMPILER.compileQuery(built.toOperationNode(), createQueryId()) }, arity);
    }
    const node = RawNode.create(c.fragments, parametersOf(c, args).map((v) => ValueNode.create(v)));
    return { toOperationNode: () => node };
  };
}

/** PostgreSQL's compiler numbering its parameters from `offset + 1`: a part compiled after a head of `offset` parameters. */
class OffsetCompiler extends PostgresQueryCompiler {
  constructor(private readonly offset: number) {
    super();
  }

  protected override getCurrentParameterPlaceholder(): string {
    return "$" + (this.numParameters + this.offset);
  }
}

export interface SplicedTemplate<A extends readonly unknown[], R> {
  /** Runs head(args) + middle + foot on `db`; `middle` is compiled now, its parameters after the head's. */
  execute(db: Kysely<Database>, middle: RawBuilder<unknown>, ...args: A): Promise<QueryResult<R>>;
}

/**
 * A statement whose head and foot are fixed, built and compiled once like a statementTemplate
 * (same rules for the builder), around a middle part built by the caller on every call: for a
 * statement one of whose parts another module builds and whose shape varies with it (the intent's
 * risk writes). Only the middle is compiled per call, its parameters numbered after the head's;
 * the foot takes no parameters.
 */
export function splicedTemplate<A extends readonly unknown[], R>(arity: A["length"], build: (...args: A) => { head: RawBuilder<unknown>; foot: RawBuilder<unknown> }): SplicedTemplate<A, R> {
  let parts: { head: Compiled; foot: string } | null = null;
  return {
    execute(db, middle, ...args) {
      if (parts === null) {
        const placeholders = Array.from({ length: arity }, (_, i) => new Placeholder(i)) as unknown as A;
        const built = build(...placeholders);
        const head = compile(null, { compile: () => POSTGRES_COMPILER.compileQuery(built.head.toOperationNode(), createQueryId()) }, arity);
        const foot = POSTGRES_COMPILER.compileQuery(built.foot.toOperationNode(), createQueryId());
        if (foot.parameters.length > 0) throw new Error("statement template: the foot of a spliced statement takes no parameters");
        parts = { head, foot: foot.sql };
      }
      const head = parts.head;
      const m = new OffsetCompiler(head.sources.length).compileQuery(middle.toOperationNode(), createQueryId());
      const parameters = parametersOf(head, args);
      for (const v of m.parameters) parameters.push(v);
      return db.executeQuery<R>({ sql: head.sql + m.sql + parts.foot, parameters, query: m.query, queryId: m.queryId });
    },
  };
}
