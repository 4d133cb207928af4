// Schema helpers shared by the route files.
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

const PRIMITIVES = new Set(['string', 'number', 'integer', 'boolean']);

/**
 * `T | null`. A primitive becomes `type: [T, 'null']` (OpenAPI 3.1) instead of `anyOf`: fast-json-stringify
 * serialises an `anyOf` by validating each value against the branches with Ajv on every response, which
 * was most of the cost of answering a cached read. Objects, arrays, literals keep `anyOf`.
 */
export function Nullable<T extends TSchema>(schema: T, options: { description?: string } = {}): TUnsafe<Static<T> | null> {
  const raw = schema as Record<string, unknown>;
  if (typeof raw.type === 'string' && PRIMITIVES.has(raw.type) && raw.const === undefined) {
    const nullable: Record<string, unknown> = { ...raw, type: [raw.type, 'null'], ...options };
    if (Array.isArray(raw.enum)) nullable.enum = [...(raw.enum as unknown[]), null];
    return Type.Unsafe<Static<T> | null>(nullable);
  }
  return Type.Unsafe<Static<T> | null>({ anyOf: [schema, Type.Null()], ...options });
}
