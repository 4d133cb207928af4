// The Snowflake write carrier: how `writeGroups` reaches Snowflake as ONE request (issue 10).
//
// Snowflake gives a multi-statement request no binds (the SQL API documentation: "Snowflake does not currently
// support variable binding in multi-statement SQL requests"; snowflake-connector-nodejs#704), and an anonymous
// Snowflake Scripting block takes no driver binds either. A procedure call does: every group's statements and
// wire binds (src/db/binds.ts) travel as ONE text bind, the JSON below, and a JavaScript body runs them between
// BEGIN TRANSACTION and COMMIT on the server. Its text lives once, in the latest migration that creates the
// procedure (sql/0011_write_carrier_merged_fence.sql, which replaced 0009's).
//
// Carriers (SNOWFLAKE_WRITE_CARRIER):
//   procedure  `CALL DELAYED_ENRICHMENT_WRITE_GROUPS(?)` of the procedure migrations 0009/0011 create (needs CREATE
//              PROCEDURE on the schema at migration time);
//   inline     the same body as an anonymous procedure, `WITH … AS PROCEDURE … CALL …(?)`, which needs no
//              CREATE PROCEDURE privilege and runs with caller's rights (docs.snowflake.com/en/sql-reference/sql/call-with).
//              Whether Snowflake accepts a driver bind in that CALL is UNVERIFIED (no account was available):
//              if it does not, the call fails loudly and `statements` is the fallback;
//   statements BEGIN, each statement, COMMIT: n + 2 requests, the last resort.
import { loadMigrations, type Migration } from './migrations.js';
import { sql } from './sql-registry.js';
import { toWireBinds, type WireBind } from './binds.js';
import { mergedFenceLost, WarehouseError, type GroupResult, type WriteGroup } from './warehouse.js';

export type WriteCarrier = 'procedure' | 'inline' | 'statements';

export const WRITE_CARRIER_PROCEDURE = 'DELAYED_ENRICHMENT_WRITE_GROUPS';

/**
 * A request's text plus binds should stay under 1 MB: larger ones run but the driver cannot retry them
 * (../shared/notes/snowflake-round-trips.md, "Size"). A carrier call whose JSON passes this goes out as
 * `statements` instead (each statement then carries only its own binds).
 */
export const MAX_CARRIER_PAYLOAD_BYTES = 900_000;

const createsCarrier = (text: string) => new RegExp(`^CREATE\\s+OR\\s+REPLACE\\s+PROCEDURE\\s+${WRITE_CARRIER_PROCEDURE}\\b`, 'i').test(text);

/** The latest migration that (re)creates the carrier procedure (0011 replaced 0009's): the one whose body runs. */
export function carrierProcedureMigration(): Migration {
  const migration = loadMigrations().findLast((candidate) => candidate.statements.some((statement) => createsCarrier(statement.text)));
  if (migration === undefined) throw new Error('no migration in sql/ creates the write carrier procedure');
  return migration;
}

/** The migration's CREATE PROCEDURE statement, exactly as the migration sends it. */
function procedureMigrationStatement(): string {
  const statement = carrierProcedureMigration().statements.find((candidate) => createsCarrier(candidate.text));
  return statement!.text;
}

const CREATE_PROCEDURE = sql('write_carrier.create_procedure', procedureMigrationStatement());

/** The JavaScript body, between the migration's `$$` delimiters: the one text both carriers send. */
export const WRITE_CARRIER_BODY = (() => {
  const match = /\$\$([\s\S]*)\$\$\s*$/.exec(CREATE_PROCEDURE);
  if (match === null) throw new Error('the write carrier procedure has no $$ body');
  return match[1] as string;
})();

export const CALL_WRITE_CARRIER = sql('write_carrier.call', `CALL ${WRITE_CARRIER_PROCEDURE}(?)`);

/** The anonymous-procedure form: the same body, defined and called in one statement (no stored object). */
export const INLINE_WRITE_CARRIER = sql(
  'write_carrier.inline',
  `WITH ${WRITE_CARRIER_PROCEDURE} AS PROCEDURE (GROUPS_JSON VARCHAR)\nRETURNS VARIANT\nLANGUAGE JAVASCRIPT\nAS $$${WRITE_CARRIER_BODY}$$\nCALL ${WRITE_CARRIER_PROCEDURE}(?)`,
);

