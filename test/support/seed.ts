// Reads the user's design document (docs/seed-data-architecture.md, the seed) and lists the objects its
// SQL declares, so schema tests compare the migrations against the seed itself rather than a copy.
import { readFileSync } from 'node:fs';

export interface SeedConstraint {
  name: string;
  /** e.g. 'PRIMARY KEY(METRIC_ID)', in DuckDB's duckdb_constraints() spelling. */
  definition: string;
}

export interface SeedTable {
  name: string;
  columns: string[];
  constraints: SeedConstraint[];
}

export interface SeedSchema {
  tables: SeedTable[];
  addedColumns: Array<{ table: string; column: string }>;
  views: string[];
}

export function readSeedSchema(path = new URL('../../docs/seed-data-architecture.md', import.meta.url)): SeedSchema {
  const text = readFileSync(path, 'utf8');
  const tables: SeedTable[] = [];
  for (const match of text.matchAll(/CREATE OR ALTER TABLE (\w+) \(([\s\S]*?)\n\);/g)) {
    const body = match[2] ?? '';
    const columns: string[] = [];
    const constraints: SeedConstraint[] = [];
    for (const rawLine of body.split('\n')) {
      const line = rawLine.replace(/--.*$/, '').trim();
      if (line === '') continue;
      const constraint = /^CONSTRAINT (\w+) (PRIMARY KEY|UNIQUE) \(([^)]*)\)/.exec(line);
      if (constraint) constraints.push({ name: constraint[1] as string, definition: `${constraint[2]}(${constraint[3]})` });
      else {
        const column = /^(\w+)\s+[A-Z]/.exec(line);
        if (column) columns.push(column[1] as string);
      }
    }
    tables.push({ name: match[1] as string, columns, constraints });
  }
  const addedColumns = [...text.matchAll(/ALTER TABLE [\w.]*?\.(\w+) ADD COLUMN IF NOT EXISTS\s+(\w+)/g)].map((m) => ({
    table: m[1] as string,
    column: m[2] as string,
  }));
  const views = [...text.matchAll(/CREATE OR REPLACE VIEW (\w+)/g)].map((m) => m[1] as string);
  return { tables, addedColumns, views };
}
