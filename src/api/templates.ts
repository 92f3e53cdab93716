/** HTTP handlers for /templates: store, read, list and delete templates (container `templates`: `{name}.json`, `{name}.pkr.hcl`). */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { loadTemplate, type TemplateError } from '../template/index.ts';
import { hclInJson, isTemplateName, loadTemplateFiles, templateFileNames, type TemplateFiles } from '../template/stored.ts';
import { TEMPLATE_NAME, TEMPLATE_NAME_EXPECTED } from '../template/fields.ts';
import { json, notFound, problem } from './problem.ts';
import { readJsonBody, templateErrorsProblem } from './request.ts';
import { services } from './services.ts';

function checkName(name: string): HttpResponseInit | undefined {
  if (TEMPLATE_NAME.test(name) && isTemplateName(name)) return undefined;
  return templateErrorsProblem([{
    path: 'name',
    message: 'invalid template name',
    expected: `${TEMPLATE_NAME_EXPECTED}, not ending in .parameters`,
    found: JSON.stringify(name),
  }]);
}

/** A Packer HCL2 template sent as JSON, as the files it is stored as; undefined for a JSON template. */
function hclFiles(name: string, body: unknown): { files: TemplateFiles; errors: TemplateError[] } | undefined {
  const hcl = hclInJson(body);
  if (!hcl) return undefined;
  const files: TemplateFiles = {
    file: templateFileNames(name).hcl,
    text: hcl.template,
    ...(hcl.parameters ? { parameters: JSON.stringify(hcl.parameters, null, 2) } : {}),
    ...(hcl.variables !== undefined ? { variables: hcl.variables } : {}),
  };
  return { files, errors: hcl.errors };
}

/**
 * PUT /templates/{name} — validates, then stores the template: JSON as `{name}.json`; a Packer HCL2 template
 * (`template` as text) as `{name}.pkr.hcl` with its values beside it. Storing it is a blob drop: the blob trigger
 * starts a bake of it, as for any upload to the container; a scheduled rebuild reads the same files later.
 */
export async function putTemplate(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const badName = checkName(name);
  if (badName) return badName;
  const body = await readJsonBody(request);
  if (!body.ok) return body.response;
  const { templates, config } = await services();
  const options = { name, subscriptionId: config.subscriptionId };
  const hcl = hclFiles(name, body.value);
  if (hcl && hcl.errors.length > 0) return templateErrorsProblem(hcl.errors);
  const parsed = hcl ? await loadTemplateFiles(hcl.files, options) : await loadTemplate({ json: body.value }, options);
  if (!parsed.ok) return templateErrorsProblem(parsed.errors);
  const existed = (await templates.read(name)) !== undefined;
  if (hcl) {
    const { text, parameters, variables } = hcl.files;
    await templates.write(name, { format: 'hcl', text, ...(parameters !== undefined ? { parameters } : {}), ...(variables !== undefined ? { variables } : {}) });
  } else {
    await templates.put(name, body.value);
  }
  const location = `${new URL(request.url).origin}/api/templates/${encodeURIComponent(name)}`;
  return json(existed ? 200 : 201, { name, location, ...(parsed.warnings.length > 0 ? { warnings: parsed.warnings } : {}) }, { location });
}

/**
 * GET /templates/{name} — the template as stored: the JSON of a JSON template; a Packer HCL2 template in the shape
 * PUT takes it (`{ template, parameters?, variables? }`); a dropped file that is not JSON as its text.
 */
export async function getTemplate(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const stored = TEMPLATE_NAME.test(name) && isTemplateName(name) ? await (await services()).templates.read(name) : undefined;
  if (stored === undefined) return notFound('template', name);
  if (stored.file.endsWith('.json')) {
    try {
      return json(200, JSON.parse(stored.text.replace(/^\uFEFF/, '')));
    } catch {
      return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: stored.text };
    }
  }
  const parameters = stored.parameters === undefined ? undefined : parsedOrText(stored.parameters);
  return json(200, { template: stored.text, ...(parameters !== undefined ? { parameters } : {}), ...(stored.variables !== undefined ? { variables: stored.variables } : {}) });
}

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return text;
  }
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
