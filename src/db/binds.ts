// Bind values travel the same way to both engines: timestamps as UTC text that both parse
// ('YYYY-MM-DD HH:MM:SS.mmm', no zone: our TIMESTAMP_NTZ columns hold UTC), objects as JSON text
// (statements wrap such binds in PARSE_JSON).
import type { BindValue } from './warehouse.js';

export type WireBind = string | number | boolean | null;

export function formatUtcTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError('cannot bind an invalid Date');
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

export function toWireBind(value: BindValue): WireBind {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot bind non-finite number ${value}`);
    return value;
  }
  if (value instanceof Date) return formatUtcTimestamp(value);
  return JSON.stringify(value);
}

export function toWireBinds(values: readonly BindValue[] | undefined): WireBind[] {
  return (values ?? []).map(toWireBind);
}
