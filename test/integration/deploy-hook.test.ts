/**
 * The azd postdeploy hook (infra/hooks/postdeploy.ts), run as azd runs it (a child process with azd's environment)
 * against the local emulator's ARM endpoint: it waits for the blobs_extension key, creates the Event Grid
 * subscription that Event Grid itself validates, is idempotent, and never prints the key.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, startTestEmulator, type TestEmulator } from './emulator-helpers.ts';

const repo = join(import.meta.dirname, '../..');
const GROUP = 'rg-kiln-prod';
const SITE = 'func-kiln-abc123';
const TOPIC = 'evgt-templates-abc123';
const WEB_API = '2024-04-01';
const EVENT_GRID_API = '2025-02-15';

let azure: TestEmulator;
let siteId: string;
let subscriptionId: string;

function runHook(env: Record<string, string | undefined>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'infra/hooks/postdeploy.ts'], {
      cwd: repo,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

function azdEnv(): Record<string, string> {
  return {
    AZURE_SUBSCRIPTION_ID: azure.emulator.subscriptionId,
    RESOURCE_GROUP: GROUP,
    AZURE_FUNCTION_APP_NAME: SITE,
    AZURE_FUNCTION_APP_URL: `https://${SITE}.azurewebsites.net`,
    TEMPLATES_EVENT_GRID_TOPIC: TOPIC,
    AZURE_RESOURCE_MANAGER_ENDPOINT: azure.emulator.armEndpoint,
    NODE_EXTRA_CA_CERTS: azure.emulator.caCertPath,
    ARM_ACCESS_TOKEN: azure.emulator.token,
    KILN_HOOK_FIRST_DELAY_MS: '20',
  };
}

async function hostKey(): Promise<string> {
  const response = await azure.resources.resources.getById(siteId, WEB_API).catch(() => undefined);
  expect(response?.name).toBe(SITE);
  const keys = await fetchJson('POST', `${siteId}/host/default/listKeys?api-version=${WEB_API}`);
  return (keys.systemKeys as Record<string, string>).blobs_extension!;
}

/** A raw ARM call through the emulator's TLS (the SDK has no Web or Event Grid client among Kiln's packages). */
async function fetchJson(method: string, path: string): Promise<Record<string, unknown>> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(`${azure.emulator.armEndpoint}${path}`, { method, ca: azure.emulator.caPem, headers: { authorization: `Bearer ${azure.emulator.token}` } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body ? (JSON.parse(body) as Record<string, unknown>) : {}));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  azure = await startTestEmulator();
  await azure.resources.resourceGroups.createOrUpdate(GROUP, { location: 'eastus' });
  siteId = azure.id(`${GROUP}/providers/Microsoft.Web/sites/${SITE}`);
  await azure.resources.resources.beginCreateOrUpdateByIdAndWait(siteId, WEB_API, { location: 'eastus', kind: 'functionapp,linux', properties: {} } as never);
  const topicId = azure.id(`${GROUP}/providers/Microsoft.EventGrid/systemTopics/${TOPIC}`);
  await azure.resources.resources.beginCreateOrUpdateByIdAndWait(topicId, EVENT_GRID_API, {
    location: 'eastus',
    properties: { source: azure.id(`${GROUP}/providers/Microsoft.Storage/storageAccounts/stkiln`), topicType: 'Microsoft.Storage.StorageAccounts' },
  } as never);
  subscriptionId = `${topicId}/eventSubscriptions/templates-created`;
});

afterAll(async () => {
  await azure?.close();
});

describe('postdeploy hook', () => {
  it('refuses to run without azd\'s environment, naming what is missing', async () => {
    const { code, out } = await runHook({ AZURE_SUBSCRIPTION_ID: 'x' });
    expect(code).toBe(1);
    expect(out).toContain('missing RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, AZURE_FUNCTION_APP_URL, TEMPLATES_EVENT_GRID_TOPIC');
  });

  it('waits out a restarting app, creates the subscription with the current key, and never prints the key', async () => {
    azure.emulator.faults.set([{ match: { operation: 'webApps.listHostKeys' }, kind: 'error500', count: 2 }]);
    const { code, out } = await runHook(azdEnv());
    azure.emulator.faults.set([]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/host keys not readable yet/);
    expect(out).toContain('creating event subscription templates-created');
    const key = await hostKey();
    expect(out).not.toContain(key);
    const stored = await fetchJson('POST', `${subscriptionId}/getFullUrl?api-version=${EVENT_GRID_API}`);
    expect(stored.endpointUrl).toBe(`https://${SITE}.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.templateDropped&code=${encodeURIComponent(key)}`);
    const subscription = await fetchJson('GET', `${subscriptionId}?api-version=${EVENT_GRID_API}`);
    expect(subscription.properties).toMatchObject({
      provisioningState: 'Succeeded',
      filter: { includedEventTypes: ['Microsoft.Storage.BlobCreated'], subjectBeginsWith: '/blobServices/default/containers/templates/' },
    });
  });

  it('changes nothing on a second run (a second azd up)', async () => {
    const { code, out } = await runHook(azdEnv());
    expect(code, out).toBe(0);
    expect(out).toContain('nothing to do');
    expect(out).not.toContain('creating');
  });

  it('is refused by Event Grid\'s handshake when the webhook carries a wrong key (what a hook reading the key too early met)', async () => {
    const error = await failure(azure.resources.resources.beginCreateOrUpdateByIdAndWait(`${subscriptionId.replace(/templates-created$/, 'early')}`, EVENT_GRID_API, {
      properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl: `https://${SITE}.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.templateDropped&code=` } } },
    } as never));
    expect(error).toMatchObject({ statusCode: 400, code: 'Url validation' });
  });
});
