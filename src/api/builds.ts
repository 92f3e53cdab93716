/** HTTP handlers for /builds: start a bake, list and read runs, logs, cancel, approve, retry. */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { loadTemplate } from '../template/index.ts';
import { parameterValuesOf } from '../template/arm/parameters.ts';
import { isTemplateName, loadTemplateFiles, type TemplateFiles } from '../template/stored.ts';
import { isRunId, retryRunId } from '../runs/ids.ts';
import { advanceLogCursor, decodeLogCursor, encodeLogCursor } from './log-cursor.ts';
import type { RunRecord, RunStatus } from '../runs/record.ts';
import { BakeEvent, type BakeProgress } from '../pipeline/contracts.ts';
import type { TemplateError } from '../template/spec.ts';
import { TEMPLATE_NAME, TEMPLATE_NAME_EXPECTED } from '../template/fields.ts';
import { startBake, startBakeOnce } from './bakes.ts';
import { FINAL_RUN_STATUSES } from '../runs/record.ts';
import { withChildProgress } from './live-progress.ts';
import { json, notFound, problem } from './problem.ts';
import { shown } from './json-text.ts';
import { markerOf, pageToken } from './page-token.ts';
import { readJsonBody, templateErrorsProblem } from './request.ts';
import { services } from './services.ts';

const RUN_STATUSES: readonly RunStatus[] = ['Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'];
const MAX_PAGE = 100;

function runUrl(request: HttpRequest, id: string): string {
  return `${new URL(request.url).origin}/api/builds/${encodeURIComponent(id)}`;
}

function accepted(request: HttpRequest, id: string, extra: Record<string, unknown> = {}): HttpResponseInit {
  const location = runUrl(request, id);
  return json(202, { id, location, ...extra }, { location });
}

/**
 * POST /builds. The body is a template (any shape loadTemplate reads), `{ "templateName": … }` for a stored template,
 * or `{ "templateName": …, "template": …, "parameters"?: … }` for a template given a name (and ARM parameter values).
 */
export async function postBuild(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const body = await readJsonBody(request);
  if (!body.ok) return body.response;
  const { runs, templates, config } = await services();
  let template: unknown = body.value;
  let name: string | undefined;
  // A stored template is read as its files: a Packer HCL2 one, or one with a parameters file beside it.
  let stored: TemplateFiles | undefined;
  // A Packer HCL2 template travels as text: `template` is then a string, its variables the `parameters`.
  let hclText: string | undefined;
  let given: Record<string, unknown> | undefined;
  if (isObject(body.value) && 'templateName' in body.value) {
    const { templateName, template: inline, parameters, ...rest } = body.value;
    const errors: TemplateError[] = [];
    if (typeof templateName !== 'string' || !TEMPLATE_NAME.test(templateName)) {
      errors.push({ path: 'templateName', message: 'expected a template name', expected: TEMPLATE_NAME_EXPECTED, found: shown(templateName) });
    }
    if (parameters !== undefined && !isObject(parameters)) {
      errors.push({ path: 'parameters', message: 'expected parameter values by name', expected: '{ "name": value } or { "name": { "value": … } }', found: shown(parameters) });
    }
    for (const key of Object.keys(rest)) {
      errors.push({ path: key, message: `unexpected member ${key} beside templateName`, expected: 'templateName, template and parameters only' });
    }
    if (errors.length) return templateErrorsProblem(errors);
    name = templateName as string;
    if (inline === undefined) {
      stored = isTemplateName(name) ? await templates.read(name) : undefined;
      if (stored === undefined) return notFound('template', name);
    } else if (typeof inline === 'string') {
      hclText = inline;
    } else {
      template = inline;
    }
    if (parameters !== undefined) {
      const read = parameterValuesOf(parameters);
      if (read.errors.length > 0) return templateErrorsProblem(read.errors.map((e) => ({ ...e, path: e.path === '$' ? 'parameters' : `parameters.${e.path}` })));
      given = read.values;
    }
    // ARM parameter values beside an inline JSON template: the same shape a blob drop or stored template carries.
    if (given !== undefined && hclText === undefined && !stored) template = { template, parameters };
  }
  const options = { ...(name ? { name } : {}), subscriptionId: config.subscriptionId };
  const withValues = { ...options, ...(given ? { parameters: given } : {}) };
  const parsed = stored
    ? await loadTemplateFiles(stored, withValues)
    : hclText === undefined
      ? await loadTemplate({ json: template }, options)
      : await loadTemplate({ path: `${name}.pkr.hcl`, text: hclText }, withValues);
  if (!parsed.ok) return templateErrorsProblem(parsed.errors);
  const id = await startBake(client, runs, { templateName: parsed.spec.name, trigger: 'http', spec: parsed.spec });
  // Accepted-but-ignored input (read-only fields, resources not deployed) is said, never dropped silently.
  return accepted(request, id, { status: 'Pending', ...(parsed.warnings.length > 0 ? { warnings: parsed.warnings } : {}) });
}

