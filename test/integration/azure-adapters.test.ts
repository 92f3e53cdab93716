// The bake activities and the Azure adapters under them, through the real SDK clients against the local emulator
// and Azurite: every step of ubuntu-web in order, the request bodies they send (approved file), failures and faults.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { BlobClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginCapture } from '../../src/activities/capture.ts';
import type { BakePlan, OperationStatus } from '../../src/activities/contracts.ts';
import { beginCustomizer } from '../../src/activities/customize.ts';
import { createActivityEnvironment, setActivityEnvironment } from '../../src/activities/environment.ts';
import { beginDeallocate, beginDeprovision, generalizeVm } from '../../src/activities/generalize.ts';
import { sweepExpiredStagingGroups } from '../../src/activities/janitor.ts';
import { MASK } from '../../src/activities/masking.ts';
import { planBake } from '../../src/activities/plan.ts';
import { pollOperation } from '../../src/activities/poll.ts';
import { beginPromote } from '../../src/activities/promote.ts';
import { beginReplication, readReplication } from '../../src/activities/replicate.ts';
import { beginInstanceUpgrade, beginScaleSetModel, readInstances, readScaleSet } from '../../src/activities/rollout.ts';
import { beginDeleteStagingGroup, createStagingGroup } from '../../src/activities/stage-group.ts';
import { beginStagingNetwork } from '../../src/activities/stage-network.ts';
import { beginStagingVm, buildVmOptions } from '../../src/activities/stage-vm.ts';
import { stagingNames } from '../../src/activities/naming.ts';
import { createAzureClients, type AzureClients } from '../../src/azure/clients.ts';
import { getImageVersion } from '../../src/azure/galleries.ts';
import { RUN_COMMAND_OUTPUT_CONTAINER } from '../../src/azure/runCommandBlobs.ts';
import { openUploadsContainer, storeUpload } from '../../src/azure/uploads.ts';
import { getVmState } from '../../src/azure/virtualMachines.ts';
import { loadConfig } from '../../src/config.ts';
import { startAzureEmulator, type AzureEmulator } from '../../local/azure/index.ts';
import { startAzurite, type Azurite } from '../../local/azurite.ts';
import { localAzureSettings } from '../../local/default.ts';
import { openRunStore } from '../../src/runs/store.ts';
import { parseTemplate } from '../../src/template/index.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { UPLOADS_CONTAINER, uploadBlobName, uploadUri } from '../../src/template/uploads.ts';
import { readVhdFooter } from '../support/vhd.ts';

const NOW = '2026-11-25T13:19:00.000Z';
/** The step time the bake would give each script here (its Run Command's timeoutInSeconds: 3600). */
const HOUR = 3_600_000;
const WEB_VMSS = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss';

let home: string;
let emulator: AzureEmulator;
let azurite: Azurite;
let clients: AzureClients;
/** Every write request the adapters sent: method, path, body. */
const sent: Array<{ method: string; path: string; body: unknown }> = [];
/** Every ARM request, reads too. */
let armRequests = 0;

const recorder: PipelinePolicy = {
  name: 'record-writes',
  async sendRequest(request, next) {
    armRequests++;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const url = new URL(request.url);
      sent.push({ method: request.method, path: url.pathname.replace(/\/{2,}/g, '/'), body: typeof request.body === 'string' ? JSON.parse(request.body) : null });
    }
    return next(request);
  },
};

