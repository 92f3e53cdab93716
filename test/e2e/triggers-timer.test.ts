import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { CronExpressionParser } from 'cron-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bumpPatch } from '../../src/pipeline/schedule.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { azureClients, resourceGroupExists } from './bake-support.ts';
import { describeRun, exampleTemplate, poll, startTestDefault, waitForEnd, waitForRun, type TestDefault } from './triggers-support.ts';

let env: TestDefault;
let containers: { templates: ContainerClient; schedules: ContainerClient };

beforeAll(async () => {
  env = await startTestDefault();
  const blobs = BlobServiceClient.fromConnectionString(env.local.blobConnectionString);
  containers = { templates: blobs.getContainerClient('templates'), schedules: blobs.getContainerClient('schedules') };
});

afterAll(async () => {
  await env?.close();
});

const PATCH_TICK_MS = 5 * 60_000;
const HOUR_MS = 60 * 60_000;

/** What the schedule timers keep for a template (src/api/schedule-state.ts); empty before any tick handled it. */
async function scheduleState(name: string): Promise<{ patchCheckedAt?: string; sourceVersion?: string }> {
  try {
    return JSON.parse((await containers.schedules.getBlobClient(`${name}.json`).downloadToBuffer()).toString('utf8')) as { patchCheckedAt?: string };
  } catch {
    return {};
  }
}

async function patchCheckedAt(name: string): Promise<string | undefined> {
  return (await scheduleState(name)).patchCheckedAt;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  await poll(what, 30_000, async () => ((await check()) ? true : undefined), 100);
}

/** Stores the template under `name` (the blob trigger then bakes it) and returns that first bake once it ended. */
async function firstBake(name: string, template: Record<string, unknown>): Promise<RunRecord> {
  const body = JSON.stringify(template);
  await containers.templates.getBlockBlobClient(`${name}.json`).upload(body, body.length);
  return waitForEnd(env.client, (await waitForRun(env.client, (r) => r.templateName === name)).id);
}

/** The runs the timers started for a template. */
async function timerRuns(name: string): Promise<RunRecord[]> {
  return (await env.client.listRuns<RunRecord>({ limit: 100 })).items.filter((r) => r.templateName === name && r.trigger === 'timer');
}

const PATCH_LOG = '/var/log/kiln-patch.log';

/**
 * A Shell step that puts an `apt-get` first on the guest's PATH (/usr/local/sbin, as the emulator's Run Command
 * PATH has it) which records its arguments in PATCH_LOG and succeeds, as an air-gapped mirror setup would: the
 * patch rebuild's apt step then runs offline and in seconds, and the log shows what it ran.
 */
const offlineAptStep = {
  type: 'Shell',
  name: 'offline-apt',
  inline: [
    'mkdir -p /usr/local/sbin',
    "cat > /usr/local/sbin/apt-get <<'EOF'",
    '#!/bin/sh',
    `printf '%s\\n' "$*" >> ${PATCH_LOG}`,
    'exit 0',
    'EOF',
    'chmod 755 /usr/local/sbin/apt-get',
  ],
};

/** The gallery version an instance of web-vmss runs, and what the apt-get stand-in recorded on its disk. */
async function webInstance(instanceId: string): Promise<{ version?: string; patchLog?: string }> {
  const { compute } = azureClients(env.local);
  const instance = await compute.virtualMachineScaleSetVMs.get('web-prod', 'web-vmss', instanceId);
  return {
    version: instance.storageProfile?.imageReference?.exactVersion,
    patchLog: (await env.local.emulator.readDiskFile(instance.id!, PATCH_LOG))?.toString('utf8'),
  };
}

