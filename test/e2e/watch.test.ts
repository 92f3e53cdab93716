/**
 * Watching a bake: `kiln logs -f` shows a customizer's first line before its step ends, and the dashboard in headless
 * Chromium lists the bake, grows its timeline, streams its log, opens the approval gate, and shows no secret; the page
 * and its data calls are refused without the key.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleTemplate, poll, repo, startTestDefault, type TestDefault } from './triggers-support.ts';
import { properties } from './bake-support.ts';
import type { RunRecord } from '../../src/runs/record.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshot of the bake page is kept (docs/dashboard-bake.png is a copy of one). */
export const ARTIFACTS = join(repo, 'test-artifacts');
/** The seeded vault value (local/environment.json) the customizer echoes: it must reach neither log nor page. */
const SECRET = 'local-dev-db-password';

let env: TestDefault;
/** The run `kiln logs -f` followed (finished by the next tests). */
let followedId = '';

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

/** ubuntu-web whose first customizer prints a line, a secret, waits, and prints another; with a secret and approval gate if asked. */
async function slowTemplate(name: string, options: { approval?: boolean } = {}): Promise<Record<string, unknown>> {
  const template = await exampleTemplate('ubuntu-web', env.local);
  template.name = name;
  const props = properties(template);
  props.secrets = { DB_PASSWORD: { vault: 'kiln-secrets', name: 'db-password' } };
  const customize = props.customize as Record<string, unknown>[];
  customize.unshift({
    type: 'Shell',
    name: 'slow-talker',
    secrets: ['DB_PASSWORD'],
    inline: ['echo "first line"', 'echo "connecting with $DB_PASSWORD"', 'sleep 4', 'echo "second line"'],
  });
  if (options.approval) props.approval = { required: true, timeout: 'PT1H' };
  return template;
}

async function runRecord(id: string): Promise<RunRecord> {
  return env.client.getRun<RunRecord>(id);
}

describe('kiln logs -f', () => {
  it("prints a customizer's first line while its step still runs, then follows the bake to its end", async () => {
    const { id } = await env.client.startBake(await slowTemplate('watch-cli'));
    followedId = id;
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'cli/main.ts', 'logs', '-f', id, '--interval', '100',
      '--endpoint', env.local.functionsUrl, '--key', env.local.apiKey], { cwd: repo });
    let out = '';
    let stepWhenFirstSeen: string | undefined;
    let secondSeenWithFirst: boolean | undefined;
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.stdout.on('data', (chunk: Buffer) => {
      const before = out;
      out += chunk.toString();
      if (!before.includes('first line') && out.includes('first line')) {
        secondSeenWithFirst = out.includes('second line');
        void runRecord(id).then((record) => (stepWhenFirstSeen = record.steps.find((s) => s.name === 'customize')?.status));
      }
    });
    expect(await exited).toBe(0);
    // The order, not the time: when the first line arrived the customize step had not ended, nor printed its second line.
    expect(secondSeenWithFirst).toBe(false);
    await poll('the step status read when the first line arrived', 5000, async () => stepWhenFirstSeen);
    expect(stepWhenFirstSeen).toBe('Running');
    expect(out.indexOf('first line')).toBeLessThan(out.indexOf('second line'));
    expect(out).toContain('connecting with ***');
    expect(out).not.toContain(SECRET);
    // Each line once, the step boundaries as headers, the long waits reported, and the end.
    expect(out.split('\n').filter((l) => l === 'first line')).toHaveLength(1);
    expect(out).toMatch(/== customize ==\n/);
    expect(out).toMatch(/\] westeurope: Completed 100%/);
    expect(out).toMatch(/\] web-vmss: Succeeded, batch 2\/2, 3\/3 instances updated/);
    expect(out.trimEnd().split('\n').at(-1)).toBe(`== run ${id} Succeeded ==`);
    expect((await runRecord(id)).status).toBe('Succeeded');
  });

  it('refuses a cursor it did not make, naming the field', async () => {
    const response = await fetch(`${env.local.functionsUrl}/api/builds/${followedId}/logs?cursor=not-a-cursor`, { headers: { 'x-functions-key': env.local.apiKey } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: unknown[] }).errors[0]).toMatchObject({ path: 'cursor' });
    // A cursor at the end of a finished run's logs: nothing more, and done.
    const { cursor } = await env.client.getLogs(followedId);
    expect(await env.client.getLogs(followedId, cursor)).toMatchObject({ logs: [], done: true, status: 'Succeeded' });
  });
});

