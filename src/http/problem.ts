// Error bodies: `{status, title, detail}` (what the FlakeBench UI reads), never a stack, SQL or credential.
import { STATUS_CODES } from 'node:http';
import { Type, type Static } from '@sinclair/typebox';

export const Problem = Type.Object(
  {
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    title: Type.String(),
    detail: Type.String(),
  },
  { $id: 'Problem', description: 'An error: HTTP status, its title and a sentence naming the problem.' },
);
export type Problem = Static<typeof Problem>;

/** Throw from a handler to answer with a problem body. */
export class HttpProblem extends Error {
  constructor(
    readonly statusCode: number,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export function problem(status: number, detail: string): Problem {
  return { status, title: STATUS_CODES[status] ?? 'Error', detail };
}

export const notFound = (detail: string) => new HttpProblem(404, detail);
export const conflict = (detail: string) => new HttpProblem(409, detail);
export const badRequest = (detail: string) => new HttpProblem(400, detail);

/** Response schemas for the error statuses a route can return. */
export function problemResponses(...statuses: number[]): Record<number, typeof Problem> {
  return Object.fromEntries(statuses.map((status) => [status, Problem]));
}
