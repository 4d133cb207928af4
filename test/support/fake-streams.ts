// Standard table streams for the fake Snowflake endpoint (fake-snowflake.ts), as far as the service uses them
// (src/queue/discovery-stream.ts). Test infrastructure, kept small; what it follows from the documentation:
//
// - A stream stores only an offset: "an initial snapshot of every row in the source object" at CREATE STREAM
//   (docs.snowflake.com/en/user-guide/streams-intro, "Offset storage"). Here the offset IS such a snapshot,
//   a table FAKE_STREAM_OFFSET_<name> with each row's DuckDB rowid (the fake's METADATA$ROW_ID).
// - Reading a stream gives the net changes between the offset and now: a row inserted since is one INSERT
//   record, a deleted one a DELETE record, an updated one a DELETE of its old values and an INSERT of its new
//   ones, both with METADATA$ISUPDATE = TRUE (docs.snowflake.com/en/user-guide/streams-intro, "Stream
//   columns"). A row inserted and then updated is one INSERT, as on Snowflake (a stream keeps net changes).
// - The offset advances only when a DML statement that reads the stream commits; a SELECT, even in an explicit
//   transaction, does not advance it. Here the snapshot is taken again in the DML's own DuckDB transaction
//   (so it is the table as that statement saw it, and it is undone with a rollback).
// - SYSTEM$STREAM_HAS_DATA: whether the table differs from the snapshot (Snowflake may answer a false
//   positive, never a false negative; the fake answers exactly).
// - SYSTEM$LAST_CHANGE_COMMIT_TIME(table): Snowflake's token increases with every DML on the table; the fake's
//   is a hash of the table's rows, which differs whenever the rows do (an UPDATE that changes nothing keeps
//   it; the service only compares tokens for a change of its rows, so that is enough here).
// Only standard streams ON TABLE; APPEND_ONLY, AT/BEFORE and streams on views are refused.
import type { DuckDbWarehouse } from '../../src/db/duckdb.js';
import { streamDefinition } from './snowflake-rules.js';

interface FakeStream {
  table: string;
  columns: string[];
  offset: string;
}

export interface StreamFailure {
  code: string;
  message: string;
  sqlState: string;
}

const DROP_STREAM = /^DROP\s+STREAM\s+(IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_$]*)\s*$/i;
const HAS_DATA = /SYSTEM\$STREAM_HAS_DATA\s*\(\s*'([^']*)'\s*\)/gi;
const LAST_CHANGE = /SYSTEM\$LAST_CHANGE_COMMIT_TIME\s*\(\s*'([^']*)'\s*\)/gi;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

export class FakeStreams {
  private readonly streams = new Map<string, FakeStream>();

  constructor(private readonly fail: (failure: StreamFailure) => Error) {}

  /** CREATE/DROP STREAM: runs it and returns true; false for any other statement. */
  async ddl(db: DuckDbWarehouse, sql: string): Promise<boolean> {
    const create = streamDefinition(sql);
    if (create) {
      if (create.options !== '') throw new Error(`the fake supports only standard streams without options (got "${create.options}")`);
      const { name, table } = create;
      if (this.streams.has(name) && !create.orReplace) {
        if (create.ifNotExists) return true; // the existing stream keeps its offset
        throw this.fail({ code: '002002', message: `SQL compilation error:\nObject '${name}' already exists.`, sqlState: '42710' });
      }
      const columns = (
        await db.query<{ NAME: string }>('SELECT column_name AS NAME FROM information_schema.columns WHERE upper(table_name) = ? ORDER BY ordinal_position', [table])
      ).map((row) => String(row.NAME).toUpperCase());
      if (columns.length === 0) throw this.fail(missing(table));
      const stream = { table, columns, offset: `FAKE_STREAM_OFFSET_${name}` };
      await db.execute(`CREATE OR REPLACE TABLE ${stream.offset} AS ${snapshotOf(stream)}`);
      this.streams.set(name, stream);
      return true;
    }
    const drop = DROP_STREAM.exec(sql);
    if (drop) {
      const name = (drop[2] as string).toUpperCase();
      const stream = this.streams.get(name);
      if (!stream && !drop[1]) throw this.fail(missing(name));
      if (stream) await db.execute(`DROP TABLE IF EXISTS ${stream.offset}`);
      this.streams.delete(name);
      return true;
    }
    return false;
  }

