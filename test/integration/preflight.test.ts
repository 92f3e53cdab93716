// Preflight and the region fixes against the seeded emulator: a template with four problems fails the plan step
// listing all four with nothing created; replicating again against Azure's display names sends nothing.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityEnvironment, setActivityEnvironment } from '../../src/activities/environment.ts';
import { planBake } from '../../src/activities/plan.ts';
import { preflight, preflightReport } from '../../src/activities/preflight.ts';
import { createAzureClients, type AzureClients } from '../../src/azure/clients.ts';
import type { KilnStepError } from '../../src/azure/errors.ts';
import { getImageVersion, startReplication } from '../../src/azure/galleries.ts';
import { loadConfig } from '../../src/config.ts';
import { parseTemplate } from '../../src/template/index.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { startAzureEmulator, type AzureEmulator } from '../../local/azure/index.ts';
import { localAzureSettings } from '../../local/default.ts';
import { loadPermissions, roleActions } from '../../tools/permissions-table.ts';

const SUB = '00000000-0000-0000-0000-000000000000';
const GALLERY = `/subscriptions/${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery`;
const SEEDED_VERSION = `${GALLERY}/images/ubuntu-web/versions/1.0.0`;

let home: string;
let emulator: AzureEmulator;
let clients: AzureClients;
const writes: Array<{ method: string; path: string }> = [];

const recorder: PipelinePolicy = {
  name: 'record-writes',
  async sendRequest(request, next) {
    if (request.method !== 'GET' && request.method !== 'HEAD') writes.push({ method: request.method, path: new URL(request.url).pathname });
    return next(request);
  },
};

function template(edit: (t: { location: string; properties: Record<string, unknown> }) => void = () => {}): BakeSpec {
  const json = JSON.parse(readFileSync(join('examples', 'ubuntu-web.json'), 'utf8'));
  edit(json);
  const parsed = parseTemplate(json);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

async function groupNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const group of clients.resources.resourceGroups.list()) names.push(group.name!);
  return names.sort();
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kiln-preflight-'));
  emulator = await startAzureEmulator({ home: join(home, 'azure'), profile: 'zero', seedFile: 'local/environment.json' });
  // No blob call is made here: the storage setting only has to parse.
  const config = loadConfig(localAzureSettings(emulator, 'UseDevelopmentStorage=true'));
  clients = createAzureClients(config, { additionalPolicies: [recorder] });
  setActivityEnvironment(createActivityEnvironment(config, clients));
});

