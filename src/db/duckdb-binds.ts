// Binds for a DuckDB prepared statement, typed as the statement expects them.
//
// DuckDB plans a prepared statement again at every execution when a bound value's type differs from the type
// it inferred for that parameter: a UTC text bound to `CAST(? AS TIMESTAMP_NTZ)` (a TIMESTAMP parameter), or
// a whole number bound as INTEGER where it expects BIGINT or DOUBLE. For the service's larger statements that
// planning cost 10 ms or more per execution, several times the statement itself (BENCHMARKS.md, "Backfill").
// So a value is bound with the parameter's own type wherever it converts to it exactly; any other value is
// bound as it is (DuckDB then casts it as before, errors included), so this changes speed, never a result.
// Two cases stay slow, as the driver cannot help them: a NULL (it has no typed NULL to bind), and a bind
// inside a prelude macro's arguments such as PARSE_JSON(?) (hot statements take their JSON through
// row-set.ts's jsonBindRelation instead).
import { DuckDBTimestampValue, DuckDBTypeId, type DuckDBType, BIGINT, DOUBLE, INTEGER, SMALLINT, TIMESTAMP, TINYINT } from '@duckdb/node-api';
import type { WireBind } from './binds.js';

export type TypedBind = string | number | boolean | null | DuckDBTimestampValue;

/** The UTC text formatUtcTimestamp writes (binds.ts), or an ISO date-time without a zone. */
const UTC_TEXT = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * The timestamp a zone-less UTC text names, exactly to the microsecond; undefined for any text DuckDB might read
 * otherwise (another format, a year before 1000, a day or time that does not exist), which is left to its cast.
 */
export function utcTextToTimestamp(text: string): DuckDBTimestampValue | undefined {
  const match = UTC_TEXT.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (year < 1000 || hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(millis);
  // Date.UTC rolls an impossible day over (February 30th is March 2nd): such a text is not a timestamp.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const micros = BigInt((match[7] ?? '').padEnd(6, '0'));
  return new DuckDBTimestampValue(BigInt(millis) * 1000n + micros);
}

const INTEGER_TYPES: ReadonlyMap<DuckDBTypeId, { type: DuckDBType; min: number; max: number }> = new Map([
  [DuckDBTypeId.TINYINT, { type: TINYINT, min: -128, max: 127 }],
  [DuckDBTypeId.SMALLINT, { type: SMALLINT, min: -32_768, max: 32_767 }],
  [DuckDBTypeId.INTEGER, { type: INTEGER, min: -2_147_483_648, max: 2_147_483_647 }],
  [DuckDBTypeId.BIGINT, { type: BIGINT, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }],
]);

/** One value with the type to bind it as (undefined: let the driver infer it, as for any value before). */
export function typedBind(value: WireBind, expected: DuckDBTypeId): { value: TypedBind; type: DuckDBType | undefined } {
  if (typeof value === 'string' && expected === DuckDBTypeId.TIMESTAMP) {
    const timestamp = utcTextToTimestamp(value);
    if (timestamp !== undefined) return { value: timestamp, type: TIMESTAMP };
  }
  if (typeof value === 'number') {
    const integer = INTEGER_TYPES.get(expected);
    if (integer !== undefined && Number.isInteger(value) && value >= integer.min && value <= integer.max) return { value, type: integer.type };
    if (expected === DuckDBTypeId.DOUBLE && Number.isFinite(value)) return { value, type: DOUBLE };
  }
  return { value, type: undefined };
}

/** The binds of one execution, each typed by typedBind against the statement's parameter types (1-based there). */
export function typedBinds(values: readonly WireBind[], expected: readonly DuckDBTypeId[]): Array<{ value: TypedBind; type: DuckDBType | undefined }> {
  return values.map((value, index) => typedBind(value, expected[index] ?? DuckDBTypeId.INVALID));
}
