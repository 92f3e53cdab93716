// What the local emulator cannot play, against a scripted ARM and a real Azurite: VHD capture (the emulator has no
// disk export) and the verdicts of Windows Run Commands (its guests run Linux only).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { BlobSASPermissions } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunCommandRef } from '../../src/activities/customize.ts';
import { pollRunCommand } from '../../src/activities/customize.ts';
import { createActivityEnvironment } from '../../src/activities/environment.ts';
import { createAzureClients, type AzureClients } from '../../src/azure/clients.ts';
import { pollVhdExport, startVhdExport, type VhdExportState } from '../../src/azure/vhd.ts';
import { loadConfig } from '../../src/config.ts';
import { startAzurite, type Azurite } from '../../local/azurite.ts';

const ARM = 'https://arm.example.test';
const DISK = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/vm-osdisk';

let home: string;
let azurite: Azurite;
let clients: AzureClients;
let config: ReturnType<typeof loadConfig>;
let sourceSas: string;
const calls: string[] = [];
/** Instance views of the Run Commands the scripted ARM knows. */
const runCommandViews: Record<string, Record<string, unknown>> = {
  'kiln-customize-01': { executionState: 'Failed', exitCode: 3010, output: 'updates installed, restart pending\n' },
  'kiln-customize-02': { executionState: 'Failed', exitCode: 1, output: 'nope\n', error: 'Install-Thing: failed\n' },
  'kiln-customize-03': { executionState: 'TimedOut', executionMessage: 'Run command timed out after 3600 s' },
};

/** Compute as the export needs it: the VM's disk id, grantAccess (202 + Location, then the SAS) and revokeAccess. */
const fakeArm: HttpClient = {
  async sendRequest(request: PipelineRequest) {
    const url = new URL(request.url);
    calls.push(`${request.method} ${url.pathname.split('/').slice(-1)[0]}`);
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => ({
      request,
      status,
      headers: createHttpHeaders({ 'content-type': 'application/json', ...headers }),
      bodyAsText: body === undefined ? '' : JSON.stringify(body),
    });
    const runCommand = /\/runCommands\/([^/]+)$/.exec(url.pathname)?.[1];
    if (request.method === 'GET' && runCommand && runCommandViews[runCommand]) {
      return reply(200, { name: runCommand, location: 'eastus', properties: { provisioningState: 'Succeeded', instanceView: runCommandViews[runCommand] } });
    }
    if (request.method === 'GET' && url.pathname.endsWith('/virtualMachines/vm')) {
      return reply(200, { name: 'vm', location: 'eastus', properties: { storageProfile: { osDisk: { createOption: 'FromImage', managedDisk: { id: DISK } } } } });
    }
    if (request.method === 'POST' && url.pathname.endsWith('/beginGetAccess')) return reply(202, undefined, { location: `${ARM}/subscriptions/s/providers/Microsoft.Compute/locations/eastus/operations/grant?monitor=true&api-version=2025-01-02` });
    if (url.pathname.endsWith('/operations/grant')) return reply(200, { accessSAS: sourceSas });
    if (request.method === 'POST' && url.pathname.endsWith('/endGetAccess')) return reply(200);
    return reply(404, { error: { code: 'NotFound', message: url.pathname } });
  },
};

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kiln-vhd-'));
  azurite = await startAzurite({ location: join(home, 'azurite'), port: 0 });
  config = loadConfig({ KILN_SUBSCRIPTION_ID: 's', KILN_ARM_ENDPOINT: ARM, KILN_STATIC_TOKEN: 't', AzureWebJobsStorage: azurite.connectionString });
  clients = createAzureClients(config, { httpClient: fakeArm });
  const disks = clients.blobs.getContainerClient('disks');
  await disks.createIfNotExists();
  await disks.getBlockBlobClient('osdisk.vhd').upload('VHD-CONTENT', 11);
  sourceSas = await disks.getBlobClient('osdisk.vhd').generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3_600_000) });
});

afterAll(async () => {
  await azurite?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('VHD capture', () => {
  it('copies the OS disk into the target blob, keeps the SAS out of its state, and revokes access', async () => {
    const targetUri = `${clients.blobs.url}/vhds/run-1.vhd`;
    let state = await startVhdExport(clients, { resourceGroup: 'rg', vmName: 'vm', targetUri });
    expect(state).toMatchObject({ diskId: DISK, phase: 'grant', targetUri });
    for (let i = 0; i < 50 && state; i++) {
      const status = await pollVhdExport(clients, JSON.parse(JSON.stringify(state)) as VhdExportState);
      expect(JSON.stringify(status)).not.toContain(sourceSas.split('?')[1]);
      state = status.done ? undefined : status.state;
    }
    expect(state).toBeUndefined();
    expect((await clients.blobs.getContainerClient('vhds').getBlobClient('run-1.vhd').downloadToBuffer()).toString()).toBe('VHD-CONTENT');
    expect(calls).toContain('POST endGetAccess');
    // A repeated capture finds the copy complete and starts nothing.
    expect(await startVhdExport(clients, { resourceGroup: 'rg', vmName: 'vm', targetUri })).toBeUndefined();
  });
});

describe('Windows Run Command verdicts', () => {
  const ref = (name: string): RunCommandRef => ({
    kind: 'run-command',
    resourceId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/runCommands/${name}`,
    runId: 'win-20261125T131900Z-0001',
    resourceGroup: 'rg',
    vm: 'vm',
    name,
    phase: 'customize',
    step: name,
    stepType: 'PowerShell',
    location: 'eastus',
    validExitCodes: [0, 3010],
    secretRefs: {},
    restartCheck: null,
  });

  it('counts an exit code listed in validExitCodes as success, whatever the execution state says', async () => {
    expect(await pollRunCommand(createActivityEnvironment(config, clients), ref('kiln-customize-01'))).toEqual({ state: 'Succeeded' });
  });

  it('fails other exit codes and timeouts with the code, the state and the output', async () => {
    const env = createActivityEnvironment(config, clients);
    expect(await pollRunCommand(env, ref('kiln-customize-02'))).toMatchObject({
      state: 'Failed',
      error: { code: 'ScriptFailed', exitCode: 1, lastLines: ['nope', 'Install-Thing: failed'], message: expect.stringContaining('failed: Failed, exit code 1') },
    });
    expect(await pollRunCommand(env, ref('kiln-customize-03'))).toMatchObject({
      state: 'Failed',
      error: { code: 'ScriptTimedOut', message: expect.stringContaining('(Run command timed out after 3600 s)') },
    });
  });
});
