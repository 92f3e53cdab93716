/** Reading request bodies: bounded JSON or a 400 problem that says what was wrong, and the template-errors problem. */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { TemplateError } from '../template/spec.ts';
import { deepNestingOffset, MAX_JSON_DEPTH } from './json-text.ts';
import { problem } from './problem.ts';

/** Bodies above this size are refused: a template is a few kilobytes. */
const MAX_BODY_BYTES = 1_000_000;

export type BodyResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

/** The request body as JSON; with `optional`, an empty body reads as `{}`. */
export async function readJsonBody(request: HttpRequest, options: { optional?: boolean } = {}): Promise<BodyResult> {
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) {
    return { ok: false, response: problem(400, 'body-too-large', `the body has ${text.length} bytes; expected at most ${MAX_BODY_BYTES}`) };
  }
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
