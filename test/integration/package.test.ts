/**
 * What is deployed is what was tested: `npm run package`'s output is unzipped into a temporary folder, checked for
 * what must and must not ship, and the local host runs a whole bake on it with its production node_modules only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, type PackageSummary } from '../../tools/package.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, type TestDefault } from '../e2e/triggers-support.ts';

let work: string;
let summary: PackageSummary;
let unpacked: string;
let files: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kiln-package-'));
  summary = buildPackage(join(work, 'out'));
  unpacked = join(work, 'unpacked');
  execFileSync('unzip', ['-q', summary.zip, '-d', unpacked]);
  files = readdirSync(unpacked, { recursive: true }).map(String);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Function App package', () => {
  it('holds the compiled app, host.json and a manifest whose entry point exists', () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
    expect(manifest.main).toBe('dist/functions/index.js');
    expect(existsSync(join(unpacked, manifest.main))).toBe(true);
    expect(manifest.devDependencies).toBeUndefined();
    expect(manifest.scripts).toBeUndefined();
    expect(JSON.parse(readFileSync(join(unpacked, 'host.json'), 'utf8')).version).toBe('2.0');
    expect(files).toContain(join('dist', 'src', 'pipeline', 'bake.js'));
    // The zip holds exactly what the package folder held.
    expect(readdirSync(unpacked, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())).toHaveLength(summary.files);
  });

  it('carries no CLI, embedded default, tests, TypeScript sources, local state or dev-only packages', () => {
    const top = readdirSync(unpacked).sort();
    expect(top).toEqual(['dist', 'host.json', 'node_modules', 'package-lock.json', 'package.json', 'web']);
    expect(readdirSync(join(unpacked, 'dist')).sort()).toEqual(['functions', 'src']);
    const appFiles = files.filter((f) => f.startsWith('dist'));
    expect(appFiles.filter((f) => f.endsWith('.ts'))).toEqual([]);
    const modules = readdirSync(join(unpacked, 'node_modules'));
    for (const devOnly of ['azurite', 'node', 'vitest', 'typescript', 'commander', 'selfsigned']) expect(modules).not.toContain(devOnly);
    for (const needed of ['durable-functions', '@azure', 'zod', 'cron-parser', 'preact', 'htm']) expect(modules).toContain(needed);
    expect(files.filter((f) => /(^|\/)(\.kiln|keys\.json|local\.settings\.json|\.git)(\/|$)/.test(f))).toEqual([]);
  });

  describe('started as deployed', () => {
    let env: TestDefault;
    beforeAll(async () => {
      env = await startTestDefault({ appEntry: join(unpacked, 'dist', 'functions', 'index.js') });
    });
    afterAll(async () => {
      await env?.close();
    });

    it('bakes the example through the packaged app on the local host', async () => {
      const { id } = await env.client.startBake(await exampleTemplate('ubuntu-web', env.local));
      const run = await waitForEnd(env.client, id, 180_000);
      expect(run.status, describeRun(run)).toBe('Succeeded');
      expect(run.outputs.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(run.staging).toMatchObject({ state: 'Deleted' });
    }, 240_000);

    it('serves the dashboard from the package: the page, and its code with the key only', async () => {
      const base = `${env.local.functionsUrl}/api/dashboard`;
      expect((await fetch(base)).status).toBe(200);
      expect((await fetch(`${base}/files/vendor/preact.mjs`)).status).toBe(401);
      for (const file of ['app.js', 'vendor/preact.mjs', 'vendor/hooks.mjs', 'vendor/htm.mjs']) {
        expect((await fetch(`${base}/files/${file}`, { headers: { 'x-functions-key': env.local.apiKey } })).status, file).toBe(200);
      }
    });
  });
});

