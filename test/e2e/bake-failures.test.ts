/**
 * Bakes that go wrong on the local default (emulator profile `zero`): a failing customizer, injected Azure faults,
 * an unhealthy rollout, a cancel — each ends as it should and leaves no staging group behind — and a retry that
 * resumes a failed run from its captured image.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/runs/record.ts';
import { azureClients, imageVersions, properties, resourceGroupExists, stagingGroupName } from './bake-support.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, waitForStepRunning, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

beforeEach(() => env.local.emulator.faults.clear());

/** ubuntu-web with an extra first customizer. */
async function withFirstCustomizer(inline: string[]): Promise<Record<string, unknown>> {
  const template = await exampleTemplate('ubuntu-web', env.local);
  const props = properties(template);
  props.customize = [{ type: 'Shell', name: 'first', inline }, ...(props.customize as unknown[])];
  return template;
}

/** The image web-vmss's model points at. */
async function scaleSetImage(): Promise<string> {
  const scaleSet = await azureClients(env.local).compute.virtualMachineScaleSets.get('web-prod', 'web-vmss');
  return scaleSet.virtualMachineProfile!.storageProfile!.imageReference!.id!;
}

async function expectStagingGone(run: RunRecord): Promise<void> {
  expect(run.staging).toMatchObject({ state: 'Deleted' });
  expect(await resourceGroupExists(env.local, stagingGroupName(run.staging!.resourceGroupId))).toBe(false);
}

describe('bake failures on the local default', () => {
  it('fails naming the step, the exit code and the last output lines when a customizer exits 3', async () => {
    const template = await withFirstCustomizer(['echo preparing', 'echo "config missing" >&2', 'exit 3']);
    const { id } = await env.client.startBake(template);
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Failed');
    expect(run.error).toMatchObject({ step: 'customize', code: 'ScriptFailed', exitCode: 3 });
    expect(run.error!.message).toMatch(/customizer 1 'first' \(Shell\)/);
    expect(run.error!.lastLines!.join('\n')).toMatch(/config missing/);
    expect(run.steps.find((s) => s.name === 'customize')).toMatchObject({ status: 'Failed' });
    expect(run.steps.find((s) => s.name === 'capture')).toMatchObject({ status: 'Skipped' });
    await expectStagingGone(run);
  });

  it('survives a 429, a 500 and a failed long-running operation', async () => {
    const before = await imageVersions(env.local, 'ubuntu-web');
    env.local.emulator.faults.set([
      { match: { operation: 'resourceGroups.createOrUpdate' }, kind: 'throttle', retryAfterSeconds: 1, count: 1 },
      { match: { operation: 'virtualMachines.createOrUpdate' }, kind: 'error500', count: 1 },
      { match: { operation: 'galleryImageVersions.createOrUpdate' }, kind: 'lroFailed', count: 1 },
    ]);
    const { id } = await env.client.startBake(await exampleTemplate('ubuntu-web', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(env.local.emulator.faults.list().map((f) => f.fired)).toEqual([1, 1, 1]);
    // The capture whose operation failed was begun again (the failed version is replaced, not reused).
    expect(run.steps.find((s) => s.name === 'capture')!.attempts).toBe(2);
    expect(await imageVersions(env.local, 'ubuntu-web')).toEqual([...before, run.outputs.version].sort());
    await expectStagingGone(run);
  });

  it('rolls the scale set back to its previous version when upgraded instances turn unhealthy', async () => {
    // The emulator's health rule: an instance whose disk has this file reports Unhealthy.
    const template = await withFirstCustomizer(['mkdir -p /var/lib/kiln-health', 'touch /var/lib/kiln-health/unhealthy']);
    const previous = await scaleSetImage();
    const { id } = await env.client.startBake(template);
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Failed');
    expect(run.error).toMatchObject({ step: 'rollout', code: 'RolledBack' });
    expect(run.error!.message).toMatch(/above maxUnhealthyPercent 34/);
    expect(run.error!.message).toContain(`rolled back to ${previous}`);
    expect(await scaleSetImage()).toBe(previous);
    const scaleSet = run.outputs.scaleSets[0]!;
    expect(scaleSet).toMatchObject({ status: 'RolledBack', updated: 0, total: 3 });
    for (const instance of ['0', '1', '2']) {
      const disk = `${scaleSet.id}/virtualMachines/${instance}`;
      // Back on the previous image: the marker only the new image carries is gone.
      expect(await env.local.emulator.readDiskFile(disk, '/var/lib/kiln-health/unhealthy')).toBeUndefined();
    }
    await expectStagingGone(run);
  });

  it('ends Canceled and clean when canceled during customization', async () => {
    const template = await withFirstCustomizer(['echo started', 'sleep 30']);
    const { id } = await env.client.startBake(template);
    await waitForStepRunning(env.client, id, 'customize');
    const started = Date.now();
    await env.client.cancel(id);
    const run = await waitForEnd(env.client, id);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(run.status, describeRun(run)).toBe('Canceled');
    expect(run.error).toMatchObject({ step: 'customize', code: 'Canceled' });
    expect(run.steps.find((s) => s.name === 'capture')).toMatchObject({ status: 'Canceled' });
    expect(run.steps.find((s) => s.name === 'cleanup')).toMatchObject({ status: 'Succeeded' });
    await expectStagingGone(run);
  });

  it('retries a bake that failed in rollout from its captured image, without baking it again', async () => {
    const before = await imageVersions(env.local, 'ubuntu-web');
    // The first upgraded instance turns unhealthy once: the first run rolls back and fails after promote.
    env.local.emulator.faults.set([{ match: { pathContains: 'web-vmss' }, kind: 'unhealthy', count: 1 }]);
    const { id } = await env.client.startBake(await exampleTemplate('ubuntu-web', env.local));
    const failed = await waitForEnd(env.client, id);
    expect(failed.error, describeRun(failed)).toMatchObject({ step: 'rollout', code: 'RolledBack' });

    const retried = await env.client.retry(id);
    const run = await waitForEnd(env.client, retried.id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run).toMatchObject({ trigger: 'retry', resumeFrom: id, outputs: { version: failed.outputs.version } });
    for (const step of ['stage', 'customize', 'validate', 'generalize', 'capture', 'replicate', 'promote']) {
      expect(run.steps.find((s) => s.name === step)).toMatchObject({ status: 'Skipped', message: `reused from run ${id}` });
    }
    expect(run.outputs.scaleSets[0]).toMatchObject({ status: 'Succeeded', updated: 3, total: 3 });
    expect(await imageVersions(env.local, 'ubuntu-web')).toEqual([...before, failed.outputs.version].sort());
  });
});