function template(file: string, edit: (t: { properties: Record<string, unknown> }) => void = () => {}): BakeSpec {
  const json = JSON.parse(readFileSync(join('examples', file), 'utf8').replaceAll('https://127.0.0.1:8443', emulator.armEndpoint));
  edit(json);
  const parsed = parseTemplate(json);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

/** Polls like the orchestration does (without the durable timers) until the operation leaves InProgress. */
async function settle(status: OperationStatus | Promise<OperationStatus>): Promise<OperationStatus> {
  let current = await status;
  // A deadline in time, not in looks: real scripts in guests take longer on a loaded machine.
  const deadline = Date.now() + 60_000;
  while (current.state === 'InProgress') {
    if (Date.now() > deadline) throw new Error(`still in progress after 60 s: ${JSON.stringify(current)}`);
    await new Promise((r) => setTimeout(r, 10));
    current = await pollOperation(current.operation);
  }
  return current;
}

async function plan(runId: string, spec: BakeSpec): Promise<BakePlan> {
  const out = await planBake({ runId, spec, now: NOW });
  if (!out.ok) throw new Error(JSON.stringify(out.error));
  return out.value;
}

/** Plan, group, network and VM: what every customizer test needs first. */
async function staged(runId: string, spec: BakeSpec): Promise<BakePlan> {
  const p = await plan(runId, spec);
  expect(await createStagingGroup({ plan: p, templateName: spec.name })).toEqual({ state: 'Succeeded' });
  // As the orchestration does: a network only where the template gave no subnet.
  if (p.staging.createNetwork) expect(await settle(beginStagingNetwork({ plan: p }))).toEqual({ state: 'Succeeded' });
  expect(await settle(beginStagingVm({ plan: p, spec }))).toEqual({ state: 'Succeeded' });
  return p;
}

/** The recorded writes with what differs between runs (ports, SAS, throwaway keys, secret values) replaced. */
function approvedShape(writes: typeof sent): string {
  const text = JSON.stringify(writes, null, 2)
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/(\.std(?:out|err))\?[^"]*/g, '$1?<sas>')
    .replace(/ssh-rsa [A-Za-z0-9+/=]+ kiln-build-vm/g, 'ssh-rsa <throwaway-key> kiln-build-vm')
    .replace(/"adminPassword": "[^"]+"/g, '"adminPassword": "<throwaway-password>"');
  return `${text}\n`;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kiln-adapters-'));
  // Disk access publishes into Azurite, so Azurite comes first.
  azurite = await startAzurite({ location: join(home, 'azurite'), port: 0 });
  emulator = await startAzureEmulator({ home: join(home, 'azure'), profile: 'zero', seedFile: 'local/environment.json', filesDir: 'examples/files', diskAccessStorage: azurite.connectionString });
  const config = loadConfig({
    ...localAzureSettings(emulator, azurite.connectionString),
    KILN_POLL_MIN_MS: '10',
    KILN_POLL_MAX_MS: '100',
  });
  clients = createAzureClients(config, { additionalPolicies: [recorder] });
  setActivityEnvironment(createActivityEnvironment(config, clients));
});

afterAll(async () => {
  setActivityEnvironment(undefined);
  await Promise.all([emulator?.close(), azurite?.close()]);
  rmSync(home, { recursive: true, force: true });
});

describe('ubuntu-web, step by step', () => {
  it('stages, customizes, validates, generalizes, captures, replicates, promotes, rolls out and cleans up', async () => {
    const spec = template('ubuntu-web.json');
    const runId = 'ubuntu-web-20261125T131900Z-0001';
    sent.length = 0;

    const p = await plan(runId, spec);
    expect(p).toMatchObject({ osType: 'Linux', location: 'eastus', staging: { createdByKiln: true, createNetwork: true } });
    const [dist] = p.distributions;
    expect(dist).toMatchObject({ type: 'SharedImage', version: '1.0.1' }); // the seed holds 1.0.0

    await staged(runId, spec);
    const group = await clients.resources.resourceGroups.get(p.staging.resourceGroupName);
    expect(group.tags).toMatchObject({ 'kiln-managed': 'true', 'kiln-run-id': runId, 'kiln-expires-at': p.staging.expiresAt });
    // Repeats find everything in place and send nothing new.
    const writesBefore = sent.length;
    expect(await beginStagingNetwork({ plan: p })).toEqual({ state: 'Succeeded' });
    expect(await beginStagingVm({ plan: p, spec })).toEqual({ state: 'Succeeded' });
    expect(sent.length).toBe(writesBefore);

    for (const index of [0, 1]) expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    expect(await settle(beginCustomizer({ plan: p, spec, phase: 'validate', index: 0, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    const logs = await (await openRunStore(clients.blobs)).readLogs(runId);
    expect(logs.map((l) => l.step)).toEqual(['customize', 'validate']);
    expect(logs[0]!.text).toMatch(/customize web-content succeeded[\s\S]*customize robots succeeded/);

    expect(await settle(beginDeprovision({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect((await getVmState(clients, p.staging.resourceGroupName, p.staging.vmName)).powerState).toBe('stopped');
    expect(await settle(beginDeallocate({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await generalizeVm({ plan: p })).toEqual({ state: 'Succeeded' });
    expect(await generalizeVm({ plan: p })).toEqual({ state: 'Succeeded' });

    expect(await settle(beginCapture({ plan: p, spec, distribution: 0 }))).toEqual({ state: 'Succeeded' });
    const versionId = dist!.type === 'SharedImage' ? dist!.imageVersionId : '';
    expect((await getImageVersion(clients, versionId))?.publishingProfile?.excludeFromLatest).toBe(true);
    expect(await settle(beginReplication({ imageVersionId: versionId, regions: dist!.type === 'SharedImage' ? dist!.regions : [] }))).toEqual({ state: 'Succeeded' });
    for (const region of ['eastus', 'westeurope']) {
      expect(await readReplication({ imageVersionId: versionId, region })).toEqual({ ok: true, value: { state: 'Completed', percent: 100 } });
    }
    expect(await settle(beginPromote({ imageVersionId: versionId, excludeFromLatest: false }))).toEqual({ state: 'Succeeded' });
    expect((await getImageVersion(clients, versionId))?.publishingProfile?.excludeFromLatest).toBe(false);

    const before = await readScaleSet({ scaleSetId: WEB_VMSS });
    const previous = { id: expect.stringMatching(/ubuntu-web\/versions\/1\.0\.0$/) };
    expect(before).toMatchObject({
      ok: true,
      value: { image: previous, orchestrationMode: 'Uniform', upgradeMode: 'Manual', automaticOSUpgrade: false, healthSource: 'ApplicationHealthExtension' },
    });
    expect(before.ok && before.value.instances.map((i) => [i.instanceId, i.onImage])).toEqual([['0', true], ['1', true], ['2', true]]);
    const image = { id: versionId };
    expect(await settle(beginScaleSetModel({ scaleSetId: WEB_VMSS, image }))).toEqual({ state: 'Succeeded' });
    expect(await settle(beginInstanceUpgrade({ scaleSetId: WEB_VMSS, instanceIds: ['0'], image }))).toEqual({ state: 'Succeeded' });
    const members = await readInstances({ scaleSetId: WEB_VMSS, orchestrationMode: 'Uniform', image });
    expect(members).toMatchObject({ ok: true, value: [{ instanceId: '0', onImage: true, health: 'Healthy' }, { instanceId: '1', onImage: false }, { instanceId: '2', onImage: false }] });
    // The customizations are in the image: the upgraded instance serves the baked page.
    expect((await emulator.readDiskFile(`${WEB_VMSS}/virtualMachines/0`, '/var/www/html/robots.txt'))?.toString()).toBe(readFileSync('examples/files/robots.txt', 'utf8'));

    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect((await clients.resources.resourceGroups.checkExistence(p.staging.resourceGroupName)).body).toBe(false);
    // Cleanup's begin after the delete sent at capture: the group is gone, so one look answers it (no DELETE).
    const [writesBeforeCleanup, requestsBeforeCleanup] = [sent.length, armRequests];
    expect(await beginDeleteStagingGroup({ plan: p })).toEqual({ state: 'Succeeded' });
    expect(sent.slice(writesBeforeCleanup)).toEqual([]);
    expect(armRequests - requestsBeforeCleanup).toBe(1);

    await expect(approvedShape(sent)).toMatchFileSnapshot('approved/ubuntu-web.requests.approved.json');
  });
});

describe('windows-base', () => {
  it('sends a Windows VM with a throwaway password, PowerShell steps, detached restarts and a detached sysprep', async () => {
    const spec = template('windows-base.json');
    const runId = 'windows-base-20261125T131900Z-0005';
    sent.length = 0;
    const p = await staged(runId, spec);
    expect(p.osType).toBe('Windows');
    const statuses = [];
    for (const index of spec.customizers.keys()) statuses.push(await beginCustomizer({ plan: p, spec, phase: 'customize', index, limitMs: HOUR }));
    statuses.push(await beginCustomizer({ plan: p, spec, phase: 'validate', index: 0, limitMs: HOUR }));
    statuses.push(await beginDeprovision({ plan: p }));
    expect(statuses.map((s) => s.state)).toEqual(Array(statuses.length).fill('InProgress'));

    const vmPut = sent.find((w) => w.method === 'PUT' && w.path.endsWith(`/virtualMachines/${p.staging.vmName}`));
    const password = (vmPut?.body as { properties: { osProfile: { adminPassword: string } } }).properties.osProfile.adminPassword;
    expect(password).toMatch(/^Kn!.{32}$/);
    expect(JSON.stringify(statuses)).not.toContain(password);
    await expect(approvedShape(sent.filter((w) => !w.path.includes('/resourcegroups/') && !w.path.includes('Microsoft.Network')))).toMatchFileSnapshot(
      'approved/windows-base.requests.approved.json',
    );
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });
});

describe('a gallery source, a given network and group, a managed image output', () => {
  it('builds in the given group and subnet, captures a managed image, and deletes only what Kiln made', async () => {
    const sub = emulator.subscriptionId;
    const byoVnet = `/subscriptions/${sub}/resourceGroups/byo-network/providers/Microsoft.Network/virtualNetworks/corp`;
    await clients.resources.resourceGroups.createOrUpdate('byo-network', { location: 'eastus' });
    await clients.resources.resourceGroups.createOrUpdate('byo-staging', { location: 'eastus', tags: { owner: 'platform' } });
    await clients.resources.resources.createOrUpdateById(byoVnet.slice(1), '2024-05-01', {
      location: 'eastus',
      properties: { addressSpace: { addressPrefixes: ['10.9.0.0/16'] }, subnets: [{ name: 'builds', properties: { addressPrefix: '10.9.1.0/24' } }] },
    });
    const imageId = `/subscriptions/${sub}/resourceGroups/kiln-images/providers/Microsoft.Compute/images/ubuntu-web-managed`;
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['source'] = { type: 'SharedImageVersion', imageVersionId: `/subscriptions/${sub}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.0` };
      t.properties['vmProfile'] = { vmSize: 'Standard_D2ds_v4', vnetConfig: { subnetId: `${byoVnet}/subnets/builds` } };
      t.properties['stagingResourceGroup'] = `/subscriptions/${sub}/resourceGroups/byo-staging`;
      t.properties['distribute'] = [{ type: 'ManagedImage', imageId, location: 'eastus', runOutputName: 'managed' }];
      delete t.properties['rollout'];
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0006', spec);
    expect(p).toMatchObject({ sourceVersion: '1.0.0', build: { sourceIsSpecialized: false }, staging: { resourceGroupName: 'byo-staging', createdByKiln: false, createNetwork: false, subnetId: `${byoVnet}/subnets/builds` } });
    expect((await clients.resources.resourceGroups.get('byo-staging')).tags).toEqual({ owner: 'platform' });
    // The VM's NIC and OS disk are resources in the group, untagged as on Azure; a repeated step still knows them.
    const staging = async () => { const types: string[] = []; for await (const r of clients.resources.resources.listByResourceGroup('byo-staging')) types.push(r.type!); return types.sort(); };
    expect(await staging()).toEqual(['Microsoft.Compute/disks', 'Microsoft.Compute/virtualMachines', 'Microsoft.Network/networkInterfaces']);
    expect(await createStagingGroup({ plan: p, templateName: spec.name })).toEqual({ state: 'Succeeded' });
    const vm = await clients.compute.virtualMachines.get('byo-staging', p.staging.vmName);
    expect(vm.storageProfile?.imageReference?.id).toMatch(/ubuntu-web\/versions\/1\.0\.0$/);

    expect(await settle(beginDeprovision({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await settle(beginDeallocate({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await generalizeVm({ plan: p })).toEqual({ state: 'Succeeded' });
    // A capture whose operation fails leaves a Failed image; beginning again deletes it and captures anew.
    emulator.faults.set([{ match: { operation: 'images.createOrUpdate' }, kind: 'lroFailed', code: 'InternalExecutionError', count: 1 }]);
    expect(await settle(beginCapture({ plan: p, spec, distribution: 0 }))).toMatchObject({ state: 'Failed', error: { code: 'ProvisioningFailed', retryable: true, resourceId: imageId } });
    emulator.faults.clear();
    expect(await settle(beginCapture({ plan: p, spec, distribution: 0 }))).toEqual({ state: 'Succeeded' });
    const image = await clients.compute.images.get('kiln-images', 'ubuntu-web-managed');
    expect(image.sourceVirtualMachine?.id?.toLowerCase()).toBe(p.staging.vmId.toLowerCase());
    // As AIB does: the template's tags go on the image it makes, with the run id.
    expect(image.tags).toEqual({ team: 'web', os: 'linux', 'kiln-run-id': p.runId });
    expect(await beginCapture({ plan: p, spec, distribution: 0 })).toEqual({ state: 'Succeeded' });

    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect((await getVmState(clients, 'byo-staging', p.staging.vmName)).exists).toBe(false);
    expect((await clients.resources.resourceGroups.checkExistence('byo-staging')).body).toBe(true);
    // Nothing of Kiln's is left: the NIC and OS disk went with the VM (deleteOption Delete), so the subnet is free again.
    expect(await staging()).toEqual([]);
    expect((await clients.resources.resources.checkExistenceById(byoVnet.slice(1), '2024-05-01')).body).toBe(true);
  });

  it('creates a named staging group that does not exist, tags everything it stages, and deletes the group after', async () => {
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['stagingResourceGroup'] = `/subscriptions/${emulator.subscriptionId}/resourceGroups/not-there`;
      t.properties['managedResourceTags'] = { costCenter: 'cc-42', team: 'platform' };
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0007', spec);
    expect(p.staging).toMatchObject({ resourceGroupName: 'not-there', createdByKiln: false });
    const group = await clients.resources.resourceGroups.get('not-there');
    expect(group.location).toBe('eastus');
    // The template's tags, then managedResourceTags (which win over them), then Kiln's own.
    expect(group.tags).toMatchObject({ team: 'platform', os: 'linux', costCenter: 'cc-42', 'kiln-managed': 'true', 'kiln-run-id': p.runId });
    const vm = await clients.compute.virtualMachines.get('not-there', p.staging.vmName);
    expect(vm.tags).toEqual({ team: 'platform', os: 'linux', costCenter: 'cc-42', 'kiln-run-id': p.runId });
    const names = stagingNames(p.runId, 'not-there');
    const vnet = await clients.resources.resources.getById(`subscriptions/${emulator.subscriptionId}/resourceGroups/not-there/providers/Microsoft.Network/virtualNetworks/${names.vnet}`, '2024-05-01');
    expect(vnet.tags).toMatchObject({ costCenter: 'cc-42', 'kiln-run-id': p.runId });

    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect((await clients.resources.resourceGroups.checkExistence('not-there')).body).toBe(false);
  });

  it('refuses a named staging group that is not empty', async () => {
    await clients.resources.resourceGroups.createOrUpdate('busy-staging', { location: 'eastus' });
    const nsg = `/subscriptions/${emulator.subscriptionId}/resourceGroups/busy-staging/providers/Microsoft.Network/networkSecurityGroups/someone-elses`;
    await clients.resources.resources.beginCreateOrUpdateByIdAndWait(nsg.slice(1), '2024-05-01', { location: 'eastus', properties: {} });
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['stagingResourceGroup'] = `/subscriptions/${emulator.subscriptionId}/resourceGroups/busy-staging`;
    });
    const p = await plan('ubuntu-web-20261125T131900Z-0011', spec);
    expect(await createStagingGroup({ plan: p, templateName: spec.name })).toMatchObject({
      state: 'Failed',
      error: { code: 'StagingResourceGroupNotEmpty', message: expect.stringContaining('must be empty; it holds 1 resource (networkSecurityGroups/someone-elses)'), retryable: false },
    });
  });

  it('refuses a named staging group in another region', async () => {
    await clients.resources.resourceGroups.createOrUpdate('far-away', { location: 'westeurope' });
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['stagingResourceGroup'] = `/subscriptions/${emulator.subscriptionId}/resourceGroups/far-away`;
    });
    const p = await plan('ubuntu-web-20261125T131900Z-0008', spec);
    expect(await createStagingGroup({ plan: p, templateName: spec.name })).toMatchObject({
      state: 'Failed',
      error: { code: 'StagingResourceGroupLocationMismatch', message: expect.stringContaining('is in westeurope'), retryable: false },
    });
  });
});

describe('limits', () => {
  it('keeps a VM under the Run Command limit over many steps, and keeps the gallery region when replicating elsewhere', async () => {
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['customize'] = Array.from({ length: 12 }, (_, i) => ({ type: 'Shell', name: `step-${i + 1}`, inline: [`echo step ${i + 1}`] }));
      delete t.properties['validate'];
      (t.properties['distribute'] as Array<Record<string, unknown>>)[0]!['targetRegions'] = [{ name: 'westeurope', replicaCount: 1 }];
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0009', spec);
    for (const index of spec.customizers.keys()) expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    const names: string[] = [];
    for await (const rc of clients.compute.virtualMachineRunCommands.listByVirtualMachine(p.staging.resourceGroupName, p.staging.vmName)) names.push(rc.name!);
    expect(names.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `kiln-customize-${String(i + 3).padStart(2, '0')}`));

    expect(await settle(beginDeprovision({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await settle(beginDeallocate({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await generalizeVm({ plan: p })).toEqual({ state: 'Succeeded' });
    expect(await settle(beginCapture({ plan: p, spec, distribution: 0 }))).toEqual({ state: 'Succeeded' });
    const dist = p.distributions[0]!;
    if (dist.type !== 'SharedImage') throw new Error('expected a SharedImage distribution');
    expect(await settle(beginReplication({ imageVersionId: dist.imageVersionId, regions: dist.regions }))).toEqual({ state: 'Succeeded' });
    const regions = (await getImageVersion(clients, dist.imageVersionId))?.publishingProfile?.targetRegions?.map((r) => r.name);
    // Azure names target regions by display name.
    expect(regions).toEqual(['East US', 'West Europe']);

    // This version is not promoted, so "latest" of ubuntu-web is still the one the first test promoted (1.0.1).
    expect(dist.version).toBe('1.0.2');
    const fromLatest = template('ubuntu-web.json', (t) => {
      t.properties['source'] = { type: 'SharedImageVersion', imageVersionId: dist.galleryImageId };
    });
    const next = await plan('ubuntu-web-20261125T131900Z-0010', fromLatest);
    expect(next.sourceVersion).toBe('1.0.1');
    expect(buildVmOptions(next, fromLatest, emulator.subscriptionId).image).toEqual({ kind: 'galleryVersion', id: `${dist.galleryImageId}/versions/1.0.1` });
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });
});

describe('failures', () => {
  it('fails a customizer that exits 3 with its exit code and masked last lines, and keeps the secret out of the log', async () => {
    const spec = template('app-with-secret.json', (t) => {
      const customize = t.properties['customize'] as Array<Record<string, unknown>>;
      customize[0]!['inline'] = ['seq 1 2000', 'echo "connecting with $DB_PASSWORD"', 'echo "giving up" >&2', 'exit 3'];
    });
    const runId = 'app-with-secret-20261125T131900Z-0002';
    const p = await staged(runId, spec);
    sent.length = 0;
    const status = await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index: 0, limitMs: HOUR }));
    const secret = (await clients.secrets('kiln-secrets').getSecret('db-password')).value!;

    const put = sent.find((w) => w.method === 'PUT' && w.path.includes('/runCommands/'));
    expect((put?.body as { properties: { protectedParameters: unknown } }).properties.protectedParameters).toEqual([{ name: 'DB_PASSWORD', value: secret }]);
    expect(JSON.stringify((put?.body as { properties: { source: unknown } }).properties.source)).not.toContain(secret);

    expect(status).toMatchObject({ state: 'Failed', error: { code: 'ScriptFailed', exitCode: 3, retryable: false } });
    const error = status.state === 'Failed' ? status.error : undefined;
    expect(error?.message).toContain('customize step "app-config" failed: Failed, exit code 3');
    expect(error?.lastLines).toHaveLength(20);
    expect(error?.lastLines?.slice(-3)).toEqual(['2000', `connecting with ${MASK}`, 'giving up']);
    expect(JSON.stringify(status)).not.toContain(secret);

    const log = (await (await openRunStore(clients.blobs)).readLogs(runId)).map((l) => l.text).join('');
    expect(log).toContain(`connecting with ${MASK}`);
    // The whole output (about 9 KB), not the instance view's 4 KB tail, reached the log.
    expect(log).toMatch(/started\n1\n2\n3\n[\s\S]*\n2000\n/);
    expect(log).toContain('stderr| giving up\n');
    expect(log).not.toContain(secret);
    // The unmasked blobs are gone once the masked copy is in the log.
    const leftovers = [];
    for await (const b of clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).listBlobsFlat({ prefix: `${runId}/` })) leftovers.push(b.name);
    expect(leftovers).toEqual([]);
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });

  it('refuses a secret that is not in the vault at plan, and fails a customizer whose secret went missing since, naming the reference', async () => {
    const spec = template('app-with-secret.json', (t) => {
      t.properties['secrets'] = { DB_PASSWORD: { vault: 'kiln-secrets', name: 'no-such-secret' } };
    });
    expect(await planBake({ runId: 'app-with-secret-20261125T131900Z-0008', spec, now: NOW })).toEqual({
      ok: false,
      error: { code: 'PreflightFailed', message: "preflight found 1 problem; nothing was created:\nproperties.secrets.DB_PASSWORD: secret no-such-secret in vault kiln-secrets: Kiln's identity cannot read it (404 SecretNotFound)", retryable: false },
    });
    // Planned while the secret was readable; the customizer then meets the missing one.
    const p = await plan('app-with-secret-20261125T131900Z-0008', template('app-with-secret.json'));
    expect(await beginCustomizer({ plan: p, spec, phase: 'customize', index: 0, limitMs: HOUR })).toEqual({
      state: 'Failed',
      error: { code: 'SecretNotFound', message: 'secret DB_PASSWORD (vault kiln-secrets, name no-such-secret): could not be read (404 SecretNotFound)', retryable: false },
    });
  });

  it('plans nothing for a gallery image definition that does not exist, naming it', async () => {
    const missing = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/nope';
    const spec = template('ubuntu-web.json', (t) => {
      (t.properties['distribute'] as Array<Record<string, unknown>>)[0]!['galleryImageId'] = missing;
    });
    expect(await planBake({ runId: 'ubuntu-web-20261125T131900Z-0003', spec, now: NOW })).toEqual({
      ok: false,
      error: { code: 'PreflightFailed', message: `preflight found 1 problem; nothing was created:\nproperties.distribute[0].galleryImageId: gallery image definition ${missing} does not exist`, retryable: false },
    });
  });

  it('throws throttling for the orchestration to retry, and returns a failed LRO as retryable', async () => {
    const spec = template('ubuntu-web.json');
    const p = await plan('ubuntu-web-20261125T131900Z-0004', spec);
    emulator.faults.set([{ match: { operation: 'resourceGroups.createOrUpdate' }, kind: 'throttle', retryAfterSeconds: 0 }]);
    await expect(createStagingGroup({ plan: p, templateName: spec.name })).rejects.toMatchObject({ name: 'TransientAzureError', statusCode: 429 });
    emulator.faults.clear();
    expect(await createStagingGroup({ plan: p, templateName: spec.name })).toEqual({ state: 'Succeeded' });
    expect(await settle(beginStagingNetwork({ plan: p }))).toEqual({ state: 'Succeeded' });

    emulator.faults.set([{ match: { operation: 'virtualMachines.createOrUpdate' }, kind: 'lroFailed', count: 1 }]);
    const failed = await settle(beginStagingVm({ plan: p, spec }));
    expect(failed).toMatchObject({ state: 'Failed', error: { code: 'AllocationFailed', retryable: true, resourceId: p.staging.vmId } });
    // Beginning again (what the orchestration does with a retryable failure) creates the VM.
    expect(await settle(beginStagingVm({ plan: p, spec }))).toEqual({ state: 'Succeeded' });
    emulator.faults.clear();
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });
});

describe('janitor', () => {
  it('deletes expired Kiln staging groups and leaves live ones and foreign ones alone', async () => {
    const tags = (expiresAt: string) => ({ 'kiln-managed': 'true', 'kiln-expires-at': expiresAt });
    await clients.resources.resourceGroups.createOrUpdate('kiln-staging-expired', { location: 'eastus', tags: tags('2026-11-25T10:00:00.000Z') });
    await clients.resources.resourceGroups.createOrUpdate('kiln-staging-live', { location: 'eastus', tags: tags('2026-11-26T10:00:00.000Z') });
    await clients.resources.resourceGroups.createOrUpdate('someone-elses', { location: 'eastus', tags: { 'kiln-expires-at': '2020-01-01T00:00:00.000Z' } });
    const result = await sweepExpiredStagingGroups(new Date(NOW), clients);
    expect(result.deleting).toEqual(['kiln-staging-expired']);
    for (let i = 0; i < 200 && (await clients.resources.resourceGroups.checkExistence('kiln-staging-expired')).body; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await clients.resources.resourceGroups.checkExistence('kiln-staging-expired')).body).toBe(false);
    expect((await clients.resources.resourceGroups.checkExistence('kiln-staging-live')).body).toBe(true);
    expect((await clients.resources.resourceGroups.checkExistence('someone-elses')).body).toBe(true);
  });
});

describe('a VHD output', () => {
  it('exports the generalized OS disk through disk access and a copy in storage: a fixed VHD holding the customized files', async () => {
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['distribute'] = [{ type: 'VHD', runOutputName: 'vhd' }];
      delete t.properties['rollout'];
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0011', spec);
    for (const [index] of spec.customizers.entries()) expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index, limitMs: HOUR }))).toMatchObject({ state: 'Succeeded' });
    const diskName = (await clients.compute.virtualMachines.get(p.staging.resourceGroupName, p.staging.vmName)).storageProfile!.osDisk!.managedDisk!.id!.split('/').pop()!;
    // Azure gives no access to the disk of a running VM.
    await expect(clients.compute.disks.grantAccess(p.staging.resourceGroupName, diskName, { access: 'Read', durationInSeconds: 60 }).pollUntilDone())
      .rejects.toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    expect(await settle(beginDeprovision({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await settle(beginDeallocate({ plan: p }))).toEqual({ state: 'Succeeded' });
    expect(await generalizeVm({ plan: p })).toEqual({ state: 'Succeeded' });

    const dist = p.distributions[0]!;
    if (dist.type !== 'VHD') throw new Error('expected a VHD distribution');
    const [container, ...name] = new URL(dist.uri).pathname.split('/').filter(Boolean).slice(1);
    const target = clients.blobs.getContainerClient(container!).getBlobClient(name.join('/'));
    // An earlier bake's VHD at the same uri (a complete copy of another disk) is replaced, not taken for this one.
    await clients.blobs.getContainerClient(container!).createIfNotExists();
    const earlier = clients.blobs.getContainerClient(container!).getBlockBlobClient('earlier-bake.vhd');
    await earlier.upload('an earlier bake', 15);
    await (await target.beginCopyFromURL(earlier.url, { metadata: { kilnsourcedisk: '/subscriptions/x/disks/an-earlier-staging-disk' } })).pollUntilDone();
    expect((await target.getProperties()).copyStatus).toBe('success');

    expect(await settle(beginCapture({ plan: p, spec, distribution: 0 }))).toEqual({ state: 'Succeeded' });
    const vhd = await target.downloadToBuffer();
    expect(readVhdFooter(vhd)).toEqual({ cookie: 'conectix', diskType: 2, currentSize: vhd.length - 512 });
    expect((vhd.length - 512) % (1024 * 1024)).toBe(0);
    // The payload is the disk's files: the customizer's page is in it.
    expect(vhd.includes(Buffer.from('Served by a Kiln image'))).toBe(true);
    // Access was revoked once the copy was done.
    expect((await clients.compute.disks.get(p.staging.resourceGroupName, diskName)).diskState).toBe('Reserved');
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });
});

describe('disk access', () => {
  it('exports two same-named disks in different groups as distinct VHDs: revoking one leaves the other', async () => {
    const sasOf: Record<string, string> = {};
    for (const group of ['twin-disk-a', 'twin-disk-b']) {
      await clients.resources.resourceGroups.createOrUpdate(group, { location: 'eastus' });
      const vnetId = `/subscriptions/${clients.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Network/virtualNetworks/vnet`;
      await clients.resources.resources.beginCreateOrUpdateByIdAndWait(vnetId.slice(1), '2024-05-01', {
        location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }] },
      }, { updateIntervalInMs: 10 });
      await clients.compute.virtualMachines.beginCreateOrUpdateAndWait(group, 'twin', {
        location: 'eastus',
        hardwareProfile: { vmSize: 'Standard_D2s_v5' },
        storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' }, osDisk: { name: 'twin-os', createOption: 'FromImage' } },
        osProfile: { computerName: 'twin', adminUsername: 'azureuser', adminPassword: 'Secret-Passw0rd!' },
        networkProfile: { networkApiVersion: '2022-11-01', networkInterfaceConfigurations: [{ name: 'twin-nic', primary: true, deleteOption: 'Delete', ipConfigurations: [{ name: 'ip', subnet: { id: `${vnetId}/subnets/default` } }] }] },
      }, { updateIntervalInMs: 10 });
      await clients.compute.virtualMachines.beginDeallocateAndWait(group, 'twin', { updateIntervalInMs: 10 });
      sasOf[group] = (await clients.compute.disks.beginGrantAccessAndWait(group, 'twin-os', { access: 'Read', durationInSeconds: 600 }, { updateIntervalInMs: 10 })).accessSAS!;
    }
    const [a, b] = [sasOf['twin-disk-a']!, sasOf['twin-disk-b']!];
    expect(new URL(a).pathname).not.toBe(new URL(b).pathname);
    await clients.compute.disks.beginRevokeAccessAndWait('twin-disk-a', 'twin-os', { updateIntervalInMs: 10 });
    expect(await new BlobClient(a).exists()).toBe(false);
    expect(await new BlobClient(b).exists()).toBe(true);
    for (const group of ['twin-disk-a', 'twin-disk-b']) await clients.resources.resourceGroups.beginDeleteAndWait(group, { updateIntervalInMs: 10 });
  });
});

describe('Run Commands', () => {
  /** The Run Commands on the staging VM, by name. */
  async function runCommandNames(p: BakePlan): Promise<string[]> {
    const names: string[] = [];
    for await (const rc of clients.compute.virtualMachineRunCommands.listByVirtualMachine(p.staging.resourceGroupName, p.staging.vmName)) names.push(rc.name!);
    return names.sort();
  }
  const customizeNames = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `kiln-customize-${String(from + i).padStart(2, '0')}`);

  it('prunes the Run Command ten steps back from step 11 on, never one before, and a repeated begin prunes nothing more', async () => {
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['customize'] = Array.from({ length: 11 }, (_, i) => ({ type: 'Shell', name: `step-${i + 1}`, inline: [`echo step ${i + 1}`] }));
      delete t.properties['validate'];
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0012', spec);
    for (const index of spec.customizers.keys()) {
      if (index === 10) expect(await runCommandNames(p)).toEqual(customizeNames(1, 10));
      expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    }
    expect(await runCommandNames(p)).toEqual(customizeNames(2, 11));
    // An activity retried after its Run Command started finds it and neither runs the script again nor prunes again.
    sent.length = 0;
    expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index: 10, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    expect(sent.filter((w) => w.path.includes('/runCommands/'))).toEqual([]);
    expect(await runCommandNames(p)).toEqual(customizeNames(2, 11));
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });

  it('resumes a File step whose Run Command started without signing its upload again, even when the upload is gone since', async () => {
    const bytes = Buffer.from('#!/bin/sh\necho uploaded\n');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(await storeUpload(await openUploadsContainer(clients), sha256, bytes)).toMatchObject({ stored: true });
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['customize'] = [{ type: 'File', name: 'uploaded', sourceUri: uploadUri(sha256), destination: '/tmp/uploaded.sh' }];
      delete t.properties['validate'];
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0014', spec);
    expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index: 0, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    // The retried activity finds the Run Command before it would look for the upload (gone now) to sign it again.
    await clients.blobs.getContainerClient(UPLOADS_CONTAINER).deleteBlob(uploadBlobName(sha256));
    expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index: 0, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });

  it('makes the output blobs\' container when a storage account has none yet (the first step of a new account), and the whole output reaches the log', async () => {
    await clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).deleteIfExists();
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['customize'] = [{ type: 'Shell', name: 'first', inline: ['seq 1 1500'] }];
      delete t.properties['validate'];
    });
    const runId = 'ubuntu-web-20261125T131900Z-0015';
    const p = await staged(runId, spec);
    expect(await settle(beginCustomizer({ plan: p, spec, phase: 'customize', index: 0, limitMs: HOUR }))).toEqual({ state: 'Succeeded' });
    expect(await clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).exists()).toBe(true);
    const log = (await (await openRunStore(clients.blobs)).readLogs(runId)).map((l) => l.text).join('');
    // All of it (about 6.5 KB, more than the instance view's 4 KB tail): the agent wrote it to the blobs made here.
    expect(log).toMatch(/started\n1\n2\n3\n[\s\S]*\n1500\n/);
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });

  it('fails a step whose Run Command vanished while its script ran, without starting the script again', async () => {
    const spec = template('ubuntu-web.json', (t) => {
      t.properties['customize'] = [{ type: 'Shell', name: 'long-install', inline: ['echo installing', 'sleep 600'] }];
      delete t.properties['validate'];
    });
    const p = await staged('ubuntu-web-20261125T131900Z-0013', spec);
    const started = await beginCustomizer({ plan: p, spec, phase: 'customize', index: 0, limitMs: HOUR });
    if (started.state !== 'InProgress') throw new Error(`expected the step to run, found ${JSON.stringify(started)}`);
    expect(await pollOperation(started.operation)).toMatchObject({ state: 'InProgress' });

    // Someone (or something) deletes the Run Command under the running step.
    await clients.compute.virtualMachineRunCommands.beginDeleteAndWait(p.staging.resourceGroupName, p.staging.vmName, 'kiln-customize-01', { updateIntervalInMs: 10 });
    sent.length = 0;
    const status = await pollOperation(started.operation);
    expect(status).toMatchObject({ state: 'Failed', error: { code: 'RunCommandMissing', retryable: false, resourceId: `${p.staging.vmId}/runCommands/kiln-customize-01` } });
    const error = status.state === 'Failed' ? status.error : undefined;
    expect(error?.message).toContain('customize step "long-install": Run Command');
    expect(error?.message).toContain('no longer exists, so whether its script ran is unknown');
    // The look that found it gone sent nothing: no second run of a script that may have done half its work.
    expect(sent).toEqual([]);
    expect(await runCommandNames(p)).toEqual([]);
    expect(await settle(beginDeleteStagingGroup({ plan: p }))).toEqual({ state: 'Succeeded' });
  });
});
