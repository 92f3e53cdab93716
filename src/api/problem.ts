/** problem+json (RFC 9457) responses: every API error is made here, so status, title and body stay consistent. */

import type { HttpResponseInit } from '@azure/functions';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Extra members, e.g. `errors` (every template error) or `allow`. */
  [member: string]: unknown;
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  500: 'Internal Server Error',
};

/** A problem+json response; `kind` becomes the problem type URI (`urn:kiln:problem:{kind}`). */
export function problem(
  status: number,
  kind: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponseInit {
  const body: Problem = { type: `urn:kiln:problem:${kind}`, title: titles[status] ?? 'Error', status, detail, ...extra };
  return { status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers }, body: JSON.stringify(body) };
}

export function notFound(what: string, id: string): HttpResponseInit {
  return problem(404, 'not-found', `${what} ${JSON.stringify(id)} does not exist`);
}

export function methodNotAllowed(method: string, allowed: readonly string[]): HttpResponseInit {
  return problem(405, 'method-not-allowed', `method ${method} is not allowed here; allowed: ${allowed.join(', ')}`, {
    allow: allowed,
  }, { allow: allowed.join(', ') });
}

/** A JSON (non-problem) response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