/** GET /builds?status=&limit=&continuationToken= — newest first, one page at a time. */
export async function listBuilds(request: HttpRequest): Promise<HttpResponseInit> {
  const status = request.query.get('status') ?? undefined;
  const limitText = request.query.get('limit');
  const errors: TemplateError[] = [];
  if (status !== undefined && !RUN_STATUSES.includes(status as RunStatus)) {
    errors.push({ path: 'status', message: 'unknown run status', expected: RUN_STATUSES.join(' | '), found: shown(status) });
  }
  const limit = limitText === null ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    errors.push({ path: 'limit', message: 'page size out of range', expected: `an integer 1–${MAX_PAGE}`, found: shown(limitText) });
  }
  const tokenText = request.query.get('continuationToken');
  const token = tokenText === null ? undefined : markerOf(tokenText, 'continuationToken');
  if (token && 'error' in token) errors.push(token.error);
  if (errors.length) return problem(400, 'invalid-query', 'the query has errors', { errors });
  const page = await (await services()).runs.list({
    status: status as RunStatus | undefined,
    continuationToken: token && 'marker' in token ? token.marker : undefined,
    limit,
  });
  const next = page.continuationToken === undefined ? undefined : pageToken(page.continuationToken);
  const headers: Record<string, string> = {};
  if (next) {
    const nextUrl = new URL(request.url);
    nextUrl.searchParams.set('continuationToken', next);
    headers.link = `<${nextUrl}>; rel="next"`;
  }
  return json(200, { items: page.records, continuationToken: next }, headers);
}

/** GET /builds/{id} — the run record; while it runs, `progress` carries the orchestration's live status. */
export async function getBuild(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const live = isRunId(id) ? await (await services()).runs.getLive(id) : undefined;
  if (!live) return notFound('run', id);
  const { record, slices } = live;
  if (FINAL_RUN_STATUSES.has(record.status)) return json(200, record);
  const status = await client.getStatus(id).catch(() => undefined);
  const progress = (status?.customStatus ?? null) as BakeProgress | null;
  if (!progress) return json(200, { ...record, progress: null });
  return json(200, { ...record, progress: withChildProgress(progress, slices) });
}

/**
 * GET /builds/{id}/logs?cursor= — every step's log, in step order; with the `cursor` of an earlier answer, only
 * what was written since. `done` says the run had ended before this read, so nothing more will come.
 */
