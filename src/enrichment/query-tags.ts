// Which queries belong to a test: FlakeBench's QUERY_TAG conventions (spec/sources.md, "Matching a test's
// queries"). Tags look like `flakebench:test_id=<id>:phase=RUNNING`, or
// `flakebench:run_id=<run>:test_id=<id>:phase=WARMUP` in some versions.
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

/** A run's prefixes: `flakebench:run_id=<run>` plus each of its tests' tags without the phase, plus explicit ones. */
export function tagPrefixesFor(runId: string, testTags: ReadonlyArray<string | null | undefined>, explicit: readonly string[] = []): string[] {
  const prefixes = new Set<string>([`flakebench:run_id=${runId}`]);
  for (const tag of testTags) if (tag) prefixes.add(stripPhase(tag));
  for (const prefix of explicit) if (prefix) prefixes.add(prefix);
  return [...prefixes];
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