afterAll(async () => {
  setActivityEnvironment(undefined);
  await emulator?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('preflight', () => {
  it('finds nothing wrong with the example', async () => {
    expect(await preflight(clients, template())).toEqual([]);
  });

  it('fails the plan step listing a bad vmSize, an unknown sku, a subnet in another region and a Windows source for a Linux definition, creating nothing', async () => {
    const parsed = parseTemplate(JSON.parse(readFileSync(join('test', 'fixtures', 'templates', 'preflight-four-problems.json'), 'utf8')));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const spec = parsed.spec;
    const groupsBefore = await groupNames();
    writes.length = 0;
    const started = Date.now();
    const out = await planBake({ runId: 'ubuntu-web-20261206T100000Z-0001', spec, now: '2026-12-06T10:00:00.000Z' });
    const elapsedMs = Date.now() - started;

    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error).toMatchObject({ code: 'PreflightFailed', retryable: false });
    const lines = out.error.message.split('\n').slice(1);
    expect(lines).toEqual([
      'properties.source: marketplace image MicrosoftWindowsServer:WindowsServer:2099-datacenter-imaginary:latest is not offered in eastus',
      'properties.vmProfile.vmSize: VM size Standard_Bogus_v9 is not offered in eastus',
      expect.stringMatching(/^properties\.vmProfile\.vnetConfig\.subnetId: subnet .*weu-build-vnet\/subnets\/build is in westeurope, the build VM is in eastus/),
      'properties.distribute[0].galleryImageId: the source is Windows, the image definition ubuntu-web is Linux',
    ]);
    expect(writes).toEqual([]);
    expect(await groupNames()).toEqual(groupsBefore);
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it('refuses a managed image outside the build region, a restricted size, a missing scale set and a region that does not exist', async () => {
    const spec = template((t) => {
      t.properties.vmProfile = { vmSize: 'Standard_NC6s_v3' };
      t.properties.distribute = [
        { type: 'ManagedImage', imageId: `/subscriptions/${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/images/far`, location: 'eastus', runOutputName: 'far' },
        { type: 'SharedImage', galleryImageId: `${GALLERY}/images/ubuntu-web`, runOutputName: 'web', targetRegions: [{ name: 'eastus' }, { name: 'Mars Central' }] },
      ];
      t.properties.rollout = [{ scaleSetId: `/subscriptions/${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/nope` }];
    });
    // Validation refuses this already; preflight checks it too, for a spec that did not come through validation.
    const managed = spec.distributions[0]!;
    if (managed.type === 'ManagedImage') managed.location = 'westus';
    const problems = await preflight(clients, spec);
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ['properties.vmProfile.vmSize', 'VmSizeRestricted'],
      ['properties.distribute[0].location', 'ManagedImageInOtherRegion'],
      ['properties.distribute[1].targetRegions[1].name', 'RegionNotFound'],
      ['properties.rollout[0].scaleSetId', 'ScaleSetNotFound'],
    ]);
    expect(problems[1]!.message).toMatch(/must be in its region eastus, found westus/);
  });

  it('lists every action Kiln\'s identity lacks, with scope and template path, as ARM reads wildcards and notActions', async () => {
    const scaleSet = `/subscriptions/${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss`;
    try {
      // One role with everything but version writes and scale sets (notActions, a wildcard among them).
      emulator.permissions.set([{ scope: `/subscriptions/${SUB}`, actions: ['*'], notActions: ['Microsoft.Compute/galleries/images/versions/write', 'Microsoft.Compute/virtualMachineScaleSets/*'] }]);
      const first = await preflightReport(clients, template());
      expect(first.skipped).toEqual([]);
      expect(first.problems.map((p) => [p.path, p.code, p.message.split(';')[0]!]).sort()).toEqual([
        ['properties.distribute[0].galleryImageId', 'PermissionMissing', `Kiln's identity does not hold Microsoft.Compute/galleries/images/versions/write at ${GALLERY}`],
        ...['read', 'write', 'manualUpgrade/action', 'osRollingUpgrade/action', 'rollingUpgrades/read', 'rollingUpgrades/cancel/action'].map((a) =>
          ['properties.rollout[0].scaleSetId', 'PermissionMissing', `Kiln's identity does not hold Microsoft.Compute/virtualMachineScaleSets/${a} at ${scaleSet}`]),
        ['properties.rollout[0].scaleSetId', 'PermissionMissing', `Kiln's identity does not hold Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read at ${scaleSet}`],
      ].sort());
      expect(first.problems.find((p) => p.path.startsWith('properties.distribute'))!.message).toMatch(/needed by compute\.galleryImageVersions\.createOrUpdate \(capture, replicate and promote the version\)/);

      // Another role at the scale set grants what the first one's notActions took away (ARM: notActions are per role).
      emulator.permissions.set([
        { scope: `/subscriptions/${SUB}`, actions: ['*'], notActions: ['Microsoft.Compute/galleries/images/versions/write', 'Microsoft.Compute/virtualMachineScaleSets/*'] },
        { scope: scaleSet, actions: ['Microsoft.Compute/virtualMachineScaleSets/*'] },
      ]);
      expect((await preflight(clients, template())).map((p) => p.path)).toEqual(['properties.distribute[0].galleryImageId']);

      // The plan step fails on it, naming the action, with nothing created.
      writes.length = 0;
      const out = await planBake({ runId: 'ubuntu-web-20261206T100000Z-0007', spec: template(), now: '2026-12-06T10:00:00.000Z' });
      expect(out).toMatchObject({ ok: false, error: { code: 'PreflightFailed', message: expect.stringContaining('Microsoft.Compute/galleries/images/versions/write') } });
      expect(writes).toEqual([]);
    } finally {
      emulator.permissions.set([{ scope: `/subscriptions/${SUB}`, actions: ['*'] }]);
    }
  });

  it('finds the roles infra assigns enough for the example bake', async () => {
    const infra = loadPermissions();
    const scaleSet = `/subscriptions/${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss`;
    // infra's scopes in the seeded subscription (stagingScope=subscription).
    const scopes: Record<string, string[]> = { subscription: [`/subscriptions/${SUB}`], staging: [`/subscriptions/${SUB}`], gallery: [GALLERY], scaleSet: [scaleSet], scaleSetGroup: [`/subscriptions/${SUB}/resourceGroups/web-prod`] };
    try {
      emulator.permissions.set(infra.assignments.flatMap((a) => (scopes[a.scope] ?? []).map((scope) => ({ scope, actions: roleActions(infra, a.role) }))));
      expect(await preflightReport(clients, template())).toEqual({ problems: [], skipped: [], notes: [] });
    } finally {
      emulator.permissions.set([{ scope: `/subscriptions/${SUB}`, actions: ['*'] }]);
    }
  });

  it('says the permission check was not made where ARM will not list permissions (403), and never reports it passed', async () => {
    try {
      // Everything a bake does, but not Microsoft.Authorization/*/read: ARM refuses the permissions read itself.
      emulator.permissions.set([{ scope: `/subscriptions/${SUB}`, actions: ['Microsoft.Compute/*', 'Microsoft.Network/*', 'Microsoft.Resources/*'] }]);
      const report = await preflightReport(clients, template());
      expect(report.problems).toEqual([]);
      expect(report.skipped).toEqual([
        expect.stringMatching(new RegExp(`^permissions at /subscriptions/${SUB} were not checked: ARM refused to list them \\(403\\)`)),
        expect.stringContaining(`permissions at ${GALLERY} were not checked`),
        expect.stringContaining('virtualMachineScaleSets/web-vmss were not checked'),
        expect.stringContaining('resourceGroups/web-prod were not checked'),
      ]);
      const out = await planBake({ runId: 'ubuntu-web-20261206T100000Z-0008', spec: template(), now: '2026-12-06T10:00:00.000Z' });
      expect(out).toMatchObject({ ok: true, value: { preflightNotes: report.skipped } });
    } finally {
      emulator.permissions.set([{ scope: `/subscriptions/${SUB}`, actions: ['*'] }]);
    }
  });

  it('lists a security type no build VM can satisfy, and builds Trusted Launch where every target takes it', async () => {
    const define = (name: string, value: string) => clients.compute.galleryImages.beginCreateOrUpdateAndWait('kiln-images', 'kilnGallery', name, {
      location: 'eastus', osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'kiln', offer: name, sku: 'test' }, features: [{ name: 'SecurityType', value }],
    }, { updateIntervalInMs: 10 });
    await define('tl-only', 'TrustedLaunch');
    await define('tl-supported', 'TrustedLaunchSupported');
    const target = (image: string, i: number) => ({ type: 'SharedImage', galleryImageId: `${GALLERY}/images/${image}`, runOutputName: `out${i}`, targetRegions: [{ name: 'eastus' }] });

    // A TrustedLaunch-only definition and a Standard one: Compute would refuse one of the two captures.
    const mixed = template((t) => { t.properties['distribute'] = [target('tl-only', 0), target('ubuntu-web', 1)]; delete t.properties['rollout']; });
    const problems = await preflight(clients, mixed);
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ['properties.distribute[0].galleryImageId', 'SecurityTypeMismatch'],
      ['properties.distribute[1].galleryImageId', 'SecurityTypeMismatch'],
    ]);
    expect(problems[0]!.message).toContain('image definition tl-only (SecurityType TrustedLaunch) takes TrustedLaunch; image definition ubuntu-web (SecurityType Standard) takes Standard');

    // A managed image is captured only from a Standard VM.
    const managed = template((t) => {
      t.properties['distribute'] = [target('tl-only', 0), { type: 'ManagedImage', imageId: `/subscriptions/${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/images/tl`, location: 'eastus', runOutputName: 'managed' }];
      delete t.properties['rollout'];
    });
    expect((await preflight(clients, managed)).map((p) => p.path)).toEqual(['properties.distribute[0].galleryImageId', 'properties.distribute[1]']);

    // TrustedLaunchSupported beside TrustedLaunch: the build VM is Trusted Launch, and the plan says so.
    const fits = template((t) => { t.properties['distribute'] = [target('tl-only', 0), target('tl-supported', 1)]; delete t.properties['rollout']; });
    expect(await preflight(clients, fits)).toEqual([]);
    const out = await planBake({ runId: 'ubuntu-web-20261206T100000Z-0009', spec: fits, now: '2026-12-06T10:00:00.000Z' });
    expect(out).toMatchObject({ ok: true, value: { build: { trustedLaunch: true, hyperVGeneration: 'V2' } } });
    // And a Standard target keeps the build Standard, as before.
    const standard = await planBake({ runId: 'ubuntu-web-20261206T100000Z-0010', spec: template(), now: '2026-12-06T10:00:00.000Z' });
    expect(standard).toMatchObject({ ok: true, value: { build: { trustedLaunch: false } } });
  });

  it('reads the source, scale sets and secrets while it waits for the regions, and plans with every read at once', async () => {
    const events: string[] = [];
    const timing: PipelinePolicy = {
      name: 'record-order',
      async sendRequest(request, next) {
        const path = new URL(request.url).pathname;
        events.push(`start ${path}`);
        try {
          return await next(request);
        } finally {
          events.push(`end ${path}`);
        }
      },
    };
    const config = loadConfig(localAzureSettings(emulator, 'UseDevelopmentStorage=true'));
    const timed = createAzureClients(config, { additionalPolicies: [timing] });
    expect(await preflight(timed, template())).toEqual([]);
    const regionsAnswered = events.findIndex((e) => /^end .*\/providers\/Microsoft\.Compute$/i.test(e));
    const before = events.slice(0, regionsAnswered).filter((e) => e.startsWith('start '));
    expect(before.some((e) => /\/virtualMachineScaleSets\//i.test(e))).toBe(true);
    expect(before.some((e) => /\/publishers\//i.test(e))).toBe(true);
  });

  it('refuses a build region Azure does not have', async () => {
    expect(await preflight(clients, template((t) => { t.location = 'mars'; }))).toEqual([
      { path: 'location', code: 'RegionNotFound', message: 'region mars does not exist or does not offer virtual machines' },
    ]);
  });
});

describe('replicate against display names', () => {
  it('sends one update for a new region and nothing when retried, although Azure answers "East US"', async () => {
    const regions = [
      { name: 'eastus', replicaCount: 1, storageAccountType: 'Standard_LRS' as const },
      { name: 'westeurope', replicaCount: 1, storageAccountType: 'Standard_LRS' as const },
      { name: 'westus2', replicaCount: 1, storageAccountType: 'Standard_LRS' as const },
    ];
    const seeded = await getImageVersion(clients, SEEDED_VERSION);
    expect(seeded?.publishingProfile?.targetRegions?.map((r) => r.name)).toEqual(['East US', 'West Europe']);

    writes.length = 0;
    expect(await startReplication(clients, SEEDED_VERSION, regions)).toBeDefined();
    expect(writes.filter((w) => w.method === 'PUT')).toHaveLength(1);

    writes.length = 0;
    expect(await startReplication(clients, SEEDED_VERSION, regions)).toBeUndefined();
    expect(writes).toEqual([]);
  });
});

describe('RBAC enforced by the emulator, from a narrowed seed', () => {
  it('refuses the write preflight said Kiln\'s identity may not make (403 AuthorizationFailed), and serves the reads', async () => {
    const dir = join(home, 'narrowed');
    mkdirSync(dir, { recursive: true });
    const seed = JSON.parse(readFileSync('local/environment.json', 'utf8'));
    seed.permissions = [{ scope: `/subscriptions/${SUB}`, actions: ['*'], notActions: ['Microsoft.Compute/galleries/images/versions/write'] }];
    writeFileSync(join(dir, 'seed.json'), JSON.stringify(seed));
    const narrowed = await startAzureEmulator({ home: join(dir, 'azure'), profile: 'zero', seedFile: join(dir, 'seed.json') });
    try {
      const narrowedClients = createAzureClients(loadConfig(localAzureSettings(narrowed, 'UseDevelopmentStorage=true')));
      const report = await preflightReport(narrowedClients, template());
      expect(report.problems.map((p) => [p.path, p.code, p.message.split(';')[0]!])).toEqual([
        ['properties.distribute[0].galleryImageId', 'PermissionMissing', `Kiln's identity does not hold Microsoft.Compute/galleries/images/versions/write at ${GALLERY}`],
      ]);
      // The seeded version reads; replicating it (a write of the version) is refused as preflight said.
      expect(await getImageVersion(narrowedClients, SEEDED_VERSION)).toBeDefined();
      const refused = await startReplication(narrowedClients, SEEDED_VERSION, [{ name: 'westus2', replicaCount: 1, storageAccountType: 'Standard_LRS' }])
        .then(() => undefined, (error: KilnStepError) => error);
      expect(refused).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed', retryable: false });
      expect(refused!.message).toContain(`does not have authorization to perform action 'Microsoft.Compute/galleries/images/versions/write' over scope '${SEEDED_VERSION}'`);
    } finally {
      await narrowed.close();
    }
  });
});