export async function getBuildLogs(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const token = request.query.get('cursor');
  const from = token === null ? { ok: true as const, cursor: {} } : decodeLogCursor(token);
  if (!from.ok) {
    return problem(400, 'invalid-query', 'the query has errors', { errors: [{ path: 'cursor', message: from.message, expected: 'the cursor of an earlier answer', found: JSON.stringify(token) }] });
  }
  const record = await findRun(id);
  if (!record) return notFound('run', id);
  const done = FINAL_RUN_STATUSES.has(record.status);
  const logs = await (await services()).runs.readLogsFrom(id, from.cursor);
  const cursor = encodeLogCursor(advanceLogCursor(from.cursor, logs));
  const changed = logs.filter((log) => log.text !== '' || token === null).map(({ step, text }) => ({ step, text }));
  return json(200, { id, logs: changed, cursor, done, status: record.status });
}

/** The run record; an id that is not shaped like a run id is unknown without a storage read. */
async function findRun(id: string): Promise<RunRecord | undefined> {
  return isRunId(id) ? (await services()).runs.get(id) : undefined;
}

async function runningRecord(id: string, found?: RunRecord): Promise<{ record: RunRecord } | { response: HttpResponseInit }> {
  const record = found ?? (await findRun(id));
  if (!record) return { response: notFound('run', id) };
  if (FINAL_RUN_STATUSES.has(record.status)) {
    return { response: problem(409, 'run-finished', `run ${id} has already ended (${record.status})`, { runStatus: record.status }) };
  }
  return { record };
}

/** POST /builds/{id}/cancel — the bake stops at its next step boundary and cleans up. */
export async function cancelBuild(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  // Canceling a canceled run again is harmless (two cancels racing, a retried request): it answers as done.
  const record = await findRun(id);
  if (record?.status === 'Canceled') return json(200, { id, location: runUrl(request, id), status: 'Canceled' });
  const found = await runningRecord(id, record);
  if ('response' in found) return found.response;
  // The bake forwards it to its sub-orchestrations itself.
  await client.raiseEvent(id, BakeEvent.cancel, null);
  return accepted(request, id);
}

/** POST /builds/{id}/approve — body `{ "by": "…" }` optional; opens the approval gate before rollout. */
export async function approveBuild(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const body = await readJsonBody(request, { optional: true });
  if (!body.ok) return body.response;
  const by = isObject(body.value) ? body.value.by : undefined;
  if (by !== undefined && typeof by !== 'string') {
    return templateErrorsProblem([{ path: 'by', message: 'expected who approves', expected: 'a string', found: shown(by) }]);
  }
  const found = await runningRecord(id);
  if ('response' in found) return found.response;
  await client.raiseEvent(id, BakeEvent.approve, by ? { by } : {});
  return accepted(request, id);
}

/** Ids another run already has before the retry's own id is found: each step has a 1 in 65,536 chance. */
const RETRY_ID_ATTEMPTS = 4;

/**
 * POST /builds/{id}/retry — a new run of the same spec that reuses the failed run's completed steps. Its id derives
 * from the failed run: the first call starts it (202), every later or concurrent call answers with it (200).
 */
export async function retryBuild(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const { runs } = await services();
  const record = await findRun(id);
  if (!record) return notFound('run', id);
  if (record.status !== 'Failed' && record.status !== 'Canceled') {
    return problem(409, 'run-not-failed', `run ${id} is ${record.status}; only a Failed or Canceled run can be retried`, {
      runStatus: record.status,
    });
  }
  if (!record.spec) {
    return problem(409, 'run-not-retryable', `run ${id} never started a bake (its template was refused); fix the template and start a new bake`);
  }
  for (let attempt = 0; attempt < RETRY_ID_ATTEMPTS; attempt++) {
    const runId = retryRunId(id, attempt);
    const retry = await startBakeOnce(client, runs, {
      templateName: record.templateName,
      trigger: 'retry',
      spec: record.spec,
      resumeFrom: id,
      runId,
    });
    if (retry.record.resumeFrom !== id) continue;
    const location = runUrl(request, runId);
    return json(retry.created ? 202 : 200, { id: runId, location, status: retry.record.status, resumeFrom: id }, { location });
  }
  throw new Error(`retry of ${id}: the ${RETRY_ID_ATTEMPTS} ids derived from it all belong to other runs`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