describe('dashboard', () => {
  it('refuses the app and every data call without the key (401); the public page holds only the key form', async () => {
    const base = `${env.local.functionsUrl}/api`;
    const page = await fetch(`${base}/dashboard`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="key-form"');
    expect(html).not.toContain(env.local.apiKey);
    for (const path of ['dashboard/files/app.js', 'dashboard/files/vendor/preact.mjs', 'dashboard/files/style.css', 'builds', 'builds/x/logs', 'builds/x/timeline', 'schedules', 'templates']) {
      expect((await fetch(`${base}/${path}`)).status, path).toBe(401);
      expect((await fetch(`${base}/${path}`, { headers: { 'x-functions-key': 'wrong' } })).status, path).toBe(401);
    }
    expect((await fetch(`${base}/dashboard/files/app.js`, { headers: { 'x-functions-key': env.local.apiKey } })).status).toBe(200);
    expect((await fetch(`${base}/dashboard/files/..%2Fpackage.json`, { headers: { 'x-functions-key': env.local.apiKey } })).status).toBe(404);
  });

  // Skipped only on a developer's machine without Chromium; in CI (.ci/run installs it) a missing browser fails.
  const browserIt = existsSync(CHROMIUM) || process.env.CI ? it : it.skip;
  if (!existsSync(CHROMIUM)) console.warn(`dashboard browser test ${process.env.CI ? 'fails' : 'skipped'}: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

  browserIt('lists a bake, grows its timeline, streams its log before the step ends, and approves its rollout', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: CI must install the Debian package chromium (.ci/run)`);
    const { chromium } = await import('playwright-core');
    const profile = await mkdtemp(join(tmpdir(), 'kiln-chromium-'));
    // A fresh profile (Playwright passes it as --user-data-dir) and no browser download: the Debian package.
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const seen: string[] = [];
      page.on('response', async (response) => {
        seen.push(`${response.url()}\n${await response.text().catch(() => '')}`);
      });
      const urls: string[] = [];
      page.on('request', (request) => urls.push(request.url()));
      await page.goto(`${env.local.functionsUrl}/api/dashboard`);
      await page.fill('#key', 'not-the-key');
      await page.click('#key-form button');
      await page.getByText('The key was refused (401).').waitFor();
      await page.fill('#key', env.local.apiKey);
      await page.click('#key-form button');
      await page.getByTestId('runs').waitFor();

      const { id } = await env.client.startBake(await slowTemplate('watch-page', { approval: true }));
      const row = page.locator(`tr[data-run="${id}"]`);
      await row.waitFor();
      await page.getByTestId('filter-text').fill('no-such-template');
      await row.waitFor({ state: 'detached' });
      await page.getByTestId('filter-text').fill('watch-page');
      await row.locator('a').click();
      await page.getByTestId('build').waitFor();

      // The log shows the first line while the customize bar is still running and before the second line.
      const firstSeen = await poll('the first line in the page log', 60_000, () => page.evaluate(() => {
        // Runs in the page: the browser's document, which Node's types do not describe.
        const document = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null; querySelectorAll(s: string): { length: number } } }).document;
        const log = document.querySelector('[data-testid="log"]')?.textContent ?? '';
        if (!log.includes('first line')) return undefined;
        const bar = document.querySelector('.gantt g[data-row="customize"]');
        return { second: log.includes('second line'), customize: bar?.getAttribute('data-status'), rows: document.querySelectorAll('.gantt g.bar').length };
      }).then((v) => v ?? undefined), 50);
      expect(firstSeen).toMatchObject({ second: false, customize: 'Running' });

      await page.getByTestId('approve').waitFor({ timeout: 60_000 });
      const rowsAtGate = await page.locator('.gantt g.bar').count();
      expect(rowsAtGate).toBeGreaterThan(firstSeen.rows);
      await page.getByTestId('approve').click();
      await page.locator('[data-testid="build"][data-status="Succeeded"]').waitFor({ timeout: 90_000 });
      await page.locator('.gantt g.bar.batch').nth(1).waitFor();
      const rowsAtEnd = await page.locator('.gantt g.bar').count();
      expect(rowsAtEnd).toBeGreaterThan(rowsAtGate);
      expect(await page.locator('.gantt g.bar.region').count()).toBe(2);
      // The page's log is the run's log: each piece once, in order. The log follows on its own poll (until the API
      // says it is done), so it may reach the last lines a moment after the status shows Succeeded.
      const stored = (await env.client.getLogs(id)).logs.map((l) => `${l.step}${l.text}`).join('');
      const pageLog = () => page.getByTestId('log').textContent();
      await poll('the page log to reach the stored log', 30_000, async () => ((await pageLog()) === stored ? true : undefined), 200).catch(() => undefined);
      const log = await pageLog();
      expect(log).toBe(stored);
      expect(log?.split('second line')).toHaveLength(2);
      expect(log).toContain('connecting with ***');
      const record = await runRecord(id);
      expect(record.status).toBe('Succeeded');
      expect(await page.getByTestId('version').textContent()).toBe(record.outputs.version);

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-bake.png'), fullPage: true });

      // Cancel (confirmed in a dialog) while the gate holds a second bake, then retry it from the page.
      const gated = await env.client.startBake(await slowTemplate('watch-page', { approval: true }));
      page.on('dialog', (dialog) => void dialog.accept());
      await page.goto(`${env.local.functionsUrl}/api/dashboard#/builds/${gated.id}`);
      await page.getByTestId('approve').waitFor({ timeout: 60_000 });
      await page.getByTestId('cancel').click();
      await page.locator('[data-testid="build"][data-status="Canceled"]').waitFor({ timeout: 60_000 });
      await page.getByTestId('retry').click();
      await page.waitForURL((url) => url.hash.startsWith('#/builds/') && !url.hash.endsWith(gated.id));
      const retriedId = decodeURIComponent(new URL(page.url()).hash.slice('#/builds/'.length));
      expect((await runRecord(retriedId)).resumeFrom).toBe(gated.id);
      await page.getByTestId('cancel').waitFor();
      await env.client.cancel(retriedId);

      // A stored template is listed with its patch schedule and next patch rebuild (storing it also bakes it: a blob drop).
      await env.client.putTemplate('watch-stored', await slowTemplate('watch-stored', { approval: true }));
      await page.goto(`${env.local.functionsUrl}/api/dashboard#/templates`);
      const storedRow = page.locator('tr[data-template="watch-stored"]');
      await storedRow.waitFor();
      expect(await storedRow.textContent()).toContain('0 0 3 * * 0');
      const { items } = (await (await fetch(`${env.local.functionsUrl}/api/schedules`, { headers: { 'x-functions-key': env.local.apiKey } })).json()) as { items: { name: string; nextPatchRebuild: string }[] };
      const next = new Date(items.find((t) => t.name === 'watch-stored')!.nextPatchRebuild);
      expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([0, 3, 0]);
      expect(next.getTime()).toBeGreaterThan(Date.now());

      // No secret value reached the page, its responses, or a URL; the key never went into a URL.
      expect(await page.content()).not.toContain(SECRET);
      expect(seen.filter((text) => text.includes(SECRET))).toEqual([]);
      expect(urls.filter((url) => url.includes(env.local.apiKey) || url.includes('code='))).toEqual([]);
    } finally {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