  /**
   * The statement with the stream functions computed in SQL and every stream it reads replaced by its change
   * records; `read` names the streams it reads (a DML that reads one consumes it: see consume()).
   */
  rewrite(sql: string): { text: string; read: string[] } {
    const read = new Set<string>();
    let text = sql
      .replace(HAS_DATA, (_match, name: string) => `(EXISTS (${this.changes(this.stream(name))}))`)
      .replace(LAST_CHANGE, (_match, table: string) => {
        if (!IDENTIFIER.test(table)) throw this.fail(missing(table));
        return `(SELECT CAST(COALESCE(SUM(hash(v)), 0) AS DECIMAL(38, 0)) FROM ${table} v)`;
      });
    for (const [name, stream] of this.streams) {
      text = text.replace(new RegExp(`\\b${name.replaceAll('$', '\\$')}\\b`, 'gi'), () => {
        read.add(name);
        return `(${this.changes(stream)})`;
      });
    }
    return { text, read: [...read] };
  }

  /** Moves the offsets of `names` to the table as `db`'s open transaction sees it (call after the DML, before its commit). */
  async consume(db: DuckDbWarehouse, names: readonly string[]): Promise<void> {
    for (const name of names) {
      const stream = this.stream(name);
      await db.execute(`DELETE FROM ${stream.offset}`);
      await db.execute(`INSERT INTO ${stream.offset} ${snapshotOf(stream)}`);
    }
  }

  private stream(name: string): FakeStream {
    const stream = this.streams.get(name.toUpperCase());
    if (!stream) throw this.fail(missing(name.toUpperCase()));
    return stream;
  }

  /** The stream's change records: the table's columns and METADATA$ACTION, METADATA$ISUPDATE, METADATA$ROW_ID. */
  private changes(stream: FakeStream): string {
    const current = `(SELECT rowid AS FAKE_ROW_ID, * FROM ${stream.table})`;
    const differs = `ROW(${quoted(stream.columns, 'cur.')}) IS DISTINCT FROM ROW(${quoted(stream.columns, 'old.')})`;
    const record = (side: 'cur' | 'old', action: string, other: 'cur' | 'old') =>
      `SELECT ${quoted(stream.columns, `${side}.`)}, '${action}' AS "METADATA$ACTION", ${other}.FAKE_ROW_ID IS NOT NULL AS "METADATA$ISUPDATE", CAST(${side}.FAKE_ROW_ID AS VARCHAR) AS "METADATA$ROW_ID"`;
    return `${record('cur', 'INSERT', 'old')} FROM ${current} cur LEFT JOIN ${stream.offset} old ON old.FAKE_ROW_ID = cur.FAKE_ROW_ID
  WHERE old.FAKE_ROW_ID IS NULL OR ${differs}
UNION ALL
${record('old', 'DELETE', 'cur')} FROM ${stream.offset} old LEFT JOIN ${current} cur ON cur.FAKE_ROW_ID = old.FAKE_ROW_ID
  WHERE cur.FAKE_ROW_ID IS NULL OR ${differs}`;
  }
}

/** The table's rows as the offset keeps them: each with its rowid. */
function snapshotOf(stream: FakeStream): string {
  return `SELECT rowid AS FAKE_ROW_ID, ${quoted(stream.columns, '')} FROM ${stream.table}`;
}

function quoted(columns: readonly string[], prefix: string): string {
  return columns.map((column) => `${prefix}"${column}"`).join(', ');
}

function missing(name: string): StreamFailure {
  return { code: '002003', message: `SQL compilation error:\nObject '${name}' does not exist or not authorized.`, sqlState: '02000' };
}
