/** Reading request bodies: bounded JSON or a problem that says what was wrong (413 too large, 400 otherwise), and the template-errors problem. */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { TemplateError } from '../template/spec.ts';
import { readBoundedBody } from './body-limit.ts';
import { deepNestingOffset, MAX_JSON_DEPTH } from './json-text.ts';
import { problem } from './problem.ts';

/** Bodies above this size are refused (413): a template is a few kilobytes. */
export const MAX_JSON_BODY_BYTES = 1_000_000;

export type BodyResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

/** The request body as JSON; with `optional`, an empty body reads as `{}`. */
export async function readJsonBody(request: HttpRequest, options: { optional?: boolean } = {}): Promise<BodyResult> {
  const body = await readBoundedBody(request, { bytes: MAX_JSON_BODY_BYTES, what: 'the body', shown: '1 MB' });
  if (!body.ok) return body;
  // As request.text(): UTF-8, a leading byte order mark dropped, invalid bytes replaced.
  const text = new TextDecoder().decode(body.bytes);
  if (text.trim() === '') {
    if (options.optional) return { ok: true, value: {} };
    return { ok: false, response: templateErrorsProblem([{ path: '$', message: 'the request body is empty', expected: 'a JSON document', found: 'nothing' }]) };
  }
  const deep = deepNestingOffset(text);
  if (deep !== undefined) {
    return {
      ok: false,
      response: templateErrorsProblem([{
        path: '$',
        message: `the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at character ${deep})`,
        expected: `JSON nested at most ${MAX_JSON_DEPTH} levels`,
        found: `more than ${MAX_JSON_DEPTH} levels`,
      }]),
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return {
      ok: false,
      response: templateErrorsProblem([{ path: '$', message: `the body is not JSON: ${(error as Error).message}`, expected: 'a JSON document' }]),
    };
  }
}

/** 400 listing every error at once (path, message, expected, found), so a user fixes them in one go. */
export function templateErrorsProblem(errors: TemplateError[]): HttpResponseInit {
  const count = errors.length;
  return problem(400, 'invalid-template', `the request has ${count} error${count === 1 ? '' : 's'}`, { errors });
}
