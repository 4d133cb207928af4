// Every statement the service can send is declared through `sql()` so that the offline Snowflake
// check (test/snowflake-sql.test.ts) can parse and schema-check all of them without running anything.
// Builders whose text depends on their input register a representative sample with `sqlSample()`.

export interface RegisteredStatement {
  name: string;
  text: string;
}

const registry = new Map<string, string>();

/** Declares a named statement and returns its text unchanged. */
export function sql(name: string, text: string): string {
  const existing = registry.get(name);
  if (existing !== undefined && existing !== text) throw new Error(`two different statements are named '${name}'`);
  registry.set(name, text);
  return text;
}

/** Registers a sample output of a statement builder (the builder's text varies with its input). */
export function sqlSample(name: string, text: string): void {
  registry.set(name, text);
}

export function registeredStatements(): RegisteredStatement[] {
  return [...registry.entries()].map(([name, text]) => ({ name, text }));
}
