/** HTTP handlers for /templates: store, read, list and delete templates (container `templates`, `{name}.json`). */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { loadTemplate } from '../template/index.ts';
import { TEMPLATE_NAME, TEMPLATE_NAME_EXPECTED } from '../template/fields.ts';
import { json, notFound, problem } from './problem.ts';
import { readJsonBody, templateErrorsProblem } from './request.ts';
import { services } from './services.ts';

function checkName(name: string): HttpResponseInit | undefined {
  if (TEMPLATE_NAME.test(name)) return undefined;
  return templateErrorsProblem([{
    path: 'name',
    message: 'invalid template name',
    expected: TEMPLATE_NAME_EXPECTED,
    found: JSON.stringify(name),
  }]);
}

/**
 * PUT /templates/{name} — validates, then stores the template. Storing it is a blob drop: the blob trigger starts
 * a bake of it, as for any upload to the container.
 */
export async function putTemplate(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const badName = checkName(name);
  if (badName) return badName;
  const body = await readJsonBody(request);
  if (!body.ok) return body.response;
  const { templates, config } = await services();
  const parsed = await loadTemplate({ json: body.value }, { name, subscriptionId: config.subscriptionId });
  if (!parsed.ok) return templateErrorsProblem(parsed.errors);
  const existed = (await templates.get(name)) !== undefined;
  await templates.put(name, body.value);
  const location = `${new URL(request.url).origin}/api/templates/${encodeURIComponent(name)}`;
  return json(existed ? 200 : 201, { name, location }, { location });
}

/** GET /templates/{name} — the template as stored; a name no template can have is simply unknown. */
export async function getTemplate(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const template = TEMPLATE_NAME.test(name) ? await (await services()).templates.get(name) : undefined;
  return template === undefined ? notFound('template', name) : json(200, template);
}

/** DELETE /templates/{name}. */
export async function deleteTemplate(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const deleted = TEMPLATE_NAME.test(name) && (await (await services()).templates.delete(name));
  return deleted ? { status: 204 } : notFound('template', name);
}

/** GET /templates?limit=&continuationToken= — stored template names in name order, one page at a time. */
export async function listTemplates(request: HttpRequest): Promise<HttpResponseInit> {
  const limitText = request.query.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    return problem(400, 'invalid-query', 'the query has errors', {
      errors: [{ path: 'limit', message: 'page size out of range', expected: 'an integer 1–500', found: JSON.stringify(limitText) }],
    });
  }
  // The token is the last name of the previous page: stable while templates come and go.
  const after = request.query.get('continuationToken') ?? '';
  const names = (await (await services()).templates.list()).sort().filter((name) => name > after);
  const page = names.slice(0, limit);
  const continuationToken = names.length > limit ? page.at(-1) : undefined;
  return json(200, { items: page.map((name) => ({ name })), ...(continuationToken ? { continuationToken } : {}) });
}
