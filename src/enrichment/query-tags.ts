// Which queries belong to a test: FlakeBench's QUERY_TAG conventions (spec/sources.md, "Matching a test's
// queries", and shared/notes/flakebench-tables.md). FlakeBench writes TEST_RESULTS.QUERY_TAG =
// `flakebench:test_id=<id>` and tags the test's sessions `flakebench:test_id=<id>:phase=WARMUP`, then
// `...:phase=RUNNING`; the seed document plans `flakebench:run_id=<run>:test_id=<id>:phase=...`. Both match.
// Warm-up is left out by the tag's phase and, where a query's QUERY_EXECUTIONS row is known, by its WARMUP flag.
//
// A tag matches a prefix when it equals it or starts with `prefix + ':'` — never LIKE prefix || '%', where `_`
// is a wildcard and `run_id=12%` also matches run 123.

export const DEFAULT_EXCLUDED_PHASES: readonly string[] = ['WARMUP'];

/** Parses `a:b=c:d=e` into {b: 'c', d: 'e'}; segments without `=` (the `flakebench` marker) are skipped. */
export function parseTag(tag: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const segment of tag.split(':')) {
    const at = segment.indexOf('=');
    if (at > 0) pairs[segment.slice(0, at)] = segment.slice(at + 1);
  }
  return pairs;
}

/** Removes any `:phase=...` segment, leaving the part that identifies the test. */
export function stripPhase(tag: string): string {
  return tag
    .split(':')
    .filter((segment) => !segment.startsWith('phase='))
    .join(':');
}

export function tagMatchesPrefix(tag: string | null | undefined, prefix: string): boolean {
  if (tag === null || tag === undefined) return false;
  return tag === prefix || tag.startsWith(`${prefix}:`);
}

/** One TEST_RESULTS row of the run: its test id (FlakeBench's TEST_ID is nullable) and QUERY_TAG. */
export interface RunTestTag {
  testId: string | null;
  queryTag: string | null;
}

/**
 * The QUERY_TAG prefixes of one test: FlakeBench's `flakebench:test_id=<test>` and the seed's
 * `flakebench:run_id=<run>:test_id=<test>` (whatever TEST_RESULTS.QUERY_TAG holds, which may be NULL), the
 * test's own QUERY_TAG without its phase, and explicit ones given at enqueue. The parent row of a run
 * (TEST_ID = RUN_ID) also covers the run: `flakebench:run_id=<run>` and every child test's prefixes, while a
 * child covers only its own queries.
 */
export function testTagPrefixes(testId: string, runId: string, runTests: readonly RunTestTag[], explicit: readonly string[] = []): string[] {
  const prefixes = new Set<string>(explicit);
  const addTest = (id: string) => {
    prefixes.add(`flakebench:test_id=${id}`);
    prefixes.add(`flakebench:run_id=${runId}:test_id=${id}`);
  };
  addTest(testId);
  const isRunParent = testId === runId;
  if (isRunParent) prefixes.add(`flakebench:run_id=${runId}`);
  for (const row of runTests) {
    if (row.testId !== testId && !isRunParent) continue;
    if (row.testId !== null) addTest(row.testId);
    if (row.queryTag) prefixes.add(stripPhase(row.queryTag));
  }
  return [...prefixes].filter((prefix) => prefix !== '');
}

/** True for a warm-up query: its tag names an excluded phase, or FlakeBench flagged its execution WARMUP. */
export function isLeftOut(
  tag: string | null | undefined,
  warmupFlag: boolean | number | null | undefined,
  excludedPhases: readonly string[] = DEFAULT_EXCLUDED_PHASES,
): boolean {
  if (inExcludedPhase(tag, excludedPhases)) return true;
  return Boolean(warmupFlag) && excludedPhases.includes('WARMUP');
}

/** True when the tag names a phase that is left out (warm-up by default). */
export function inExcludedPhase(tag: string | null | undefined, excludedPhases: readonly string[] = DEFAULT_EXCLUDED_PHASES): boolean {
  if (tag === null || tag === undefined) return false;
  const phase = parseTag(tag).phase;
  return phase !== undefined && excludedPhases.includes(phase.toUpperCase());
}

/** True when the tag belongs to one of the prefixes and its phase is not excluded (tags without a phase count). */
export function tagBelongsToTest(
  tag: string | null | undefined,
  prefixes: readonly string[],
  excludedPhases: readonly string[] = DEFAULT_EXCLUDED_PHASES,
): boolean {
  return prefixes.some((prefix) => tagMatchesPrefix(tag, prefix)) && !inExcludedPhase(tag, excludedPhases);
}

/**
 * A SQL predicate matching QUERY_TAG against the prefixes, with its binds: `(QUERY_TAG = ? OR
 * STARTSWITH(QUERY_TAG, ?)) OR ...`. The phase filter is applied in TypeScript on the rows read, because
 * tags are structured text and the rule is easier to keep in one tested function.
 */
export function tagPredicate(column: string, prefixes: readonly string[]): { sql: string; binds: string[] } {
  if (prefixes.length === 0) throw new Error('a tag predicate needs at least one prefix');
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(column)) throw new Error(`not a column name: ${column}`);
  const parts = prefixes.map(() => `${column} = ? OR STARTSWITH(${column}, ?)`);
  return { sql: `(${parts.join(' OR ')})`, binds: prefixes.flatMap((prefix) => [prefix, `${prefix}:`]) };
}
