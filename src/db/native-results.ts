// DuckDB results and bound values live in native memory that V8 does not see: @duckdb/node-api frees each
// one only in the finalizer of its JS wrapper and reports none of it to the garbage collector. A wrapper is a
// few hundred bytes of JS heap; the native result behind it is about 16 KiB per column (DuckDB allocates a
// whole 2,048-row vector per column, even for a one-row result). Between two of V8's own collections a busy
// connection left 100 MB and more of dead results waiting (BENCHMARKS.md, "Processor requests per job").
// So the adapter estimates what its results and binds hold and, past a budget, asks V8 for a collection
// itself: a young-generation one (the wrappers are short-lived; about 3 ms), and every few budgets a full
// one, for the wrappers that were promoted meanwhile (about 20 ms on the service's heap).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Estimated native bytes of dead results allowed to wait between two collections. */
const BUDGET_BYTES = 8 * 1024 * 1024;
/** Every this many collections, a full one. */
const FULL_EVERY = 8;
/** Estimates from the RSS per result kept alive (1,000 results each of 1 to 22 columns, and of long binds). */
const RESULT_BYTES = 8 * 1024;
const COLUMN_CHUNK_BYTES = 16 * 1024;
const VALUE_BYTES = 128;
const VECTOR_SIZE = 2048;

/** V8's gc(): no argument is a full collection (`{ type: 'major' }` is not, on Node 20). */
type Collect = (options?: { type: 'minor' }) => void;

let collect: Collect | undefined | null = null;
let pending = 0;
let collections = 0;

/** V8's gc(), exposed only long enough to take it (undefined where the runtime refuses). */
function collector(): Collect | undefined {
  if (collect !== null) return collect;
  const exposed = (globalThis as { gc?: Collect }).gc;
  if (typeof exposed === 'function') return (collect = exposed);
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  } catch {
    collect = undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/** Collections asked for so far (for tests: the budget is being counted). */
export function nativeCollections(): number {
  return collections;
}

/** Counts a finished result (`rows` undefined: not read, a statement's row-count result). */
export function noteNativeResult(columns: number, rows: number | undefined): void {
  const chunks = rows === undefined ? 1 : Math.ceil(rows / VECTOR_SIZE);
  note(RESULT_BYTES + COLUMN_CHUNK_BYTES * columns * chunks);
}

/** Counts bound values: each is a native copy of its text (about its length), freed with its wrapper. */
export function noteNativeBinds(binds: readonly unknown[]): void {
  let bytes = 0;
  for (const bind of binds) bytes += VALUE_BYTES + (typeof bind === 'string' ? bind.length : 0);
  note(bytes);
}

function note(bytes: number): void {
  pending += bytes;
  if (pending < BUDGET_BYTES) return;
  pending = 0;
  collections += 1;
  const gc = collector();
  if (!gc) return;
  if (collections % FULL_EVERY === 0) gc();
  else gc({ type: 'minor' });
}