// The patch step runs for real in the emulator's guest sandbox, against the image's own apt-get: here the offline
// stand-in the template's first bake installs. (Windows images, whose guests the emulator simulates, fail at
// WindowsRestart for now.)
describe('timer trigger: patch rebuild', () => {
  it('at the template schedule, rebuilds from the latest gallery version with the OS patch step and the next patch version', async () => {
    const clock = env.local.host!.clock;
    const template = await exampleTemplate('ubuntu-web', env.local);
    const properties = template.properties as Record<string, unknown>;
    properties.schedule = { patch: '0 0 3 * * 0' };
    properties.customize = [offlineAptStep, ...(properties.customize as unknown[])];

    const first = await firstBake('patched-web', template);
    expect(first.status, describeRun(first)).toBe('Succeeded');
    const baked = first.outputs.version!;
    // The scale set runs the first bake, and nothing has called the stand-in yet.
    expect(await webInstance('0')).toEqual({ version: baked, patchLog: undefined });

    // Skip the host clock past next Sunday 03:00 UTC. The patch timer's first tick after the skip stands for the
    // occurrence it missed; the one after it stands for the skipped-to time and finds the schedule due.
    const sunday = CronExpressionParser.parse('0 0 3 * * 0', { tz: 'UTC', currentDate: new Date(clock.now()) }).next().getTime();
    const before = await patchCheckedAt('patched-web');
    await clock.advance(sunday - clock.now() + 60_000);
    await until('the catch-up tick', async () => (await patchCheckedAt('patched-web')) !== before);
    // The host arms the next occurrence once the handler has returned.
    await env.local.host!.whenIdle();
    await clock.advance(PATCH_TICK_MS);

    const patch = await waitForRun(env.client, (r) => r.templateName === 'patched-web' && r.trigger === 'timer');
    const run = await waitForEnd(env.client, patch.id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run.spec!.source).toMatchObject({ type: 'SharedImageVersion', version: baked });
    expect(run.spec!.customizers.map((c) => c.name)).toEqual(['patch (apt)']);
    expect(run.outputs.version).toBe(bumpPatch(baked));
    expect(run.outputs.scaleSets).toEqual([expect.objectContaining({ status: 'Succeeded' })]);
    // Every instance now runs the new version, whose disk shows the patch step refreshed the package lists, then upgraded.
    for (const instanceId of ['0', '1', '2']) {
      expect(await webInstance(instanceId)).toEqual({
        version: bumpPatch(baked),
        patchLog: 'update\n-y -o Dpkg::Options::=--force-confold upgrade\n',
      });
    }

    // Until the next Sunday nothing more is due.
    await clock.advance(PATCH_TICK_MS);
    await env.local.host!.whenIdle();
    expect(await timerRuns('patched-web')).toHaveLength(1);
  });
});

describe('timer trigger: source update', () => {
  it('when the marketplace publishes a newer source version, rebuilds the template pinned to it', async () => {
    const clock = env.local.host!.clock;
    const template = await exampleTemplate('ubuntu-web', env.local);
    const properties = template.properties as Record<string, unknown>;
    properties.schedule = { onSourceUpdate: true };
    const first = await firstBake('fresh-web', template);
    expect(first.status, describeRun(first)).toBe('Succeeded');

    // A stored blob that is not a template must not stop the timer looking at the others.
    await containers.templates.getBlockBlobClient('not-json.json').upload('{oops', 5);

    // The first hourly look records the version the template's own bake used.
    await clock.advance(HOUR_MS);
    await until('the baseline', async () => (await scheduleState('fresh-web')).sourceVersion !== undefined);
    await env.local.host!.whenIdle();
    const baseline = (await scheduleState('fresh-web')).sourceVersion!;

    const newer = `${baseline.split('.').slice(0, -1).join('.')}.${Number(baseline.split('.').at(-1)) + 1}`;
    env.local.emulator.marketplace.publish({ publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server' }, newer);

    await clock.advance(HOUR_MS);
    const rebuilt = await waitForRun(env.client, (r) => r.templateName === 'fresh-web' && r.trigger === 'timer');
    const run = await waitForEnd(env.client, rebuilt.id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run.spec!.source).toMatchObject({ type: 'PlatformImage', version: newer });
    expect(run.outputs.sourceVersion).toBe(newer);

    // Nothing newer: the next look starts nothing.
    await clock.advance(HOUR_MS);
    await until('the next look', async () => (await scheduleState('fresh-web')).sourceVersion === newer);
    await env.local.host!.whenIdle();
    expect(await timerRuns('fresh-web')).toHaveLength(1);
  });
});

describe('timer trigger: janitor', () => {
  it('deletes the Kiln staging groups whose expiry has passed and leaves every other group', async () => {
    const { resources } = azureClients(env.local);
    const group = (tags: Record<string, string>) => ({ location: 'eastus', tags });
    const past = new Date(Date.now() - 60_000).toISOString();
    await resources.resourceGroups.createOrUpdate('kiln-staging-expired', group({ 'kiln-managed': 'true', 'kiln-expires-at': past }));
    await resources.resourceGroups.createOrUpdate('kiln-staging-alive', group({ 'kiln-managed': 'true', 'kiln-expires-at': new Date(Date.now() + 365 * 24 * HOUR_MS).toISOString() }));
    await resources.resourceGroups.createOrUpdate('someone-elses', group({ 'kiln-expires-at': past }));

    // The janitor runs every 30 minutes of the host's clock.
    await env.local.host!.clock.advance(30 * 60_000);
    await until('the expired group to go', async () => !(await resourceGroupExists(env.local, 'kiln-staging-expired')));
    expect(await resourceGroupExists(env.local, 'kiln-staging-alive')).toBe(true);
    expect(await resourceGroupExists(env.local, 'someone-elses')).toBe(true);
  });
});