/** The statement text a carrier sends (not for `statements`, which sends the group's own texts). */
export function carrierText(carrier: Exclude<WriteCarrier, 'statements'>): string {
  return carrier === 'procedure' ? CALL_WRITE_CARRIER : INLINE_WRITE_CARRIER;
}

interface PayloadStatement {
  q: string;
  b: WireBind[];
}

/** The one text bind: every group's statements with their wire binds (the body's GROUPS_JSON). */
export function carrierPayload(groups: readonly WriteGroup[]): string {
  return JSON.stringify(
    groups.map((group) => ({
      s: group.statements.map((statement): PayloadStatement => ({ q: statement.sql, b: toWireBinds(statement.binds) })),
      f: group.fenced,
      ...(group.fenceRows !== undefined && group.fenceRows !== 1 ? { n: group.fenceRows } : {}),
    })),
  );
}

/** Whether text and payload together stay under the size a request should have (see MAX_CARRIER_PAYLOAD_BYTES). */
export function fitsOneRequest(text: string, payload: string): boolean {
  return Buffer.byteLength(text, 'utf8') + Buffer.byteLength(payload, 'utf8') <= MAX_CARRIER_PAYLOAD_BYTES;
}

/** A statement error the body caught (after its ROLLBACK), as the body returned it. */
export interface CarrierFailure {
  code: string | undefined;
  sqlState: string | undefined;
  message: string;
  /** The failing group's index; undefined when BEGIN or COMMIT failed. */
  group: number | undefined;
}

export type CarrierOutcome = { groups: GroupResult[] } | { failure: CarrierFailure };

/**
 * Reads the procedure's VARIANT answer (the only column of the only row). Throws a WarehouseError when it is not
 * what the body returns, so a carrier that misbehaves fails loudly instead of reporting writes that did not happen.
 */
export function readCarrierAnswer(rows: ReadonlyArray<Record<string, unknown>>, groups: readonly WriteGroup[]): CarrierOutcome {
  const cell = rows.length === 1 ? Object.values(rows[0] as Record<string, unknown>)[0] : undefined;
  const answer = (typeof cell === 'string' ? JSON.parse(cell) : cell) as
    | {
        groups?: Array<{ held?: unknown; counts?: unknown }>;
        error?: { code?: unknown; state?: unknown; message?: unknown; group?: unknown; fence?: { expected?: unknown; touched?: unknown } };
      }
    | undefined;
  const lost = answer?.error?.fence;
  if (lost !== undefined) {
    // A merged group's fence did not hold for all its claims: rolled back, reported as runWriteGroups does.
    const group = answer?.error?.group;
    throw mergedFenceLost(Number(lost.expected), Number(lost.touched), typeof group === 'number' ? group : -1);
  }
  if (answer?.error !== undefined) {
    const { code, state, message, group } = answer.error;
    return {
      failure: {
        code: snowflakeCode(code),
        sqlState: typeof state === 'string' ? state : undefined,
        message: typeof message === 'string' ? message : 'the write carrier reported an error without a message',
        group: typeof group === 'number' && group >= 0 ? group : undefined,
      },
    };
  }
  const answered = answer?.groups;
  if (!Array.isArray(answered) || answered.length !== groups.length) {
    throw new WarehouseError('other', `the write carrier answered ${JSON.stringify(cell)?.slice(0, 200)} for ${groups.length} group(s)`);
  }
  return {
    groups: answered.map((outcome, index) => {
      const counts = outcome.counts;
      const expected = groups[index]?.statements.length ?? 0;
      if (typeof outcome.held !== 'boolean' || !Array.isArray(counts) || counts.length !== expected) {
        throw new WarehouseError('other', `the write carrier's answer for group ${index} is malformed`);
      }
      // getNumRowsAffected() of a statement that changes nothing may be negative; the port reports 0 then.
      return { held: outcome.held, results: counts.map((count) => ({ rowsAffected: typeof count === 'number' && count > 0 ? count : 0 })) };
    }),
  };
}

/**
 * Snowflake error codes are six digits ("000625"); the JavaScript API's `err.code` may arrive as a number
 * (625), which loses the leading zeros (unverified which one a real account returns: both are read).
 */
function snowflakeCode(code: unknown): string | undefined {
  if (typeof code === 'number' && Number.isInteger(code)) return String(code).padStart(6, '0');
  if (typeof code === 'string' && code !== '') return /^\d+$/.test(code) ? code.padStart(6, '0') : code;
  return undefined;
}
