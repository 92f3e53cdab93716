/**
 * The web dashboard the Function App serves: a public page that only asks for the function key, and everything
 * else — the app's code, the vendored libraries and every data call — behind that key. The page keeps the key in
 * sessionStorage and sends it as x-functions-key, so it never appears in a URL (URLs are logged).
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { CronExpressionParser } from 'cron-parser';
import { isRunId } from '../runs/ids.ts';
import { loadTemplateFiles } from '../template/stored.ts';
import { TEMPLATE_NAME } from '../template/fields.ts';
import { json, notFound } from './problem.ts';
import { services } from './services.ts';

/** The folder of the page and the app's modules; it ships with the deployed package. */
export const DASHBOARD_FOLDER = 'web';

/** Vendored ES modules, served from node_modules under these names (no CDN, no build). */
const VENDOR: Record<string, string> = {
  'vendor/preact.mjs': 'preact',
  'vendor/hooks.mjs': 'preact/hooks',
  'vendor/htm.mjs': 'htm',
};

const APP_FILE = /^[a-z][a-z0-9-]*\.(js|css)$/;
const CONTENT_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', mjs: 'text/javascript; charset=utf-8' };

/** The web folder: beside src/ in the sources, beside dist/ once built (looked up from this module). */
function webFolder(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, DASHBOARD_FOLDER, 'index.html'))) return join(dir, DASHBOARD_FOLDER);
    if (dirname(dir) === dir) throw new Error(`dashboard: no ${DASHBOARD_FOLDER}/index.html above ${import.meta.dirname}; the package must include it`);
  }
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * GET /dashboard (anonymous) — the page: a key form and the loader that fetches the app with the key. Its one
 * inline script is allowed by hash; the app's modules run from blob: URLs the loader makes.
 */
export async function getDashboardPage(): Promise<HttpResponseInit> {
  const html = await readFile(join(webFolder(), 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script(?: type="module")?>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);
  const csp = [
    "default-src 'none'",
    `script-src blob: ${scripts.join(' ')}`,
    "style-src 'self' blob: 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp, ...SECURITY_HEADERS }, body: html };
}

/** GET /dashboard/files/{*path} (function key) — the app's modules and styles, and the vendored libraries. */
export async function getDashboardFile(request: HttpRequest): Promise<HttpResponseInit> {
  const path = request.params.path ?? '';
  const vendor = VENDOR[path];
  let file: string | undefined;
  if (vendor) file = fileURLToPath(import.meta.resolve(vendor));
  else if (APP_FILE.test(path) && existsSync(join(webFolder(), path))) file = join(webFolder(), path);
  if (!file) return notFound('dashboard file', path);
  const type = CONTENT_TYPES[file.split('.').at(-1) ?? ''] ?? 'application/octet-stream';
  // The libraries' source-map comments would make the browser ask for files that are not served.
  const body = (await readFile(file, 'utf8')).replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  return { status: 200, headers: { 'content-type': type, ...SECURITY_HEADERS }, body };
}

/** GET /builds/{id}/timeline — the run's steps and each region's and scale set's progress slice, with their times. */
export async function getBuildTimeline(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const { runs } = await services();
  const record = isRunId(id) ? await runs.get(id) : undefined;
  if (!record) return notFound('run', id);
  const slices = await runs.readProgress(id);
  return json(200, { id, createdAt: record.createdAt, endedAt: record.endedAt ?? null, status: record.status, steps: record.steps, slices });
}

/** The next time an NCRONTAB schedule fires after `now`. */
export function nextOccurrence(cron: string, now: Date): string {
  return CronExpressionParser.parse(cron, { currentDate: now, tz: 'UTC' }).next().toISOString() ?? '';
}

/** GET /schedules — each stored template's schedule and its next patch rebuild. */
export async function listSchedules(): Promise<HttpResponseInit> {
  const { templates, config } = await services();
  const now = new Date();
  const items = [];
  for (const name of (await templates.list()).filter((n) => TEMPLATE_NAME.test(n)).sort()) {
    const stored = await templates.read(name);
    if (!stored) continue;
    const parsed = await loadTemplateFiles(stored, { name, subscriptionId: config.subscriptionId });
    if (!parsed.ok) {
      items.push({ name, valid: false, errors: parsed.errors.map(({ path, message }) => ({ path, message })) });
      continue;
    }
    const { patch, onSourceUpdate } = parsed.spec.schedule;
    items.push({ name, valid: true, patch: patch ?? null, onSourceUpdate, nextPatchRebuild: patch ? nextOccurrence(patch, now) : null });
  }
  return json(200, { items });
}
