/** Method dispatch for one API route: routes accept every method so a wrong one gets 405 (not the host's 404). */

import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { methodNotAllowed, problem } from './problem.ts';

export type RouteHandler = (
  request: HttpRequest,
  client: DurableClient,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** Every method a route is registered for; the handler table decides which are allowed. */
export const ALL_METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

/** Runs the handler for the request's method, 405 for others; an unexpected error becomes a 500 problem, logged. */
export function byMethod(table: Partial<Record<HttpMethod, RouteHandler>>): RouteHandler {
  const allowed = Object.keys(table);
  return async (request, client, context) => {
    const handler = table[request.method as HttpMethod];
    if (!handler) return methodNotAllowed(request.method, allowed);
    try {
      return await handler(request, client, context);
    } catch (error) {
      context.error(`${request.method} ${new URL(request.url).pathname} failed:`, error);
      return problem(500, 'internal', 'the request failed inside Kiln; see the function log for details');
    }
  };
}
