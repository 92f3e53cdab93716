import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.ts';

/** App settings that the Functions platform reads on Azure, never Kiln's code; each with the reason it is set. */
const PLATFORM_SETTINGS: Record<string, string> = {
  AzureWebJobsStorage__credential: 'the host reaches its storage with the managed identity, no account key',
  AzureWebJobsStorage__clientId: 'which user-assigned identity that is; without it the host looks for a system-assigned one',
  AzureWebJobsStorage__queueServiceUri: 'the Durable task hub keeps its control and work-item queues there',
  AzureWebJobsStorage__tableServiceUri: 'the Durable task hub keeps instances and history there',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'the host sends logs, traces and metrics to Application Insights',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'telemetry authenticates as the identity, because local auth is off',
};
/** Settings only a local host needs. */
const LOCAL_PLATFORM_SETTINGS: Record<string, string> = {
  FUNCTIONS_WORKER_RUNTIME: 'the local host must be told the worker language; Flex Consumption rejects it',
};
/** Learn, "Flex Consumption plan deprecations": the app fails or the deployment is rejected with these. */
const FORBIDDEN_ON_FLEX = [
  'FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_WORKER_RUNTIME_VERSION', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_NODE_DEFAULT_VERSION', 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING', 'WEBSITE_CONTENTSHARE', 'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD', 'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT', 'WEBSITE_TIME_ZONE', 'TZ',
];

const onAzure = SETTINGS.filter((s) => s.scope !== 'local').map((s) => s.key as string);
const localOnly = SETTINGS.filter((s) => s.scope === 'local').map((s) => s.key as string);

/** The text of every .ts file under `dirs` except `skip`. */
async function sourceTexts(dirs: string[], skip: string): Promise<string[]> {
  const texts: string[] = [];
  for (const dir of dirs) {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (entry.isFile() && entry.name.endsWith('.ts') && path !== skip) texts.push(await readFile(path, 'utf8'));
    }
  }
  return texts;
}

/** Every literal key src/config.ts reads from `env`, whatever the helper: fn(env, 'KEY' …), env['KEY'], env.KEY. */
function keysRead(source: string): Set<string> {
  return new Set([
    ...[...source.matchAll(/\(env,\s*'([^']+)'/g)].map((m) => m[1] ?? ''),
    ...[...source.matchAll(/env\[\s*['"]([^'"]+)['"]\s*\]/g)].map((m) => m[1] ?? ''),
    ...[...source.matchAll(/\benv\.([A-Za-z_]\w*)/g)].map((m) => m[1] ?? ''),
  ]);
}

let bicepSettings: string[];
let example: { Values: Record<string, string>; Settings: Record<string, string> };
let readByConfig: Set<string>;

/** The keys of `var appSettings = { … }` in infra/app/function.bicep: the one place app settings are written. */
function appSettingKeys(bicep: string): string[] {
  const block = /^var appSettings = \{\n([\s\S]*?)^\}/m.exec(bicep)?.[1];
  if (!block) throw new Error('infra/app/function.bicep has no `var appSettings = { … }` block');
  return [...block.matchAll(/^\s*'?([A-Za-z_][\w]*)'?\s*:/gm)].map((m) => m[1] ?? '');
}

beforeAll(async () => {
  bicepSettings = appSettingKeys(await readFile('infra/app/function.bicep', 'utf8'));
  example = JSON.parse(await readFile('local.settings.example.json', 'utf8'));
  readByConfig = keysRead(await readFile('src/config.ts', 'utf8'));
});

describe('settings: src/config.ts, infra/ and local.settings.example.json agree', () => {
  it('src/config.ts reads only keys its SETTINGS list names', () => {
    expect(readByConfig.size).toBeGreaterThan(0);
    const listed = SETTINGS.map((s) => s.key as string);
    expect([...readByConfig].filter((key) => !listed.includes(key))).toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('every listed setting is read: by loadConfig, or by the local host for its own settings', async () => {
    const others = await sourceTexts(['src', 'functions', 'local', 'cli'], 'src/config.ts');
    const unused = SETTINGS.map((s) => s.key as string)
      .filter((key) => !readByConfig.has(key) && !others.some((text) => text.includes(`'${key}'`)));
    expect(unused).toEqual([]);
  });

  it('infra sets every setting the code reads on Azure', () => {
    expect(onAzure.filter((key) => !bicepSettings.includes(key))).toEqual([]);
  });

  it('infra sets no local-only setting (emulator URL, CA, static token, connection string)', () => {
    expect(localOnly.filter((key) => bicepSettings.includes(key))).toEqual([]);
  });

  it('infra sets nothing unused: every app setting is read by Kiln or by the platform', () => {
    expect(bicepSettings.filter((key) => !onAzure.includes(key) && !(key in PLATFORM_SETTINGS))).toEqual([]);
    expect(Object.keys(PLATFORM_SETTINGS).filter((key) => !bicepSettings.includes(key))).toEqual([]);
    expect(new Set(bicepSettings).size).toBe(bicepSettings.length);
  });

  it('infra sets none of the settings Flex Consumption forbids', () => {
    expect(FORBIDDEN_ON_FLEX.filter((key) => bicepSettings.includes(key))).toEqual([]);
  });

  it('local.settings.example.json lists and documents every setting', () => {
    const listed = Object.keys(example.Values);
    const expected = [...SETTINGS.map((s) => s.key as string), ...Object.keys(LOCAL_PLATFORM_SETTINGS)];
    expect(expected.filter((key) => !listed.includes(key))).toEqual([]);
    for (const key of listed) expect(example.Settings[key], `documentation of ${key}`).toMatch(/\w{3,}/);
    expect(Object.keys(example.Settings).sort()).toEqual([...listed].sort());
  });

  it("host.json's %SETTING% references are set on Azure and locally", async () => {
    const host = await readFile('host.json', 'utf8');
    const refs = [...host.matchAll(/%([A-Za-z_]\w*)%/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(bicepSettings, `${ref} in infra`).toContain(ref);
      expect(Object.keys(example.Values), `${ref} in local.settings.example.json`).toContain(ref);
    }
  });

  it('every trigger connection has an identity-based blob endpoint on Azure', async () => {
    const files = (await readdir('functions')).filter((f) => f.endsWith('.ts'));
    const sources = await Promise.all(files.map((f) => readFile(join('functions', f), 'utf8')));
    const connections = new Set(sources.flatMap((src) => [...src.matchAll(/connection:\s*'([^']+)'/g)].map((m) => m[1] ?? '')));
    for (const connection of connections) {
      expect(bicepSettings, `${connection}__blobServiceUri in infra`).toContain(`${connection}__blobServiceUri`);
      expect(Object.keys(example.Values)).toContain(connection);
    }
  });
});
